"""The browser tier's harness: one real `sluice dev` and one headless Chromium per test file.

    class SomePages(BrowserTest):
        def test_x(self):
            self.sign_in()
            self.go("#/jobs")
            self.wait_for("the jobs", lambda d: d.find_elements(By.CSS_SELECTOR, "section[data-job]"))

Chromium and its WebDriver are Debian's (/usr/bin/chromium, /usr/bin/chromedriver; the
packages chromium and chromium-driver), driven by Selenium from the venv that
scripts/install-test-tools.sh fills; axe-core comes from that script's npm install
(SLUICE_BROWSER_TOOLS). Every wait is bounded; a failing test leaves a screenshot, the page's
HTML and the browser console in SLUICE_SCREENSHOT_DIR/failures, and prints where they are.

The config is config/dev.yaml plus a client `restricted` that may trigger only
periodic-to-trigger, and two jobs of this tier: browser-live (a log that grows for a few
seconds, GREETING overridable) and browser-hostile-log (a log of HTML and script).
"""

import hashlib
import hmac
import json
import os
import re
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients"))
from sluice_dev import SluiceDev, wait_for  # noqa: E402 (the clients tier's, by the path above)

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SLUICE_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW = (1280, 900)
# Bounds of the waits: a page showing what the API answered, and a job running to its end.
PAGE_SECONDS = 15
JOB_SECONDS = 90
HTTP_SECONDS = 10
AXE_SECONDS = 30

# Ended statuses, of executions and of GitLab's jobs and pipelines.
ENDED = ("SUCCESS", "FAILURE", "ABORTED", "ERROR", "success", "failed", "canceled", "skipped")

DEV_TOKEN = "browser-dev-token"
RESTRICTED_TOKEN = "browser-restricted-token"
HOOK_SECRET = "dev-hook-secret"

EXTRA_CLIENT = """\
  - name: restricted
    token_env: SLUICE_BROWSER_RESTRICTED_TOKEN
    allow_jobs: ["periodic-to-trigger"]
"""
EXTRA_JOBS = """\
  # The browser tier's: a log that grows for a few seconds, so that it is seen growing.
  - name: browser-live
    type: periodic
    command: ["sh", "-c", "echo \\"greeting: $GREETING\\"; for i in 1 2 3 4 5; do echo \\"step $i\\"; sleep 1; done; echo finished"]
    env: {GREETING: "hello"}
    allow_env_override: ["GREETING"]
    timeout: 2m
  # A log of markup: the dashboard must show it as text.
  - name: browser-hostile-log
    type: periodic
    command:
      - sh
      - -c
      - |
        echo '<script>window.sluiceXss = 1; alert(1)</script>'
        echo '<img src=x id=sluice-xss-img onerror="alert(2)">'
        echo '<dialog open id=sluice-xss-dialog>injected</dialog> &amp; &lt;b&gt;'
    timeout: 1m
  # A log larger than the page holds (600 KiB): the page shows its end and says so.
  - name: browser-big-log
    type: periodic
    command: ["sh", "-c", "i=0; while [ $i -lt 6000 ]; do printf 'line %05d %090d\\n' $i 0; i=$((i+1)); done; echo 'the last line'"]
    timeout: 1m
"""
# What browser-hostile-log prints, line by line (the &amp; stays as typed: text, not an entity).
HOSTILE_LOG_LINES = [
    '<script>window.sluiceXss = 1; alert(1)</script>',
    '<img src=x id=sluice-xss-img onerror="alert(2)">',
    '<dialog open id=sluice-xss-dialog>injected</dialog> &amp; &lt;b&gt;',
]


def write_config(directory):
    """config/dev.yaml with this tier's client and jobs added; returns its path."""
    source = os.environ.get("SLUICE_SOURCE_DIR", ".")
    with open(os.path.join(source, "config", "dev.yaml")) as f:
        text = f.read()
    dev_client = "    admin: true  # may replay and dry-run webhook deliveries\n"
    projects = "\nprojects:\n"
    if dev_client not in text or projects not in text:
        raise RuntimeError("config/dev.yaml changed shape: the browser tier adds its client "
                           "after the dev client and its jobs before projects:")
    text = text.replace(dev_client, dev_client + EXTRA_CLIENT)
    text = text.replace(projects, "\n" + EXTRA_JOBS + "projects:\n")
    path = os.path.join(directory, "browser.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def new_driver(performance_log=False):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--no-first-run")
    options.add_argument("--disable-extensions")
    options.add_argument("--disable-background-networking")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses its sandbox as root
    logs = {"browser": "ALL"}
    if performance_log:
        logs["performance"] = "ALL"  # DevTools events, Network.* among them
    options.set_capability("goog:loggingPrefs", logs)
    # Both paths are given: Selenium Manager has nothing to look up or download.
    os.environ.setdefault("SE_OFFLINE", "true")
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_SECONDS)
    driver.set_script_timeout(AXE_SECONDS)
    return driver


