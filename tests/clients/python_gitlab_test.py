"""python-gitlab 8.6.0 (PyPI) against a real `sluice dev`, used as its users use it: the public
API of the library and nothing patched. Covers what a release script does with it: auth() and
version(), the project by id and by path, the project list, a trigger token (create, get, save,
and what another member sees of it), trigger_pipeline with variables, the pipeline list filtered,
sorted and paged (one page, and the iterator following Link), a pipeline's jobs by scope, a
manual job played with variables, a job retried then read at once, and a job whose script is
GitLab's multi-project trigger (curl with $CI_JOB_TOKEN to $CI_API_V4_URL).

The config is config/dev.yaml plus two clients, `ops`, a second maintainer of project 9, and
`outsider`, a member of nothing, and project 10 (group/upstream) whose job triggers project 9.
"""

import os
import sys
import tempfile
import time
import unittest
import warnings

import gitlab
from gitlab import exceptions

from sluice_dev import SluiceDev

WAIT_SECONDS = 120
OPS_TOKEN = "clients-ops-token"
OUTSIDER_TOKEN = "clients-outsider-token"


def wait_for(what, fetch, done):
    """fetch() until done(value), for at most WAIT_SECONDS; returns the value."""
    deadline = time.monotonic() + WAIT_SECONDS
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {WAIT_SECONDS}s; last seen: {value!r}")
        time.sleep(0.2)
        value = fetch()
    return value


UPSTREAM_PROJECT = """\
  - id: 10
    path: group/upstream
    refs: {branches: ["main"]}
    members: {dev: maintainer}
    pipeline:
      stages: [deploy]
      jobs:
        - name: trigger_downstream
          stage: deploy
          command: ["sh", "-c", "curl -sS -f --form \\"token=$CI_JOB_TOKEN\\" --form ref=main \\"$CI_API_V4_URL/projects/9/trigger/pipeline\\""]
"""


