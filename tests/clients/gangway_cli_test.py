"""gangway-cli (github.com/openshift-eng/gangway-cli) against a real `sluice dev`.

Sends its requests byte for byte as it does (cmd/main.go): for every run, POST
<api-url>/v1/executions/<job-name> with `Authorization: Bearer <token>`, `Content-Type:
application/json` and the pretty-printed body of Go's json.MarshalIndent, always holding
RELEASE_IMAGE_INITIAL and RELEASE_IMAGE_LATEST (empty when -i or -l is not given) plus each
-e VAR=VALUE; job_execution_type is always "1". It accepts only a 200 and reads `id` from it.
It then polls Prow's Deck, not gangway, so here the execution is followed through
GET /v1/executions/{id} to check that the job ran with the variables it was given.
"""

import http.client
import json
import sys
import time
import unittest
import urllib.parse

from sluice_dev import SluiceDev

JOB = "periodic-to-trigger"
RUN_TIMEOUT_SECONDS = 120


def gangway_cli_body(initial="", latest="", envs=()):
    envs_map = {"RELEASE_IMAGE_INITIAL": initial, "RELEASE_IMAGE_LATEST": latest}
    for pair in envs:
        name, value = pair.split("=", 1)
        envs_map[name] = value
    # Go's encoding/json sorts map keys; struct fields keep their order.
    spec = {"job_execution_type": "1", "pod_spec_options": {"envs": dict(sorted(envs_map.items()))}}
    return json.dumps(spec, indent=2).encode()


class GangwayCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dev = SluiceDev()
        cls.dev.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.dev.__exit__(None, None, None)

    def request(self, method, path, body=None, headers=None):
        u = urllib.parse.urlsplit(self.dev.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode()
        finally:
            conn.close()

    def launch(self, body, job=JOB):
        """launchJob of cmd/main.go: the headers Go's http.Client sends with its own."""
        return self.request("POST", "/v1/executions/" + job, body, {
            "User-Agent": "Go-http-client/1.1",
            "Authorization": "Bearer " + self.dev.token,
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip",
        })

    def launch_ok(self, body):
        status, _, text = self.launch(body)
        # gangway-cli: `if resp.StatusCode != http.StatusOK` it fails the whole run.
        self.assertEqual(status, 200, text)
        job_info = json.loads(text)
        self.assertIsInstance(job_info.get("id"), str, text)
        self.assertTrue(job_info["id"], text)
        return job_info

    def ended(self, execution_id):
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status, _, text = self.request(
                "GET", "/v1/executions/" + execution_id,
                headers={"Authorization": "Bearer " + self.dev.token})
            self.assertEqual(status, 200, text)
            execution = json.loads(text)
            if execution["job_status"] not in ("TRIGGERED", "PENDING"):
                return execution
            time.sleep(0.2)
        self.fail(f"execution {execution_id} did not end within {RUN_TIMEOUT_SECONDS}s")

    def log_of(self, execution_id):
        status, _, text = self.request(
            "GET", "/v1/executions/" + execution_id + "/log",
            headers={"Authorization": "Bearer " + self.dev.token})
        self.assertEqual(status, 200, text)
        return text

    def test_both_images_given(self):
        info = self.launch_ok(gangway_cli_body("quay.io/x/release:4.18.6", "quay.io/x/release:4.18.8"))
        self.assertEqual(info["job_name"], JOB)
        self.assertEqual(info["job_status"], "TRIGGERED")
        self.assertEqual(info["pod_spec_options"]["envs"],
                         {"RELEASE_IMAGE_INITIAL": "quay.io/x/release:4.18.6",
                          "RELEASE_IMAGE_LATEST": "quay.io/x/release:4.18.8"})
        self.assertEqual(self.ended(info["id"])["job_status"], "SUCCESS")
        log = self.log_of(info["id"])
        self.assertIn("using quay.io/x/release:4.18.8", log)
        self.assertIn("upgrading from quay.io/x/release:4.18.6", log)

    def test_only_latest_given_passes_initial_empty(self):
        info = self.launch_ok(gangway_cli_body(latest="quay.io/x/release:4.18.9"))
        self.assertEqual(info["pod_spec_options"]["envs"]["RELEASE_IMAGE_INITIAL"], "")
        self.assertEqual(self.ended(info["id"])["job_status"], "SUCCESS")
        log = self.log_of(info["id"])
        self.assertIn("using quay.io/x/release:4.18.9", log)
        self.assertIn("upgrading from \n", log)

    def test_no_flags_and_an_env(self):
        info = self.launch_ok(gangway_cli_body(envs=["MULTISTAGE_PARAM_OVERRIDE_TEST=e2e-aws"]))
        self.assertEqual(self.ended(info["id"])["job_status"], "SUCCESS")
        self.assertIn("MULTISTAGE_PARAM_OVERRIDE_TEST=e2e-aws", self.log_of(info["id"]))

    def test_num_jobs_launches_distinct_executions(self):
        body = gangway_cli_body("quay.io/x/release:4.18.6", "quay.io/x/release:4.18.8")
        ids = [self.launch_ok(body)["id"] for _ in range(2)]  # gangway-cli -n 2
        self.assertNotEqual(ids[0], ids[1])
        for i in ids:
            self.assertEqual(self.ended(i)["job_status"], "SUCCESS")

    def test_a_variable_the_job_does_not_allow_is_refused_by_name(self):
        status, _, text = self.launch(gangway_cli_body(envs=["PATH=/tmp"]))
        self.assertEqual(status, 400, text)
        error = json.loads(text)
        self.assertEqual(error["code"], 3)
        self.assertIn("pod_spec_options.envs.PATH: job \"periodic-to-trigger\" does not allow "
                      "overriding PATH (allowed: RELEASE_IMAGE_INITIAL, RELEASE_IMAGE_LATEST, "
                      "MULTISTAGE_PARAM_OVERRIDE_*)", error["message"])

    def test_an_unknown_job_is_404(self):
        status, _, text = self.launch(gangway_cli_body(), job="no-such-job")
        self.assertEqual(status, 404, text)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
