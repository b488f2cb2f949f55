"""Settings of the web layer, declared once, typed, with defaults and `DHR_*` variables.

The engine's settings (database, clock, environment, secret key) are `engine.settings.Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.errors import SettingsError


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be more than 0")
    return value


def _flag(name: str) -> bool | None:
    raw = os.environ.get(name, "")
    if raw not in ("", "0", "1"):
        raise SettingsError(f"{name} must be 0 or 1, not {raw!r}")
    return None if raw == "" else raw == "1"


@dataclass(frozen=True)
class WebSettings:
    """Sign-in, sessions and uploads."""

    session_minutes: int = field(default_factory=lambda: _int("DHR_SESSION_MINUTES", 30))
    login_attempts: int = field(default_factory=lambda: _int("DHR_LOGIN_ATTEMPTS", 5))
    lockout_minutes: int = field(default_factory=lambda: _int("DHR_LOCKOUT_MINUTES", 15))
    upload_max_mb: int = field(default_factory=lambda: _int("DHR_UPLOAD_MAX_MB", 10))
    # Secure cookies travel over HTTPS only: on in production, off for `make run`'s plain HTTP
    # on localhost, unless DHR_SECURE_COOKIES says 1 or 0.
    secure_cookies: bool | None = field(default_factory=lambda: _flag("DHR_SECURE_COOKIES"))
    council_name: str = field(
        default_factory=lambda: os.environ.get("DHR_COUNCIL_NAME", "Community Safety Partnership"))
