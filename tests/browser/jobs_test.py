"""The dashboard's jobs and executions flows in a real Chromium against a real `sluice dev`:
signing in (a wrong token answered in place, the token kept in sessionStorage only), triggering
a job with an env override from the Jobs page and watching its log grow until SUCCESS, aborting
a slow job through the confirmation dialog, a disallowed override answered with the API's 400
message in place, and a client restricted by allow_jobs seeing only its jobs and executions.
"""

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser_harness import (DEV_TOKEN, JOB_SECONDS, RESTRICTED_TOKEN, BrowserTest, main)

TERMINAL = ("SUCCESS", "FAILURE", "ABORTED", "ERROR")


class JobsAndExecutions(BrowserTest):
    def open_trigger_form(self, job):
        self.go("#/jobs")
        section = self.wait_css(f'section[data-job="{job}"]', f"the Jobs page's section of {job}")
        section.find_element(By.CSS_SELECTOR, "[data-test=open-trigger]").click()
        return self.wait_css("form[data-test=trigger-form]", f"the trigger form of {job}")

    def test_sign_in_keeps_the_token_in_the_session_only(self):
        self.go("#/jobs")
        self.driver.execute_script("sessionStorage.clear()")
        self.go("#/jobs")
        self.driver.refresh()
        self.wait_css("form[data-test=sign-in]", "the sign-in form on a route before signing in")
        label = self.css('label[for="token"]')
        self.assertTrue(label and label[0].text.strip() == "Token", "a label Token for #token")
        self.assertEqual(self.css("#token")[0].get_attribute("type"), "password")

        status, refused, _ = self.api("GET", "/v1/executions?page_size=1", token="not-a-token")
        self.assertEqual(status, 401, refused)
        shown = self.sign_in("not-a-token", expect_error=True)
        self.assertEqual(shown.strip(), refused["message"], "the API's 401 message, in place")
        self.assertEqual(self.css("[data-test=form-error]")[0].get_attribute("role"), "alert")

        self.sign_in(DEV_TOKEN)
        header = self.driver.find_element(By.TAG_NAME, "header").text
        self.assertIn("dev", header, "the header names the signed-in client")
        for link in ("Executions", "Jobs", "Pipelines", "Deliveries", "Health"):
            self.assertTrue(self.driver.find_elements(By.LINK_TEXT, link), f"a nav link {link}")
        kept = self.driver.execute_script("""return {
            session: sessionStorage.getItem('sluice.token'), cookie: document.cookie,
            local: Object.keys(localStorage).map(k => localStorage.getItem(k)).join(' ')}""")
        self.assertEqual(kept["session"], DEV_TOKEN)
        self.assertNotIn(DEV_TOKEN, kept["cookie"])
        self.assertNotIn(DEV_TOKEN, kept["local"])
        self.assertNotIn(DEV_TOKEN, self.driver.current_url)

        self.sign_out()
        self.assertIsNone(self.driver.execute_script("return sessionStorage.getItem('sluice.token')"))

    def test_trigger_with_override_and_watch_the_log_live(self):
        self.signed_in_as(DEV_TOKEN)
        greeting = "hello from the browser tier"
        form = self.open_trigger_form("browser-live")
        self.set_pair(form, "env-key", "env-value", "[data-test=add-env]", "GREETING", greeting)
        form.find_element(By.CSS_SELECTOR, "[data-test=trigger]").click()
        match = self.wait_route(r"/executions/([0-9a-f-]+)", "the new execution's page")
        execution_id = match.group(1)

        # The log grows while the job runs (PENDING, Prow's running): its first line is shown
        # before the job ends.
        def first_line_while_running(driver):
            logs = driver.find_elements(By.CSS_SELECTOR, "pre[data-test=log]")
            state = driver.find_elements(By.CSS_SELECTOR, "[data-test=execution-status]")
            if not logs or not state:
                return False
            status = self.shown_status(state[0])[1]
            if status in TERMINAL:
                raise AssertionError(f"the execution ended ({status}) before its log was seen "
                                     f"growing; log: {logs[0].text!r}")
            return status == "PENDING" and f"greeting: {greeting}" in logs[0].text \
                and "finished" not in logs[0].text
        self.wait_for("the log's first line while the job runs", first_line_while_running,
                      JOB_SECONDS)
        self.wait_status("[data-test=execution-status]", "SUCCESS")
        log = self.wait_for("the whole log", lambda d: (lambda t: "finished" in t and t)(
            d.find_element(By.CSS_SELECTOR, "pre[data-test=log]").text))
        self.assertIn("step 5", log)
        self.assertEqual(self.css("[data-test=execution-status]")[0].text.strip().upper(),
                         "SUCCESS", "the status in text as well as colour")
        fields = self.wait_css("dl[data-test=fields]").text
        self.assertIn("browser-live", fields)
        self.assertIn(greeting, fields, "the override is among the execution's fields")
        self.assertFalse(self.css("[data-test=abort]"), "no abort on an ended execution")
        timeline = self.css("ol[data-test=timeline] li")
        self.assertGreaterEqual(len(timeline), 2, "a timeline of its status changes")

        _, execution, _ = self.api("GET", f"/v1/executions/{execution_id}")
        self.assertEqual(execution["job_status"], "SUCCESS")
        self.assertEqual(execution["pod_spec_options"]["envs"].get("GREETING"), greeting)

        # Run again opens the trigger form holding the same override.
        self.wait_css("[data-test=run-again]", "the Run again button").click()
        form = self.wait_css("form[data-test=trigger-form]", "the trigger form of Run again")
        pairs = {k.get_attribute("value"): v.get_attribute("value") for k, v in zip(
            self.css("[name=env-key]", form), self.css("[name=env-value]", form))}
        self.assertEqual(pairs.get("GREETING"), greeting, "Run again keeps the override")

    def test_executions_page_updates_live(self):
        self.signed_in_as(DEV_TOKEN)
        self.go("#/executions")
        self.wait_css("table[data-test=executions]", "the Executions page")
        self.driver.execute_script("window.sluiceNotReloaded = true")
        execution_id = self.trigger("browser-hostile-log")
        row = f'table[data-test=executions] tr[data-id="{execution_id}"]'
        self.wait_css(row, "the new execution's row, without a reload")
        self.wait_status(f"{row} .status", "SUCCESS")
        first = self.css("table[data-test=executions] tr[data-id]")[0].get_attribute("data-id")
        self.assertEqual(first, execution_id, "the new execution is on top")
        self.assertTrue(self.driver.execute_script("return window.sluiceNotReloaded === true"),
                        "the page was reloaded")

    def test_filter_executions_by_job(self):
        self.signed_in_as(DEV_TOKEN)
        wanted = self.trigger("browser-hostile-log")
        other = self.trigger("periodic-to-trigger")
        self.go("#/executions")
        self.wait_css(f'table[data-test=executions] tr[data-id="{other}"]', "the other job's row")
        form = self.wait_css("form[data-test=filters]", "the filters")
        field = form.find_element(By.CSS_SELECTOR, "[name=job_name]")
        if field.tag_name == "select":
            Select(field).select_by_value("browser-hostile-log")
        else:
            self.type_into(field, "browser-hostile-log")
        buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
        if buttons:
            buttons[0].click()
        self.wait_route(r"/executions\?(.*&)?job_name=browser-hostile-log(&.*)?",
                        "the filter in the route")

        def only_wanted_job(driver):
            rows = {r.get_attribute("data-id") for r in driver.find_elements(
                By.CSS_SELECTOR, "table[data-test=executions] tr[data-id]")}
            return wanted in rows and other not in rows and rows
        rows = self.wait_for("only browser-hostile-log's rows", only_wanted_job)
        _, listed, _ = self.api("GET", "/v1/executions?job_name=browser-hostile-log&page_size=100")
        self.assertLessEqual(rows, {e["id"] for e in listed["job_execution"]})

    def test_abort_a_slow_job_after_confirming(self):
        self.signed_in_as(DEV_TOKEN)
        execution_id = self.trigger("periodic-slow")
        self.go(f"#/executions/{execution_id}")
        self.wait_status("[data-test=execution-status]", "PENDING")  # Prow's running
        self.wait_for("the log's first tick", lambda d: "tick 1" in d.find_element(
            By.CSS_SELECTOR, "pre[data-test=log]").text, JOB_SECONDS)

        # Cancel leaves it running.
        self.wait_css("[data-test=abort]", "the abort button of a running execution").click()
        dialog = self.wait_css("dialog[data-test=confirm-dialog]", "the confirmation dialog")
        dialog.find_element(By.CSS_SELECTOR, "[data-test=cancel]").click()
        self.wait_gone("dialog[data-test=confirm-dialog]", "the dialog closed by Cancel")
        _, execution, _ = self.api("GET", f"/v1/executions/{execution_id}")
        self.assertEqual(execution["job_status"], "PENDING", "Cancel did not abort")

        self.css("[data-test=abort]")[0].click()
        dialog = self.wait_css("dialog[data-test=confirm-dialog]", "the confirmation dialog")
        dialog.find_element(By.CSS_SELECTOR, "[data-test=confirm]").click()
        self.wait_status("[data-test=execution-status]", "ABORTED")
        self.wait_gone("[data-test=abort]", "no abort button once aborted")
        self.assertEqual(self.wait_execution(execution_id, TERMINAL)["job_status"], "ABORTED")

    def test_disallowed_override_shows_the_api_message_in_place(self):
        self.signed_in_as(DEV_TOKEN)
        body = {"job_name": "browser-live", "job_execution_type": "1",
                "pod_spec_options": {"envs": {"NOT_ALLOWED": "x"}}}
        status, refused, _ = self.api("POST", "/v1/executions", body=body)
        self.assertEqual(status, 400, refused)

        form = self.open_trigger_form("browser-live")
        self.set_pair(form, "env-key", "env-value", "[data-test=add-env]", "NOT_ALLOWED", "x")
        form.find_element(By.CSS_SELECTOR, "[data-test=trigger]").click()
        error = self.wait_for("the API's message in the form", lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR,
                                        "form[data-test=trigger-form] [data-test=form-error]")
             if e.is_displayed() and e.text.strip()), False))
        self.assertEqual(error.text.strip(), refused["message"])
        self.assertEqual(error.get_attribute("role"), "alert")
        self.assertFalse(re.fullmatch(r"/executions/.+", self.hash_route()),
                         "no navigation to an execution")
        self.assertTrue(self.css("form[data-test=trigger-form]")[0].is_displayed(),
                        "the form stays, to be corrected")

    def test_restricted_client_sees_only_its_jobs(self):
        mine = self.trigger("periodic-to-trigger")
        others = [self.trigger("browser-hostile-log")]
        self.signed_in_as(RESTRICTED_TOKEN)

        status, listed, _ = self.api("GET", "/v1/jobs", token=RESTRICTED_TOKEN)
        self.go("#/jobs")
        self.wait_css('section[data-job="periodic-to-trigger"]', "the restricted client's job")
        shown = {s.get_attribute("data-job") for s in self.css("section[data-job]")}
        self.assertEqual(shown, {"periodic-to-trigger"}, "the Jobs page lists only its job")
        if status == 200:
            self.assertEqual({j["name"] for j in listed["jobs"]}, shown)

        self.go("#/executions")
        self.wait_css(f'table[data-test=executions] tr[data-id="{mine}"]',
                      "its own execution on the Executions page")
        rows = {r.get_attribute("data-id") for r in self.css("table[data-test=executions] tr[data-id]")}
        self.assertFalse(rows & set(others), "an execution of a job it may not trigger is shown")
        _, visible, _ = self.api("GET", "/v1/executions?page_size=100", token=RESTRICTED_TOKEN)
        allowed = {e["id"] for e in visible["job_execution"]}
        self.assertLessEqual(rows, allowed, "every row is one the API lets it read")
        for row in self.css("table[data-test=executions] tr[data-id]"):
            self.assertNotIn("browser-", row.text)
            self.assertNotIn("periodic-slow", row.text)
        header = self.driver.find_element(By.TAG_NAME, "header").text
        self.assertIn("restricted", header)
        self.sign_out()


if __name__ == "__main__":
    main()
