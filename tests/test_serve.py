"""The production deployment, as README's "Running in production" sets it up: `dhr serve` (gunicorn,
two workers) and a separate `dhr scheduler` on PostgreSQL, in a schema of their own; tasks completed
through HTTP, a timer fired by the scheduler when the simulated clock moves, readiness as a load
balancer sees it, and the JSON logs. Nothing sleeps: every wait polls with a timeout.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import DIAGRAMS, _new_schema, _require_postgres, _schema_url

pytestmark = pytest.mark.long
DHR = Path(sys.executable).parent / "dhr"
PASSWORD = "a-long-test-password"
WAIT = 90.0  # seconds any one thing may take on a busy machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(what: str, check: Callable[[], Any], server: subprocess.Popen[str], timeout: float = WAIT) -> Any:
    """Ask `check` until it returns something true, between asks waiting on the server process itself
    (so a server that dies fails the test at once); fail saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = server.wait(timeout=0.2)
            pytest.fail(f"the server exited ({code}) while waiting for {what}")
    pytest.fail(f"timed out waiting for {what}")


class Browser:
    """A person's browser: cookies kept, redirects not followed, forms sent with the CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=WAIT) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        token = re.search(r'name="csrf-token" content="([^"]+)"', self.request(path if path != "/sign-in"
                                                                                 else "/sign-in")[1])
        assert token, f"no CSRF token on {path}"
        return self.request(path, {"csrf_token": token.group(1), **form})

    def sign_in(self, username: str) -> None:
        status, _, headers = self.post("/sign-in", {"username": username, "password": PASSWORD})
        assert status == 302 and headers["Location"].endswith("/inbox"), f"{username} could not sign in: {status}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


class Installation:
    """One installation in a PostgreSQL schema of its own: the `dhr` commands and the two services."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DHR_") or k == "DHR_RESTART_EACH_STEP"}
        self.env.update(DHR_DATABASE_URL=url, DHR_CLOCK="simulated", DHR_SECRET_KEY="s" * 40,
                        DHR_AUDIT_KEY="a" * 40, DHR_LOG_FORMAT="json", DHR_PROXY_HOPS="1")
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def dhr(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run([str(DHR), *args], input=stdin, capture_output=True, text=True, env=self.env,
                                cwd=self.workdir, timeout=WAIT)
        assert result.returncode == 0, f"`dhr {' '.join(args)}` exited {result.returncode}: {result.stderr}"
        return result.stdout

    def start(self, *args: str, log: str) -> subprocess.Popen[str]:
        with open(self.workdir / log, "w") as err:
            return subprocess.Popen([str(DHR), *args], env=self.env, cwd=self.workdir, text=True,
                                    stdout=subprocess.PIPE, stderr=err)

    def status(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=WAIT) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            return 0, {}

    def task_id(self, bpmn_title: str) -> str | None:
        tasks = json.loads(self.dhr("tasks", "list", "--json"))
        return next((t["id"] for t in tasks if t["task"] == bpmn_title), None)

    def log_lines(self, log: str) -> list[dict[str, Any]]:
        lines = (self.workdir / log).read_text().splitlines()
        return [json.loads(line) for line in lines]  # every line is one JSON object


class Lines:
    """What a process prints on stdout, read in a thread so that waiting never blocks on the pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, start: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            line = self.queue.get(timeout=max(0.1, deadline - time.monotonic()))
            self.seen.append(line)
            if line.startswith(start):
                return line


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Installation]:
    _require_postgres()
    with _new_schema() as schema:
        yield Installation(_schema_url(schema), tmp_path)


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_two_workers_and_a_scheduler_serve_a_case_through_http(installation: Installation) -> None:
    dhr = installation.dhr
    dhr("db", "upgrade")
    dhr("clock", "set", "2026-08-31T08:00:00+00:00")
    dhr("processes", "deploy", str(DIAGRAMS))
    dhr("users", "add", "cst.officer", "--role", "Community Safety Team", "--password-stdin", stdin=PASSWORD)
    dhr("users", "add", "csp.chair", "--role", "CSP Chair", "--password-stdin", stdin=PASSWORD)
    dhr("cases", "start", "--process", "review_demo", "--pseudonym", "Hazel", "--year", "2026")

    server = installation.start("serve", "--bind", f"127.0.0.1:{installation.port}", "--workers", "2",
                                "--threads", "2", log="serve.log")
    scheduler = None
    try:
        _until("the server to answer /healthz", lambda: installation.status("/healthz")[0] == 200, server)
        workers = _until("two workers", lambda: len(_children(server.pid)) == 2 and _children(server.pid), server)
        assert len(workers) == 2
        status, ready = installation.status("/readyz")
        assert status == 503 and ready["scheduler"] == "none" and ready["migrations"] == "current"

        scheduler = installation.start("scheduler", log="scheduler.log")
        fired = Lines(scheduler)
        fired.wait_for("scheduler running")
        _until("/readyz to say ready", lambda: installation.status("/readyz")[0] == 200, server)

        cst = Browser(installation.base)
        cst.sign_in("cst.officer")
        record = installation.task_id("Record the notification")
        assert record and f"/tasks/{record}" in cst.request("/inbox")[1]
        status, _, _ = cst.post(f"/tasks/{record}", {"notified_on.day": "20", "notified_on.month": "8",
                                                           "notified_on.year": "2026"})
        assert status == 302, f"the task form answered {status}"
        assert installation.task_id("Record the notification") is None

        # The decision is due 20 September 09:00 London; its reminder a week before. Two weeks pass:
        # the scheduler, a process of its own, fires the reminder, and the officer sees it in the inbox.
        assert installation.task_id("Remind the CSP chair") is None
        dhr("clock", "advance", "P14D")
        assert "fired timer" in fired.wait_for("fired")
        reminder = installation.task_id("Remind the CSP chair")
        assert reminder and f"/tasks/{reminder}" in cst.request("/inbox")[1]
        assert cst.post(f"/tasks/{reminder}", {"note": "Chair reminded by phone"})[0] == 302

        chair = Browser(installation.base)
        chair.sign_in("csp.chair")
        decide = installation.task_id("Decide whether to hold a review")
        assert decide and f"/tasks/{decide}" in chair.request("/inbox")[1]
        assert chair.post(f"/tasks/{decide}", {"outcome": "No review", "reason": "Not a DHR"})[0] == 302
        cases = json.loads(dhr("cases", "list", "--json"))
        assert [c["status"] for c in cases if c["reference"] == "Hazel/2026"] == ["completed"], cases
    finally:
        codes = {"server": _stop(server), "scheduler": _stop(scheduler) if scheduler else 0}
    assert codes == {"server": 0, "scheduler": 0}

    requests = [line for line in installation.log_lines("serve.log") if line["logger"] == "dhr.request"]
    completed = [r for r in requests if r["method"] == "POST" and r["path"].startswith("/tasks/")]
    assert sorted((r["user"], r["case"], r["status"]) for r in completed) == [
        ("csp.chair", "Hazel/2026", 302), ("cst.officer", "Hazel/2026", 302), ("cst.officer", "Hazel/2026", 302)]
    assert all(r["request_id"] and r["duration_ms"] > 0 for r in requests)
    assert len({r["pid"] for r in requests}) >= 1 and server.pid not in {r["pid"] for r in requests}
    served = (installation.workdir / "serve.log").read_text()
    assert "Not a DHR" not in served and "reminded by phone" not in served  # answers stay out of the logs
    installation.log_lines("scheduler.log")  # the scheduler's log records are JSON lines too
    assert "audit trail intact" in dhr("audit", "verify")
    dhr("cases", "check")
