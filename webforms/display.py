"""How times and values are shown: London time, plain words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from engine.platform.calendar import LONDON, london_day
from engine.platform.documents import is_reference


def london(value: datetime | None, with_time: bool = True) -> str:
    """'3 March 2027, 09:00' in London time (GMT or BST as it was on that day)."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    text = f"{local.day} {local:%B %Y}"
    return f"{text}, {local:%H:%M}" if with_time else text


def london_iso(value: datetime | None) -> str:
    return value.astimezone(LONDON).isoformat(timespec="minutes") if value else ""


def plain(value: Any) -> str:
    """A task data value as text: lists joined, yes/no for booleans, uploads by name."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(plain(v) for v in value)
    if is_reference(value):
        return f"{value['name']} (uploaded document)"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    text = str(value)
    if text.startswith("data:"):
        return "(uploaded document)"
    return text


def deadline(due_on: date | None, now: datetime) -> str:
    """'28 February 2027 (96 days left)', or '(overdue by 3 days)', counted in London days."""
    if due_on is None:
        return ""
    days = (due_on - london_day(now)).days
    text = f"{due_on.day} {due_on:%B %Y}"
    if days > 1:
        return f"{text} ({days} days left)"
    if days == 1:
        return f"{text} (1 day left)"
    if days == 0:
        return f"{text} (due today)"
    return f"{text} (overdue by {-days} day{'s' if days < -1 else ''})"
