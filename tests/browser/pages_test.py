"""Every page of the dashboard in a real Chromium against a real `sluice dev`: an axe-core scan
of each, in the light and the dark theme (no serious or critical violation), a screenshot of
each in both themes (SLUICE_SCREENSHOT_DIR), no Content-Security-Policy violation or script
error in the console; a job log holding <script> shown as text; and, measured for the record and
never asserted, the bytes of a cold load of the executions page and the time until it is usable.
"""

import json
import os
import time

from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser_harness import (DEV_TOKEN, BrowserTest, HOSTILE_LOG_LINES, main,
                             signed_github_push, wait_until)

PROJECT = 9
DELIVERY = "browser-pages-push"
POSTSUBMIT = "branch-ci-openshift-assisted-installer-release-4.12-images"
TERMINAL = ("SUCCESS", "FAILURE", "ABORTED", "ERROR")

# Set up by a new-document script before the page's own: the moment a row of the executions
# table first exists, in the page's performance.now() time.
USABLE_OBSERVER = """
(() => {
  const row = 'table[data-test=executions] tr[data-id]';
  const seen = () => {
    if (window.sluiceUsableAt === undefined && document.querySelector(row)) {
      window.sluiceUsableAt = performance.now();
    }
    return window.sluiceUsableAt !== undefined;
  };
  const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
  observer.observe(document, {childList: true, subtree: true});
})();
"""


