"""The dashboard's GitLab-style pipelines and webhook deliveries in a real Chromium against a
real `sluice dev`: a pipeline triggered over HTTP with a trigger token (README's GitLab
section), its manual job played from the pipeline page with a variable and seen to run; a
signed push to a branch no job builds (README's Webhooks section), and why it triggered nothing
found on the Deliveries page; a push whose fields hold HTML shown as text there and in the
dry-run form's answer.
"""

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser_harness import (DEV_TOKEN, JOB_SECONDS, BrowserTest, main, signed_github_push,
                             wait_until)

PROJECT = 9
POSTSUBMIT = "branch-ci-openshift-assisted-installer-release-4.12-images"
HTML_PUSHER = '<img src=x id=sluice-xss-pusher onerror="alert(3)"><b>mallory</b>'


def delivery_row(delivery_id, host="github"):
    """The Deliveries table's row of a delivery, whichever id form data-delivery holds."""
    return (f'table[data-test=deliveries] tr[data-delivery="{delivery_id}"], '
            f'table[data-test=deliveries] tr[data-delivery="{host}/{delivery_id}"]')


class PipelinesAndDeliveries(BrowserTest):
    def setUp(self):
        self.signed_in_as(DEV_TOKEN)

    def pipeline_job(self, pipeline_id, name):
        _, jobs, _ = self.api("GET", f"/api/v4/projects/{PROJECT}/pipelines/{pipeline_id}/jobs")
        return next((j for j in jobs if j["name"] == name), None) if isinstance(jobs, list) else None

    def test_play_the_manual_job_with_a_variable(self):
        pipeline_id = self.trigger_pipeline(ref="main")
        self.go("#/pipelines")
        self.wait_css(f'table[data-test=pipelines] tr[data-pipeline="{pipeline_id}"]',
                      "the new pipeline on the Pipelines page")

        self.go(f"#/projects/{PROJECT}/pipelines/{pipeline_id}")
        self.wait_css('section[data-stage="package"]', "the pipeline page's stages")
        stages = [s.get_attribute("data-stage") for s in self.css("section[data-stage]")]
        self.assertEqual(stages, ["test", "build", "package"], "stages in the pipeline's order")
        for stage, job in (("test", "run_tests"), ("build", "build_package")):
            self.wait_status(f'section[data-stage="{stage}"] [data-job="{job}"] .status',
                             "success", JOB_SECONDS)
        upload = '[data-job="upload_package"]'
        manual = self.wait_status(f"{upload} .status", "manual", JOB_SECONDS)
        self.assertEqual(manual.text.strip().lower(), "manual", "the status in text too")

        self.css(f"{upload} [data-test=play]")[0].click()
        form = self.wait_css("form[data-test=variables-form]", "the variables form of play")
        self.set_pair(form, "var-key", "var-value", "[data-test=add-var]", "UPLOAD_TO_S3",
                      "from-the-browser")
        form.find_element(By.CSS_SELECTOR, "[data-test=run-job]").click()
        self.wait_status(f"{upload} .status", ("pending", "running", "success"), JOB_SECONDS)
        self.wait_status(f"{upload} .status", "success", JOB_SECONDS)

        job = self.pipeline_job(pipeline_id, "upload_package")
        _, trace, _ = self.api("GET", f"/api/v4/projects/{PROJECT}/jobs/{job['id']}/trace")
        self.assertIn("uploading to S3 (UPLOAD_TO_S3=from-the-browser)", trace,
                      "the played job ran with the form's variable")

    def test_retry_a_finished_job_with_other_variables(self):
        pipeline_id = self.trigger_pipeline(ref="main")
        self.go(f"#/projects/{PROJECT}/pipelines/{pipeline_id}")
        tests = '[data-job="run_tests"]'
        self.wait_status(f"{tests} .status", "success", JOB_SECONDS)
        first = self.pipeline_job(pipeline_id, "run_tests")["id"]

        self.wait_css(f"{tests} [data-test=retry]", "run_tests' retry button").click()
        form = self.wait_css("form[data-test=variables-form]", "the variables form of retry")
        self.set_pair(form, "var-key", "var-value", "[data-test=add-var]", "DEPLOY_ENV",
                      "from-the-retry")
        form.find_element(By.CSS_SELECTOR, "[data-test=run-job]").click()

        def retried():
            job = self.pipeline_job(pipeline_id, "run_tests")
            return job if job and job["id"] != first and job["status"] == "success" else None
        job = wait_until("run_tests retried and ended", retried, lambda job: job)
        self.wait_status(f"{tests} .status", "success", JOB_SECONDS)
        _, trace, _ = self.api("GET", f"/api/v4/projects/{PROJECT}/jobs/{job['id']}/trace")
        self.assertIn("for from-the-retry", trace, "the retry ran with the form's variable")

    def test_find_why_a_push_triggered_nothing(self):
        delivery = "browser-push-to-master"
        status, answer, _ = signed_github_push(self.dev.url, delivery, "master")
        self.assertEqual(status, 202, answer)
        self.assertEqual(answer["outcome"], "matched no job")
        reason = next(m["reason"] for m in answer["not_matched"] if m["job"] == POSTSUBMIT)

        self.go("#/deliveries")
        row = self.wait_css(delivery_row(delivery), "the push on the Deliveries page")
        self.assertIn("master", row.text)
        links = row.find_elements(By.CSS_SELECTOR, "a[href]")
        self.assertTrue(links, "the row links to the delivery's page")
        links[0].click()
        self.wait_route(r"/deliveries/github/" + delivery, "the delivery's page")
        match = self.wait_css(f'[data-test=match][data-job="{POSTSUBMIT}"]',
                              "the postsubmit's match on the delivery's page")
        self.assertIn("not matched", match.text)
        self.assertIn(reason, match.text, "the reason, as the API gives it")

    def test_html_in_a_push_is_shown_as_text(self):
        delivery = "browser-push-with-html"
        status, answer, _ = signed_github_push(self.dev.url, delivery, "feature/x",
                                               pusher=HTML_PUSHER)
        self.assertEqual(status, 202, answer)
        self.go(f"#/deliveries/github/{delivery}")
        self.wait_css(f'[data-test=match][data-job="{POSTSUBMIT}"]', "the delivery's page")
        self.wait_for("the pusher's name, as text", lambda d: HTML_PUSHER in d.find_element(
            By.TAG_NAME, "body").text)
        self.assert_markup_inert()
        payload = self.css("pre[data-test=payload]")
        if payload:
            self.assertFalse(self.css("pre[data-test=payload] *"), "the payload is text only")

        # The dry-run form answers with what would trigger, also as text.
        self.go("#/deliveries")
        form = self.wait_css("form[data-test=dry-run]", "the admin's dry-run form")
        Select(form.find_element(By.CSS_SELECTOR, "select[name=host]")).select_by_value("github")
        event = Select(form.find_element(By.CSS_SELECTOR, "select[name=event]"))
        push = [o.get_attribute("value") for o in event.options if "push" in
                (o.get_attribute("value") or "").lower() and "tag" not in
                (o.get_attribute("value") or "").lower()]
        self.assertTrue(push, "a push event to pick")
        event.select_by_value(push[0])
        payload = {"ref": "refs/heads/release-4.12",
                   "after": "a336f38f75f91a876313daacbf097f25dfe21bbf",
                   "repository": {"full_name": "openshift/assisted-installer"},
                   "pusher": {"name": HTML_PUSHER}}
        text = form.find_element(By.CSS_SELECTOR, "textarea[name=payload]")
        text.clear()
        # A paste, not keystrokes: send_keys of a long JSON is slow and may be auto-closed.
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            text, json.dumps(payload))
        self.submit_button(form).click()
        result = self.wait_for("the dry run's answer", lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, "[data-test=dry-run-result]")
             if POSTSUBMIT in e.text), False))
        self.assertIn(POSTSUBMIT, result.text)
        self.assert_markup_inert()
        # The dry run stored and triggered nothing.
        _, events, _ = self.api("GET", "/v1/events")
        self.assertEqual(sum(1 for e in events["events"] if e["delivery_id"] == delivery), 1)

    def assert_markup_inert(self):
        created = self.driver.execute_script(
            "return [...document.querySelectorAll('#sluice-xss-pusher, b')]"
            ".filter(e => e.id || e.textContent === 'mallory').map(e => e.outerHTML)")
        self.assertEqual(created, [], "markup from the payload became elements")
        self.assert_no_alert()

if __name__ == "__main__":
    main()