def test_config(directory):
    source = os.environ.get("SLUICE_SOURCE_DIR", ".")
    with open(os.path.join(source, "config", "dev.yaml")) as f:
        text = f.read()
    dev_client = "    admin: true  # may replay and dry-run webhook deliveries\n"
    assert dev_client in text and "members: {dev: maintainer}" in text
    text = text.replace(dev_client, dev_client +
                        "  - {name: ops, token_env: PYGITLAB_OPS_TOKEN, allow_jobs: [\"*\"]}\n"
                        "  - {name: outsider, token_env: PYGITLAB_OUTSIDER_TOKEN, allow_jobs: []}\n")
    text = text.replace("members: {dev: maintainer}", "members: {dev: maintainer, ops: maintainer}")
    # Project 10's one job is the multi-project trigger of GitLab's docs, as written.
    webhooks = "# Git hosts' push and tag webhooks"
    assert webhooks in text
    text = text.replace(webhooks, UPSTREAM_PROJECT + webhooks)
    path = os.path.join(directory, "python-gitlab.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


class PythonGitLab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config_dir = tempfile.TemporaryDirectory(prefix="sluice-python-gitlab-")
        os.environ["PYGITLAB_OPS_TOKEN"] = OPS_TOKEN
        os.environ["PYGITLAB_OUTSIDER_TOKEN"] = OUTSIDER_TOKEN
        cls.dev = SluiceDev(config=test_config(cls.config_dir.name))
        cls.dev.__enter__()
        cls.gl = gitlab.Gitlab(cls.dev.url, private_token=cls.dev.token)
        cls.ops = gitlab.Gitlab(cls.dev.url, private_token=OPS_TOKEN)
        cls.outsider = gitlab.Gitlab(cls.dev.url, private_token=OUTSIDER_TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.dev.__exit__(None, None, None)
        cls.config_dir.cleanup()

    def project(self):
        return self.gl.projects.get(9)

    def new_trigger(self, description="release"):
        trigger = self.project().triggers.create({"description": description})
        self.assertTrue(trigger.token.startswith("glptt-"), trigger.token)
        return trigger

    def manual_job(self, pipeline):
        """The pipeline's upload_package once its earlier stages are done and it waits."""
        jobs = wait_for(f"pipeline {pipeline.id} waiting on its manual job",
                        lambda: pipeline.jobs.list(scope="manual", get_all=True),
                        lambda jobs: len(jobs) == 1)
        self.assertEqual(jobs[0].name, "upload_package")
        return jobs[0]

    def ended_job(self, job_id):
        project = self.project()
        return wait_for(f"job {job_id} ended", lambda: project.jobs.get(job_id),
                        lambda j: j.status in ("success", "failed", "canceled"))

    # --- who the caller is ---

    def test_auth_names_the_client_and_version_answers(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a web_url off the client's URL would warn
            self.gl.auth()
        self.assertEqual(self.gl.user.username, "dev")
        self.assertEqual(self.gl.user.name, "dev")
        version, revision = self.gl.version()
        self.assertNotEqual(version, "unknown")
        self.assertNotEqual(revision, "unknown")

    def test_a_wrong_token_is_refused(self):
        bad = gitlab.Gitlab(self.dev.url, private_token="not-a-token")
        with self.assertRaises(exceptions.GitlabAuthenticationError):
            bad.auth()
        self.assertEqual(bad.version(), ("unknown", "unknown"))  # GitLab requires auth for it

    # --- projects ---

    def test_project_by_id_and_by_path(self):
        project = self.gl.projects.get(9)
        self.assertEqual(project.id, 9)
        self.assertEqual(project.path_with_namespace, "group/project")
        self.assertEqual(project.name, "project")
        self.assertEqual(project.namespace["full_path"], "group")
        self.assertEqual(project.default_branch, "main")
        self.assertEqual(project.web_url, self.dev.url + "/group/project")
        self.assertEqual(self.gl.projects.get("group/project").id, 9)

    def test_projects_list_is_the_callers(self):
        self.assertEqual([p.id for p in self.gl.projects.list(get_all=True)], [9, 10])
        self.assertEqual([p.id for p in self.gl.projects.list(membership=True, get_all=True)],
                         [9, 10])
        self.assertEqual([p.id for p in self.ops.projects.list(get_all=True)], [9])
        first = self.gl.projects.list(per_page=1, get_all=False)
        self.assertEqual([p.id for p in first], [9])
        self.assertEqual([p.id for p in self.gl.projects.list(per_page=1, iterator=True)], [9, 10])
        self.assertEqual(self.outsider.projects.list(get_all=True), [])
        with self.assertRaises(exceptions.GitlabGetError) as refused:
            self.outsider.projects.get(9)
        self.assertEqual(refused.exception.response_code, 404)

    # --- trigger tokens ---

    def test_trigger_token_get_save_and_trigger_with_the_saved_token(self):
        created = self.new_trigger("to rename")
        trigger = self.project().triggers.get(created.id)
        self.assertEqual(trigger.token, created.token)  # its owner sees it whole
        trigger.description = "renamed"
        trigger.save()
        self.assertEqual(trigger.description, "renamed")
        self.assertEqual(trigger.token, created.token)
        listed = {t.id: t for t in self.project().triggers.list(get_all=True)}
        self.assertEqual(listed[created.id].token, created.token)
        pipeline = self.project().trigger_pipeline("main", trigger.token)
        self.assertEqual(pipeline.ref, "main")
        self.assertEqual(pipeline.source, "trigger")

    def test_another_member_sees_four_characters(self):
        created = self.new_trigger("dev's")
        theirs = self.ops.projects.get(9).triggers.get(created.id)
        self.assertEqual(len(theirs.token), 4)
        self.assertIn(theirs.token, created.token)
        listed = {t.id: t for t in self.ops.projects.get(9).triggers.list(get_all=True)}
        self.assertEqual(listed[created.id].token, theirs.token)

    # --- pipelines ---

    def test_trigger_pipeline_with_variables_then_play_the_manual_job(self):
        trigger = self.new_trigger()
        pipeline = self.project().trigger_pipeline("main", trigger.token,
                                                   variables={"UPLOAD_TO_S3": "true"})
        self.assertEqual(pipeline.status, "pending")
        job = self.project().jobs.get(self.manual_job(pipeline).id, lazy=True)
        job.play(post_data={"job_variables_attributes": [{"key": "UPLOAD_TO_S3", "value": "yes"}]})
        self.assertEqual(job.status, "pending")
        ended = self.ended_job(job.id)
        self.assertEqual(ended.status, "success")
        self.assertIn(b"uploading to S3 (UPLOAD_TO_S3=yes)", ended.trace())
        succeeded = pipeline.jobs.list(scope="success", get_all=True)
        self.assertEqual({j.name for j in succeeded},
                         {"run_tests", "build_package", "upload_package"})
        self.assertEqual(pipeline.jobs.list(scope=["failed"], get_all=True), [])

    def test_pipeline_jobs_by_scope(self):
        trigger = self.new_trigger()
        pipeline = self.project().trigger_pipeline("main", trigger.token)
        self.manual_job(pipeline)
        succeeded = pipeline.jobs.list(scope="success", get_all=True)
        self.assertEqual(sorted(j.name for j in succeeded), ["build_package", "run_tests"])
        self.assertEqual([j.name for j in pipeline.jobs.list(scope="manual", get_all=True)],
                         ["upload_package"])
        self.assertEqual(len(pipeline.jobs.list(get_all=True)), 3)

    def test_pipelines_list_filtered_sorted_and_paged(self):
        trigger = self.new_trigger()
        project = self.project()
        ref = "release/9.9"
        made = [project.trigger_pipeline(ref, trigger.token).id for _ in range(3)]
        for pipeline_id in made:
            self.manual_job(project.pipelines.get(pipeline_id))
        mine = project.pipelines.list(ref=ref, get_all=True)
        self.assertEqual([p.id for p in mine], sorted(made, reverse=True))  # newest first
        # An optional manual job left waiting: GitLab shows such a pipeline as success.
        status = project.pipelines.get(made[0]).status
        self.assertEqual(status, "success")
        page = project.pipelines.list(ref=ref, status=status, order_by="id", sort="asc",
                                      per_page=1, get_all=False)
        self.assertEqual([p.id for p in page], [min(made)])
        second = project.pipelines.list(ref=ref, order_by="id", sort="asc", per_page=1, page=2)
        self.assertEqual([p.id for p in second], [sorted(made)[1]])
        pages = project.pipelines.list(ref=ref, order_by="id", sort="asc", per_page=1,
                                       iterator=True)
        self.assertEqual(pages.total, 3)
        self.assertEqual(pages.total_pages, 3)
        self.assertEqual([p.id for p in pages], sorted(made))  # follows Link rel="next"
        self.assertEqual(project.pipelines.list(ref=ref, status="failed", get_all=True), [])
        by_ref = project.pipelines.list(order_by="ref", sort="desc", per_page=100, get_all=False)
        refs = [p.ref for p in by_ref]
        self.assertEqual(refs, sorted(refs, reverse=True))
        with self.assertRaises(exceptions.GitlabListError) as refused:
            project.pipelines.list(status="done", get_all=False)
        self.assertEqual(refused.exception.response_code, 400)

    def test_a_job_triggers_another_project_with_its_job_token(self):
        upstream = self.gl.projects.get(10)
        trigger = upstream.triggers.create({"description": "upstream"})
        before = {p.id for p in self.project().pipelines.list(source="pipeline", get_all=True)}
        pipeline = upstream.trigger_pipeline("main", trigger.token)
        job = wait_for("the upstream job ended",
                       lambda: pipeline.jobs.list(get_all=True)[0],
                       lambda j: j.status in ("success", "failed", "canceled"))
        trace = upstream.jobs.get(job.id, lazy=True).trace()
        self.assertEqual(job.status, "success", trace)
        downstream = [p for p in self.project().pipelines.list(source="pipeline", get_all=True)
                      if p.id not in before]
        self.assertEqual(len(downstream), 1, trace)
        self.assertEqual(downstream[0].ref, "main")
        self.assertIn(f'"id":{downstream[0].id}', trace.decode())

    # --- jobs ---

    def test_a_retried_job_is_there_at_once(self):
        trigger = self.new_trigger()
        pipeline = self.project().trigger_pipeline("main", trigger.token)
        self.manual_job(pipeline)
        first = [j for j in pipeline.jobs.list(get_all=True) if j.name == "run_tests"][0]
        job = self.project().jobs.get(first.id)
        retried = job.retry()
        self.assertNotEqual(retried["id"], first.id)
        again = self.project().jobs.get(retried["id"])  # no wait: the same gateway answered
        self.assertEqual(again.name, "run_tests")
        self.assertIn(again.status, ("pending", "running", "success"))
        self.assertEqual(self.ended_job(retried["id"]).status, "success")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