class Pages(BrowserTest):
    performance_log = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finished = None  # the data every page shows, made once by the first test needing it

    def ensure_data(self):
        """An ended execution of each kind of log, a pipeline waiting on its manual job and a
        delivery: what the pages show. Made once, over HTTP."""
        if type(self).finished:
            return type(self).finished
        ok = self.trigger("periodic-to-trigger")
        hostile = self.trigger("browser-hostile-log")
        pipeline = self.trigger_pipeline(ref="main")
        status, answer, _ = signed_github_push(self.dev.url, DELIVERY, "release-4.12")
        self.assertEqual(status, 202, answer)
        for execution_id in (ok, hostile):
            self.wait_execution(execution_id, TERMINAL)
        wait_until(f"pipeline {pipeline}'s manual job waiting",
                   lambda: self.api("GET", f"/api/v4/projects/{PROJECT}/pipelines/{pipeline}/jobs")[1],
                   lambda jobs: isinstance(jobs, list) and any(
                       j["name"] == "upload_package" and j["status"] == "manual" for j in jobs))
        type(self).finished = {"ok": ok, "hostile": hostile, "pipeline": pipeline}
        return type(self).finished

    def pages(self, data):
        """(name, route, what shows the page is ready, an action after it or None)."""
        def open_trigger():
            self.css('section[data-job="browser-live"] [data-test=open-trigger]')[0].click()
            self.wait_css("form[data-test=trigger-form]", "the trigger form")

        def open_play():
            self.css('[data-job="upload_package"] [data-test=play]')[0].click()
            self.wait_css("form[data-test=variables-form]", "the variables form")
        execution = f"#/executions/{data['ok']}"
        pipeline = f"#/projects/{PROJECT}/pipelines/{data['pipeline']}"
        return [
            ("executions", "#/executions", "table[data-test=executions] tr[data-id]", None),
            ("execution", execution, "[data-test=execution-status][data-status=SUCCESS], "
             "[data-test=execution-status] .status[data-status=SUCCESS]", None),
            ("jobs", "#/jobs", "section[data-job] svg[data-test=sparkline]", None),
            ("trigger-form", "#/jobs", 'section[data-job="browser-live"]', open_trigger),
            ("job", "#/jobs/browser-live", "form[data-test=trigger-form], [data-job=browser-live]",
             None),
            ("pipelines", "#/pipelines", "table[data-test=pipelines] tr[data-pipeline]", None),
            ("pipeline", pipeline, '[data-job="upload_package"] .status[data-status=manual]', None),
            ("pipeline-play", pipeline, '[data-job="upload_package"] [data-test=play]', open_play),
            ("deliveries", "#/deliveries", "table[data-test=deliveries] tr[data-delivery]", None),
            ("delivery", f"#/deliveries/github/{DELIVERY}", "[data-test=match]", None),
            ("health", "#/health", "table[data-test=workers]", None),
        ]

    def show(self, route, ready, action):
        self.go("#/")  # a hash change even when route is the page already shown
        self.go(route)
        self.wait_css(ready, f"{route} ready ({ready})")
        self.wait_gone("[aria-busy=true]", f"{route} done loading")
        if action:
            action()

    def console_problems(self):
        return [e["message"] for e in self.console_log() if e.get("level") == "SEVERE" and (
            "Content Security Policy" in e["message"] or "Uncaught" in e["message"] or
            "TypeError" in e["message"] or "ReferenceError" in e["message"])]

    def test_every_page_in_both_themes_is_accessible(self):
        data = self.ensure_data()
        self.console_log()
        problems = []
        # The sign-in form, before the token is known.
        if self.driver.current_url.startswith(self.dev.url):
            self.driver.execute_script("sessionStorage.clear()")
        self.go("#/executions")
        self.driver.refresh()
        self.wait_css("form[data-test=sign-in]", "the sign-in form")
        for scheme in ("light", "dark"):
            self.set_theme(scheme)
            problems += [f"sign-in ({scheme}): {v}" for v in self.axe_violations()]
            self.screenshot(f"sign-in-{scheme}")
        self.set_theme("light")
        self.sign_in(DEV_TOKEN)

        for name, route, ready, action in self.pages(data):
            for scheme in ("light", "dark"):
                problems += self.scan(name, scheme, lambda: self.show(route, ready, action))
            problems += [f"{name}: console: {m}" for m in self.console_problems()]
        problems += self.scan_abort_dialog()
        self.set_theme("light")

        # A phone's width: every page laid out without scrolling sideways (a table may scroll
        # in its own box), and a screenshot of each.
        self.driver.set_window_size(390, 844)
        try:
            for name, route, ready, action in self.pages(data):
                try:
                    self.show(route, ready, action)
                except AssertionError as e:
                    problems.append(f"{name} (phone): {e}")
                    continue
                overflow = self.driver.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 1:
                    problems.append(f"{name} (phone): the page is {overflow} px wider than "
                                    "the screen")
                self.screenshot(f"{name}-phone-light")
        finally:
            self.driver.set_window_size(1280, 900)
        if problems:
            self.fail("pages not shown, serious or critical accessibility violations, or "
                      "console errors:\n  " + "\n  ".join(problems))

    def scan(self, name, scheme, show):
        """Shows a page in a theme, then its axe violations and a screenshot; the problems."""
        self.set_theme(scheme)
        try:
            show()
        except AssertionError as e:  # the other pages are still scanned and shown
            self.screenshot(os.path.join("failures", f"{name}-{scheme}"))
            return [f"{name} ({scheme}): {e}"]
        problems = [f"{name} ({scheme}): {v}" for v in self.axe_violations()]
        self.screenshot(f"{name}-{scheme}")
        return problems

    def scan_abort_dialog(self):
        """The abort confirmation of a running execution, scanned and shown in both themes,
        then cancelled (and the execution aborted over HTTP, freeing its worker slot)."""
        running = self.trigger("periodic-slow")
        problems = []
        try:
            def open_dialog():
                self.go(f"#/executions/{running}")
                self.wait_status("[data-test=execution-status]", "PENDING")
                self.wait_css("[data-test=abort]", "the abort button").click()
                self.wait_css("dialog[data-test=confirm-dialog]", "the confirmation dialog")
            for scheme in ("light", "dark"):
                problems += self.scan("abort-dialog", scheme, open_dialog)
                for cancel in self.css("dialog[data-test=confirm-dialog] [data-test=cancel]"):
                    if cancel.is_displayed():
                        cancel.click()
        finally:
            self.api("POST", f"/v1/executions/{running}/abort")
        return problems

    def test_a_log_holding_script_is_shown_as_text(self):
        data = self.ensure_data()
        self.signed_in_as(DEV_TOKEN)
        self.go(f"#/executions/{data['hostile']}")
        self.wait_status("[data-test=execution-status]", "SUCCESS")
        log = self.wait_for("the hostile log's lines", lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, "pre[data-test=log]")
             if HOSTILE_LOG_LINES[-1] in e.text), False))
        for line in HOSTILE_LOG_LINES:
            self.assertIn(line, log.text, "the line shown verbatim, as text")
        self.assertTrue(log.is_displayed())
        children = self.driver.execute_script(
            "return [...arguments[0].querySelectorAll('script, img, dialog, b')]"
            ".map(e => e.outerHTML)", log)
        self.assertEqual(children, [], "elements made from the log")
        made = self.driver.execute_script("""return {
            script: [...document.scripts].filter(s => s.textContent.includes('sluiceXss')).length,
            img: !!document.getElementById('sluice-xss-img'),
            dialog: !!document.getElementById('sluice-xss-dialog'),
            ran: window.sluiceXss !== undefined}""")
        self.assertEqual(made, {"script": 0, "img": False, "dialog": False, "ran": False})
        self.assert_no_alert()

    def test_a_big_log_shows_its_end_and_says_the_rest_is_in_the_download(self):
        big = self.trigger("browser-big-log")
        self.wait_execution(big, TERMINAL)
        self.signed_in_as(DEV_TOKEN)
        self.go(f"#/executions/{big}")
        log = self.wait_for("the big log's last line", lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, "pre[data-test=log]")
             if "the last line" in e.text), False))
        shown = self.driver.execute_script("return arguments[0].textContent.length", log)
        self.assertLess(shown, 300 * 1024, "only the log's end is held in the page")
        self.assertNotIn("line 00000 ", log.text, "the log's start is left to the download")
        note = self.driver.find_element(By.CSS_SELECTOR, "[data-test=log-cut]")
        self.assertIn("Download has the whole log", note.text)

    def focused(self):
        """What has the focus: its tag, text, data-test, href, and whether a focus indicator
        (an outline or a box shadow) is drawn around it."""
        return self.driver.execute_script("""
            const e = document.activeElement;
            const s = getComputedStyle(e);
            const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) ||
                         s.boxShadow !== 'none';
            return {tag: e.tagName.toLowerCase(), text: (e.textContent || '').trim().slice(0, 40),
                    test: e.getAttribute('data-test'), href: e.getAttribute('href'),
                    id: e.id, ring: ring};""")

    def press(self, *keys):
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, what, matches, backwards=False, most=40):
        """Tabs (or shift-tabs) until matches(focused) or most presses; every interactive
        element passed on the way must show its focus. Returns the focused element's summary."""
        unringed = []
        for _ in range(most):
            if backwards:
                ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB) \
                    .key_up(Keys.SHIFT).perform()
            else:
                self.press(Keys.TAB)
            now = self.focused()
            if now["tag"] in ("a", "button", "input", "select", "textarea") and not now["ring"]:
                unringed.append(now)
            if matches(now):
                self.assertEqual(unringed, [], "elements focused with no visible focus")
                return now
        self.fail(f"{what}: not reached in {most} presses of Tab; last focused: {self.focused()}")

    def test_keyboard_alone_signs_in_and_triggers(self):
        self.ensure_data()
        if self.driver.current_url.startswith(self.dev.url):
            self.driver.execute_script("sessionStorage.clear()")
        self.go("#/executions")
        self.driver.refresh()
        self.wait_css("form[data-test=sign-in]", "the sign-in form")
        self.wait_for("the token field focused", lambda d: self.focused()["id"] == "token")
        self.press(DEV_TOKEN, Keys.ENTER)
        self.wait_css("[data-test=sign-out]", "signed in by the keyboard")

        jobs = self.tab_to("the Jobs link in the header", lambda f: f["tag"] == "a" and
                           f["text"] == "Jobs", backwards=True)
        self.assertEqual(jobs["href"], "#/jobs")
        self.press(Keys.ENTER)
        self.wait_route(r"/jobs", "the Jobs page by Enter on its link")
        self.wait_css('section[data-job="browser-live"]', "the Jobs page")
        self.tab_to("browser-live's trigger button", lambda f: f["test"] == "open-trigger" and
                    self.driver.execute_script(
                        "return document.activeElement.closest('section[data-job]')"
                        ".getAttribute('data-job')") == "browser-live")
        self.press(Keys.ENTER)
        self.wait_css("form[data-test=trigger-form]", "the trigger form opened by Enter")
        self.tab_to("the form's Run button", lambda f: f["test"] == "trigger")
        self.press(Keys.ENTER)
        match = self.wait_route(r"/executions/([0-9a-f-]+)", "the execution started by Enter")
        self.wait_execution(match.group(1), TERMINAL)

    def cold_load(self):
        """One load of #/executions with an empty cache: the page's timings and resource
        entries, the bytes of every finished response (CDP), and when the test saw the row."""
        driver = self.driver
        driver.get("about:blank")
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                        {"source": USABLE_OBSERVER})
        driver.get_log("performance")  # drops what came before
        responses, wire = {}, {}

        def every_response_finished(d):
            for entry in d.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                params = message.get("params", {})
                if message.get("method") == "Network.responseReceived":
                    response = params["response"]
                    streams = response.get("mimeType") == "text/event-stream" or \
                        "follow=true" in response.get("url", "")
                    responses[params["requestId"]] = streams
                elif message.get("method") == "Network.loadingFinished":
                    wire[params["requestId"]] = params["encodedDataLength"]
            return responses and all(i in wire for i, streams in responses.items() if not streams)
        try:
            started = time.monotonic()
            self.go("#/executions")
            self.wait_css("table[data-test=executions] tr[data-id]", "the executions' rows")
            seen = time.monotonic() - started
            self.wait_for("every response but the streams finished", every_response_finished)
            timing = driver.execute_script("""
                const nav = performance.getEntriesByType('navigation')[0];
                const res = performance.getEntriesByType('resource');
                return {usable: window.sluiceUsableAt, dcl: nav.domContentLoadedEventEnd,
                        load: nav.loadEventEnd,
                        entries: [nav, ...res].map(e => ({name: e.name, kind: e.initiatorType,
                          transfer: e.transferSize, decoded: e.decodedBodySize}))};""")
        finally:
            driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                                   {"identifier": script["identifier"]})
            driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        timing.update(wire=sum(wire.values()), responses=len(wire), seen=seen * 1000)
        return timing

    def test_cold_load_of_the_executions_page(self):
        """Measured for the lead, never asserted: bytes on the wire of a cold load (empty cache)
        and the time until the first row shows, over three loads. Printed as [browser] lines."""
        self.ensure_data()
        self.signed_in_as(DEV_TOKEN)
        loads = [self.cold_load() for _ in range(3)]
        first = loads[0]
        assets = [e for e in first["entries"] if e["kind"] not in ("fetch", "xmlhttprequest")]
        api = [e for e in first["entries"] if e["kind"] in ("fetch", "xmlhttprequest")]
        print(f"\n[browser] cold load of #/executions: {first['wire']} bytes on the wire in "
              f"{first['responses']} finished responses (CDP Network.loadingFinished; open "
              f"streams not counted); assets {sum(e['transfer'] for e in assets)} bytes "
              f"transferred ({sum(e['decoded'] for e in assets)} decoded) in {len(assets)} "
              f"responses, API {sum(e['transfer'] for e in api)} bytes in {len(api)} calls")
        usable = sorted(load["usable"] for load in loads if load["usable"] is not None)
        print("[browser] time to a usable #/executions (first row shown) on loopback, 3 cold "
              "loads: " + ", ".join(f"{u:.0f}" for u in usable) +
              f" ms after navigation start (median {usable[len(usable) // 2]:.0f} ms)"
              if usable else "[browser] time to a usable #/executions: not observed")
        for load in loads:
            print(f"[browser]   DOMContentLoaded {load['dcl']:.0f} ms, load {load['load']:.0f} ms, "
                  f"row seen by the test after {load['seen']:.0f} ms")
        for e in sorted(first["entries"], key=lambda e: -e["transfer"]):
            print(f"[browser]   {e['transfer']:>8} B  {e['kind']:<10} {e['name']}")
        self.assertTrue(assets, "the load fetched the page's files")

if __name__ == "__main__":
    main()
