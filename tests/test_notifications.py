"""E-mail notifications: queued with the change that causes them, sent once through a real SMTP server."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine.platform import notifications
from engine.platform.db import unit_of_work
from engine.platform.models import User
from engine.platform.notifications import OutboxMessage, send_due
from engine.platform.settings import Settings

from .conftest import World
from .test_scheduler import stop


class Inbox:
    """An aiosmtpd handler that keeps what it receives; it can refuse the next N messages."""

    def __init__(self) -> None:
        self.received: queue.Queue[Any] = queue.Queue()
        self.refuse = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            self.refuse -= 1
            return "451 Try again later"
        self.received.put((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DHR_BASE_URL", "https://dhr.example.org")  # links are written when a message is queued
    inbox = Inbox()
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, replace(Settings(), smtp_host="127.0.0.1", smtp_port=port, base_url="https://dhr.example.org")
    finally:
        controller.stop()


def with_emails(world: World) -> None:
    with unit_of_work(world.db.sessions) as s:
        for user in s.scalars(select(User)):
            user.email = f"{user.username}@example.org"


def test_a_new_task_emails_its_role_once_with_the_reference_and_a_link(world: World, smtp) -> None:
    inbox, settings = smtp
    with_emails(world)
    world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    assert send_due(world.db.sessions, world.clock, settings) == (2, 0)  # two tasks created: one each
    got = [inbox.received.get(timeout=5) for _ in range(2)]
    by_subject = {str(m["Subject"]).strip(): (to, m) for to, m in got}
    to, message = by_subject["New task for the CSP Chair: Decide whether to hold a review (Rosemary/2026)"]
    assert to == ["chair@example.org"]
    body = message.get_content()
    decide = world.task("decide")
    assert f"https://dhr.example.org/tasks/{decide.id}" in body and "Rosemary/2026" in body
    assert "30 September 2026, 09:00 (UK time)" in body
    assert send_due(world.db.sessions, world.clock, settings) == (0, 0)  # never twice
    with pytest.raises(queue.Empty):
        inbox.received.get(timeout=0.2)


def test_a_refused_message_is_retried_later_and_then_sent_once(world: World, smtp) -> None:
    inbox, settings = smtp
    with_emails(world)
    world.start()  # one task for the Community Safety Team: carol
    inbox.refuse = 1
    assert send_due(world.db.sessions, world.clock, settings) == (0, 1)
    assert send_due(world.db.sessions, world.clock, settings) == (0, 0)  # backing off
    world.clock.advance(timedelta(minutes=2))
    assert send_due(world.db.sessions, world.clock, settings) == (1, 0)
    to, message = inbox.received.get(timeout=5)
    assert to == ["carol@example.org"] and "Record the notification" in message["Subject"]
    with world.db.sessions() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert row.status == "sent" and row.attempts == 1 and "451" in (row.last_error or "")


def test_two_senders_at_once_send_each_message_exactly_once(world: World, smtp) -> None:
    inbox, settings = smtp
    with_emails(world)
    for n in range(10):
        world.start(f"Case{n}")
    barrier = threading.Barrier(2)
    totals: list[tuple[int, int]] = []

    def sender() -> None:
        barrier.wait()
        totals.append(send_due(world.db.sessions, world.clock, settings, limit=3))
        while (result := send_due(world.db.sessions, world.clock, settings, limit=3)) != (0, 0):
            totals.append(result)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(sent for sent, _ in totals) == 10
    subjects = [inbox.received.get(timeout=5)[1]["Subject"] for _ in range(10)]
    assert len(set(subjects)) == 10
    with pytest.raises(queue.Empty):
        inbox.received.get(timeout=0.2)


def test_members_only_roles_are_emailed_only_about_their_cases(world: World) -> None:
    with_emails(world)
    reference = world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", reference)
    world.complete("decide", {"outcome": "DHR"}, "chair", reference)  # a task for the Panel: pat is no member
    with world.db.sessions() as s:
        recipients = [m.recipient for m in s.scalars(select(OutboxMessage))]
        assert "pat@example.org" not in recipients
        assert notifications.counts(s) == {"queued": len(recipients)}


def test_without_an_smtp_host_the_scheduler_writes_each_email_to_its_log(world: World) -> None:
    with_emails(world)
    world.start()
    env = {**os.environ, "DHR_DATABASE_URL": world.db.url, "DHR_SMTP_HOST": ""}
    process = subprocess.Popen([sys.executable, "-m", "engine", "scheduler"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a scheduler that never logs it fails the test, not hangs it
    watchdog.start()
    assert process.stderr is not None
    logged: list[str] = []
    try:
        for line in process.stderr:  # waits on the scheduler's output, never on the clock
            logged.append(line)
            if "/tasks/" in line:  # the link: the last line of the message
                break
    finally:
        watchdog.cancel()
        # nothing reads the scheduler's stderr after the link: read the rest while it stops
        rest: list[str] = []
        threading.Thread(target=lambda: rest.extend(process.stderr or ()), daemon=True).start()
        assert stop(process, logged=lambda _: "".join(logged + rest)) == [0]
    # the scheduler logs one JSON object a line (DHR_LOG_FORMAT's default)
    [entry] = [json.loads(line) for line in logged if '"engine.platform.notifications"' in line]
    assert entry["level"] == "INFO"
    assert entry["message"].startswith("e-mail (no DHR_SMTP_HOST set) to carol@example.org: New task for the "
                                       "Community Safety Team: Record the notification (Rosemary/2026)"), entry
    task = world.task("record_notification")
    assert f"Open it: {Settings().base_url}/tasks/{task.id}" in entry["message"]  # the body too
