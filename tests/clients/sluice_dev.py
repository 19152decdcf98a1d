"""A real `sluice dev` for the clients tier: on a free loopback port, with a data directory and
a token of its own, stopped (and its directory removed) on exit.

    with SluiceDev() as dev:
        dev.url, dev.token

The binary and the repository come from SLUICE_BINARY and SLUICE_SOURCE_DIR, as for the
integration tests. Waits, bounded, for the banner ("Sluice dev is running") and /readyz.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout}s")


class SluiceDev:
    def __init__(self, config=None, token="clients-test-token"):
        source = os.environ.get("SLUICE_SOURCE_DIR", ".")
        self.binary = os.environ.get("SLUICE_BINARY", "sluice")
        self.config = config or os.path.join(source, "config", "dev.yaml")
        self.token = token
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = None
        self.process = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "sluice-dev.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-clients-")
        env = dict(os.environ, SLUICE_DEV_TOKEN=self.token)
        log = open(os.path.join(self.dir, "sluice-dev.log"), "wb")
        self.process = subprocess.Popen(
            [self.binary, "dev", "--config", self.config,
             "--listen", f"127.0.0.1:{self.port}", "--data-dir", os.path.join(self.dir, "data")],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        log.close()
        try:
            wait_for(lambda: "Sluice dev is running" in self.log() or self.process.poll() is not None,
                     START_TIMEOUT_SECONDS, "sluice dev did not print its banner")
            if self.process.poll() is not None:
                raise RuntimeError("sluice dev exited:\n" + self.log())
            wait_for(self.ready, START_TIMEOUT_SECONDS, "sluice dev was not ready")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def ready(self):
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if exc and exc[0] is not None:
            print("sluice dev's log:\n" + self.log())
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