# --- HTTP from Python: what a user or a Git host does outside the browser ----------------------

def http(method, url, token=None, body=None, headers=None, form=None):
    """(status, parsed JSON or text, headers) of one request; never raises on an HTTP status."""
    data = None
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_SECONDS) as r:
            status, raw, answer_headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, answer_headers = e.code, e.read(), e.headers
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text), answer_headers
    except ValueError:
        return status, text, answer_headers


def signed_github_push(base_url, delivery, branch, repo="openshift/assisted-installer",
                       pusher="octocat", extra=None):
    """A push GitHub would send, signed with the dev secret (README "Webhooks"); its answer."""
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": "bc8fd4d3f1f7a5e4f6d0b8f2a1c3e5d7f9b1a3c5",
        "after": "a336f38f75f91a876313daacbf097f25dfe21bbf",
        "repository": {"full_name": repo, "html_url": f"https://github.com/{repo}",
                       "clone_url": f"https://github.com/{repo}.git"},
        "pusher": {"name": pusher},
    }
    payload.update(extra or {})
    body = json.dumps(payload).encode()
    signature = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return http("POST", base_url + "/hooks/github", body=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={signature}"})


def wait_until(what, fetch, done, timeout=JOB_SECONDS):
    """fetch() until done(value), bounded; returns the value, or fails naming the last one."""
    last = []

    def check():
        last[:] = [fetch()]
        return done(last[0])
    try:
        wait_for(check, timeout, what)
    except TimeoutError:
        raise AssertionError(f"{what} within {timeout}s; last seen: {last[-1]!r}") from None
    return last[0]


# --- The test case ---------------------------------------------------------------------------

def artifacts_dir():
    return os.environ.get("SLUICE_SCREENSHOT_DIR") or os.path.join(os.getcwd(), "screenshots")


class BrowserTest(unittest.TestCase):
    """One sluice dev and one Chromium for the class; each test signs in as it needs."""

    performance_log = False  # True: the driver keeps DevTools events for get_log("performance")

    @classmethod
    def setUpClass(cls):
        cls.config_dir = tempfile.TemporaryDirectory(prefix="sluice-browser-")
        os.environ["SLUICE_BROWSER_RESTRICTED_TOKEN"] = RESTRICTED_TOKEN
        cls.dev = SluiceDev(config=write_config(cls.config_dir.name), token=DEV_TOKEN)
        cls.dev.__enter__()
        try:
            cls.driver = new_driver(cls.performance_log)
        except BaseException:
            cls.dev.__exit__(None, None, None)
            raise
        cls.console = []  # every console entry of the class's browser, in order

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            cls.dev.__exit__(None, None, None)
            cls.config_dir.cleanup()

    def run(self, result=None):
        """unittest's run, then the browser's state saved when this test failed or erred."""
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self.save_failure()
        return outcome

    def save_failure(self):
        directory = os.path.join(artifacts_dir(), "failures")
        os.makedirs(directory, exist_ok=True)
        stem = os.path.join(directory, self.id().split(".", 1)[-1])
        lines = [f"url: {self.safe(lambda: self.driver.current_url)}"]
        self.safe(lambda: self.driver.save_screenshot(stem + ".png"))
        self.safe(lambda: self.write(stem + ".html", self.driver.page_source))
        lines += [f"{e.get('level')} {e.get('message')}" for e in self.console_log()]
        self.write(stem + ".console.log", "\n".join(lines) + "\n")
        print(f"[browser] {self.id()} failed: screenshot, page and console log in {stem}.*")
        print("[browser] console:\n  " + "\n  ".join(lines))
        print("[browser] sluice dev's log (last 40 lines):\n" +
              "\n".join(self.dev.log().splitlines()[-40:]))

    @staticmethod
    def safe(action):
        try:
            return action()
        except WebDriverException as e:
            return f"(unavailable: {e.msg})"

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text if isinstance(text, str) else str(text))

    def console_log(self):
        """The console entries since the last call (they are appended to cls.console)."""
        try:
            entries = self.driver.get_log("browser")
        except WebDriverException:
            entries = []
        type(self).console.extend(entries)
        return entries

    # Waits and finding

    def wait_for(self, what, condition, timeout=PAGE_SECONDS):
        """WebDriverWait(condition) with a bound; fails saying what was awaited."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(condition)
        except TimeoutException:
            pass  # failed below, outside the handler: the report names what, not Selenium's frames
        self.fail(f"{what}: not seen within {timeout}s (at {self.driver.current_url})")

    def wait_css(self, selector, what=None, timeout=PAGE_SECONDS, visible=True):
        """The first element matching selector, once there (and displayed)."""
        def found(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, selector):
                if not visible or element.is_displayed():
                    return element
            return False
        return self.wait_for(what or f"an element {selector}", found, timeout)

    def wait_gone(self, selector, what=None, timeout=PAGE_SECONDS):
        self.wait_for(what or f"no element {selector}", lambda d: not any(
            e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, selector)), timeout)

    def css(self, selector, within=None):
        return (within or self.driver).find_elements(By.CSS_SELECTOR, selector)

    @staticmethod
    def shown_status(element):
        """(the element bearing data-status, its value): element itself or the `.status` in it."""
        bearer = element if element.get_attribute("data-status") else next(iter(
            element.find_elements(By.CSS_SELECTOR, ".status[data-status]")), None)
        return bearer, (bearer.get_attribute("data-status") if bearer else None)

    def wait_status(self, selector, wanted, timeout=JOB_SECONDS):
        """Waits for the status an element shows (its own data-status, or that of the `.status`
        inside it) to be one of wanted; returns the element bearing it. Fails at once when it
        shows an ended status that is not wanted."""
        wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)

        def status(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, selector):
                bearer, shown = self.shown_status(element)
                if shown in wanted:
                    return bearer
                if shown in ENDED:
                    raise AssertionError(f"{selector} ended {shown}, not {' or '.join(wanted)}")
            return False
        return self.wait_for(f"{selector} showing {' or '.join(wanted)}", status, timeout)

    # Navigation and sign-in

    def go(self, route):
        """Opens a hash route (such as "#/jobs") of the dashboard."""
        self.driver.get(self.dev.url + "/" + route)

    def sign_in(self, token=DEV_TOKEN, expect_error=False):
        """Signs in through the form, from wherever the browser is; returns the form's error
        text when expect_error."""
        if self.css("[data-test=sign-out]"):
            self.sign_out()
        if not self.driver.current_url.startswith(self.dev.url):
            self.go("#/executions")
        form = self.wait_css("form[data-test=sign-in]", "the sign-in form")
        field = form.find_element(By.ID, "token")
        field.clear()
        field.send_keys(token)
        self.submit_button(form).click()
        if expect_error:
            return self.wait_css("[data-test=form-error]", "the sign-in error").text
        self.wait_css("[data-test=sign-out]", "the signed-in header (Sign out)")
        self.wait_gone("form[data-test=sign-in]")
        return None

    def signed_in_as(self, token=DEV_TOKEN):
        """Signs in with token unless this tab already holds it."""
        held = None
        if self.driver.current_url.startswith(self.dev.url):
            held = self.driver.execute_script("return sessionStorage.getItem('sluice.token')")
        if held != token:
            self.sign_in(token)

    def sign_out(self):
        self.css("[data-test=sign-out]")[0].click()
        self.wait_css("form[data-test=sign-in]", "the sign-in form after signing out")

    def submit_button(self, form):
        buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
        if not buttons:
            buttons = [b for b in form.find_elements(By.TAG_NAME, "button")
                       if (b.get_attribute("type") or "submit") == "submit"]
        self.assertTrue(buttons, "the form has a submit button")
        return buttons[0]

    def type_into(self, element, text):
        element.clear()
        element.send_keys(text)

    def set_pair(self, form, key_name, value_name, add_selector, key, value):
        """Sets key=value in a form of key/value rows: the row already holding key, else an empty
        row, else a new row from add_selector."""
        def rows():
            return list(zip(self.css(f"[name={key_name}]", form),
                            self.css(f"[name={value_name}]", form)))
        target = next((r for r in rows() if r[0].get_attribute("value") == key), None)
        if target is None:
            target = next((r for r in rows() if not r[0].get_attribute("value")), None)
        if target is None:
            count = len(rows())
            self.css(add_selector, form)[0].click()
            self.wait_for(f"a new row from {add_selector}", lambda d: len(rows()) > count)
            target = rows()[-1]
        self.type_into(target[0], key)
        self.type_into(target[1], value)

    def hash_route(self):
        return urllib.parse.urlsplit(self.driver.current_url).fragment

    def wait_route(self, pattern, what):
        """Waits for the hash route to match pattern (a regex on what follows '#'); the match."""
        return self.wait_for(what, lambda d: re.fullmatch(pattern, self.hash_route()))

    # Checks every page may want

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            self.fail(f"a JavaScript dialog opened: {text!r}")
        except NoAlertPresentException:
            pass

    # Themes, screenshots and the accessibility scan

    def set_theme(self, scheme):
        """Emulates the system's colour scheme ("light" or "dark") for what is shown next."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]})
        self.wait_for(f"prefers-color-scheme: {scheme} in effect", lambda d: d.execute_script(
            "return matchMedia(arguments[0]).matches", f"(prefers-color-scheme: {scheme})"))

    def screenshot(self, name):
        """Saves the window as SLUICE_SCREENSHOT_DIR/<name>.png; returns the path."""
        path = os.path.join(artifacts_dir(), name + ".png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.assertTrue(self.driver.save_screenshot(path), f"screenshot {path}")
        return path

    def axe_violations(self, impacts=("serious", "critical")):
        """Runs axe-core (from the npm install) on the page as it stands; the violations of the
        given impacts, each as "rule (impact): help: targets"."""
        source = os.path.join(os.environ.get("SLUICE_BROWSER_TOOLS", os.path.expanduser(
            "~/.cache/sluice/browser")), "node_modules", "axe-core", "axe.min.js")
        if not hasattr(type(self), "axe_source"):
            with open(source) as f:
                type(self).axe_source = f.read()
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(type(self).axe_source)
        results = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then(r => done({violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}))
              .catch(e => done({error: String(e)}));""")
        self.assertNotIn("error", results, f"axe.run failed: {results.get('error')}")
        return [f"{v['id']} ({v['impact']}): {v['help']}: {', '.join(v['targets'])}"
                for v in results["violations"] if v["impact"] in impacts]

    # HTTP as the dev client (or another)

    def api(self, method, path, token=DEV_TOKEN, **kwargs):
        return http(method, self.dev.url + path, token=token, **kwargs)

    def trigger(self, job_name, envs=None, token=DEV_TOKEN):
        """Triggers a periodic over HTTP; returns the new execution's id."""
        body = {"job_name": job_name, "job_execution_type": "1"}
        if envs:
            body["pod_spec_options"] = {"envs": envs}
        status, answer, _ = self.api("POST", "/v1/executions", token=token, body=body)
        self.assertEqual(status, 200, answer)
        return answer["id"]

    def wait_execution(self, execution_id, statuses, token=DEV_TOKEN):
        """Waits over HTTP for the execution's job_status to be one of statuses."""
        return wait_until(f"execution {execution_id} in {statuses}",
                          lambda: self.api("GET", f"/v1/executions/{execution_id}", token)[1],
                          lambda e: isinstance(e, dict) and e.get("job_status") in statuses)

    def trigger_pipeline(self, ref="main", variables=None, project=9):
        """A trigger token created through the GitLab API, then a pipeline triggered with it as
        README's GitLab section does; returns the pipeline's id."""
        status, created, _ = self.api("POST", f"/api/v4/projects/{project}/triggers",
                                      form={"description": "browser tier"})
        self.assertEqual(status, 201, created)
        form = {"token": created["token"], "ref": ref}
        for key, value in (variables or {}).items():
            form[f"variables[{key}]"] = value
        status, pipeline, _ = http("POST", self.dev.url +
                                   f"/api/v4/projects/{project}/trigger/pipeline", form=form)
        self.assertEqual(status, 201, pipeline)
        return pipeline["id"]


def main():
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
