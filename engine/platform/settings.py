"""Every setting of the product, declared once, with its default and environment variable.

`Settings` is what every process needs (database, clock, environment, secret key); `WebSettings`
what only the web pages need.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Outside production a missing DHR_AUDIT_KEY falls back to this one. It is public, so a trail sealed
# with it proves nothing against anyone who can write the database: development and tests only.
DEV_AUDIT_KEY = "dhr-development-audit-key-not-secret-0000"
MIN_KEY_CHARACTERS = 32
# The lanes that need the victim's and family's identifiers; others see that a value is confidential.
DEFAULT_CONFIDENTIAL_ROLES = "Community Safety Team,CSP Chair"
log = logging.getLogger(__name__)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    """Typed settings read from `DHR_*` environment variables."""

    database_url: str = field(
        default_factory=lambda: _env("DHR_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'dhr.sqlite3'}")
    )
    clock: str = field(default_factory=lambda: _env("DHR_CLOCK", "system"))
    processes_dir: Path = field(
        default_factory=lambda: Path(_env("DHR_PROCESSES_DIR", str(PROJECT_ROOT / "processes")))
    )
    env: str = field(default_factory=lambda: _env("DHR_ENV", "development"))
    secret_key: str = field(default_factory=lambda: _env("DHR_SECRET_KEY", ""))
    base_url: str = field(default_factory=lambda: _env("DHR_BASE_URL", "http://127.0.0.1:8000"))
    smtp_host: str = field(default_factory=lambda: _env("DHR_SMTP_HOST", ""))  # empty: e-mails go to the log
    smtp_port: int = field(default_factory=lambda: int(_env("DHR_SMTP_PORT", "25") or "25"))
    smtp_user: str = field(default_factory=lambda: _env("DHR_SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("DHR_SMTP_PASSWORD", ""))
    smtp_starttls: bool = field(default_factory=lambda: _env("DHR_SMTP_STARTTLS", "0") == "1")
    mail_from: str = field(default_factory=lambda: _env("DHR_MAIL_FROM", "dhr-notifications@localhost"))
    # Checked here so that a process refuses to start without it; read with `audit_key()` at each use.
    audit_key: str = field(default_factory=lambda: _env("DHR_AUDIT_KEY", ""))
    confidential_roles: tuple[str, ...] = field(
        default_factory=lambda: _names(_env("DHR_CONFIDENTIAL_ROLES", DEFAULT_CONFIDENTIAL_ROLES)))
    # how `dhr serve` and `dhr scheduler` write their logs: json (one object a line) or text
    log_format: str = field(default_factory=lambda: _env("DHR_LOG_FORMAT", "json"))

    def __post_init__(self) -> None:
        if self.clock not in ("system", "simulated"):
            raise SettingsError(f"DHR_CLOCK must be 'system' or 'simulated', not {self.clock!r}")
        if self.env not in ("development", "production", "test"):
            raise SettingsError(f"DHR_ENV must be development, production or test, not {self.env!r}")
        if self.env == "production" and len(self.secret_key) < 32:
            raise SettingsError("DHR_SECRET_KEY must be set to at least 32 random characters in production")
        _check_audit_key(self.audit_key, self.env)
        _check_roles(self.confidential_roles)
        if not self.database_url:
            raise SettingsError("DHR_DATABASE_URL is empty")
        if self.log_format not in ("json", "text"):
            raise SettingsError(f"DHR_LOG_FORMAT must be json or text, not {self.log_format!r}")

    @classmethod
    def names(cls) -> list[str]:
        """Name every setting's environment variable."""
        return [f"DHR_{f.name.upper()}" for f in fields(cls)]


def _names(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _check_roles(roles: tuple[str, ...]) -> None:
    from .roles import Role  # here, not at the top: roles import the models, which read settings

    unknown = [role for role in roles if Role.named(role) is None]
    if unknown:
        raise SettingsError(f"DHR_CONFIDENTIAL_ROLES names no role called {', '.join(repr(r) for r in unknown)} "
                            f"(the roles are: {', '.join(r.value for r in Role)})")


def _check_audit_key(raw: str, env: str) -> None:
    if raw and len(raw) < MIN_KEY_CHARACTERS:
        raise SettingsError(f"DHR_AUDIT_KEY must be at least {MIN_KEY_CHARACTERS} random characters")
    if not raw and env == "production":
        raise SettingsError(f"DHR_AUDIT_KEY must be set to at least {MIN_KEY_CHARACTERS} random characters in "
                            "production: it seals the audit trail, so keep it outside the database")


DEV_KEY_WARNING = ("DHR_AUDIT_KEY is not set: the audit trail is sealed with the public development key, which "
                   "proves nothing against someone who can write the database (set it in production)")
_warned = threading.Event()


def audit_key() -> bytes:
    """The key that seals the audit trail and the confidential values in it (DHR_AUDIT_KEY).

    Read at each use, so every process (web, scheduler, CLI, migrations) seals with the key it was
    started with, and a test can change it. Outside production a missing key falls back to the public
    DEV_AUDIT_KEY, logged once per process (at INFO: a demo's every `dhr` command would repeat it);
    `dhr web` and the `dhr audit` commands say so plainly (DEV_KEY_WARNING).

    Raises:
        SettingsError: the key is too short, or missing in production (DHR_ENV=production).
    """
    raw = os.environ.get("DHR_AUDIT_KEY", "")
    _check_audit_key(raw, _env("DHR_ENV", "development"))
    if raw:
        return raw.encode()
    if not _warned.is_set():
        _warned.set()
        log.info(DEV_KEY_WARNING)
    return DEV_AUDIT_KEY.encode()


def dev_audit_key_warning() -> str | None:
    """The warning to show a person when the trail is sealed with the public development key, or None."""
    return None if os.environ.get("DHR_AUDIT_KEY") else f"warning: {DEV_KEY_WARNING}"


_caches_kept: ContextVar[bool] = ContextVar("caches_kept", default=False)


def restart_each_step() -> bool:
    """Whether every unit of work parses its diagrams and loads its case anew (DHR_RESTART_EACH_STEP=1).

    Each step then runs exactly as the first step of a new process would: the test suite runs so,
    to prove that nothing a case needs lives only in one process's memory. Never within
    `caches_kept`.
    """
    return _flag("DHR_RESTART_EACH_STEP") is True and not _caches_kept.get()


@contextlib.contextmanager
def caches_kept() -> Iterator[None]:
    """Within (this thread or task only), units of work keep the caches a server keeps, whatever
    DHR_RESTART_EACH_STEP says: for work that never outlives one call, such as a trial run on its own
    scratch database, which no later process resumes."""
    token = _caches_kept.set(True)
    try:
        yield
    finally:
        _caches_kept.reset(token)


def _positive(name: str, default: float, kind: type[float] | type[int], what: str) -> Any:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {what}, not {raw!r}") from exc
    if not value > 0:
        raise SettingsError(f"{name} must be more than 0")
    return value


def _int(name: str, default: int) -> int:
    return int(_positive(name, default, int, "a whole number"))


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a whole number (0 or more), not {raw!r}")
    return int(raw)


def _flag(name: str) -> bool | None:
    raw = os.environ.get(name, "")
    if raw not in ("", "0", "1"):
        raise SettingsError(f"{name} must be 0 or 1, not {raw!r}")
    return None if raw == "" else raw == "1"


@dataclass(frozen=True)
class WebSettings:
    """Settings of the web pages: sign-in, sessions and uploads."""

    session_minutes: int = field(default_factory=lambda: _int("DHR_SESSION_MINUTES", 30))  # idle limit
    session_max_hours: int = field(default_factory=lambda: _int("DHR_SESSION_MAX_HOURS", 12))  # however busy
    login_attempts: int = field(default_factory=lambda: _int("DHR_LOGIN_ATTEMPTS", 5))
    lockout_minutes: int = field(default_factory=lambda: _int("DHR_LOCKOUT_MINUTES", 15))
    upload_max_mb: int = field(default_factory=lambda: _int("DHR_UPLOAD_MAX_MB", 10))
    # Secure cookies travel over HTTPS only: on in production, off for `make run`'s plain HTTP
    # on localhost, unless DHR_SECURE_COOKIES says 1 or 0.
    secure_cookies: bool | None = field(default_factory=lambda: _flag("DHR_SECURE_COOKIES"))
    council_name: str = field(
        default_factory=lambda: os.environ.get("DHR_COUNCIL_NAME", "Community Safety Partnership"))
    # Every user needs an authenticator app: on in production, off for `make run`'s demo users,
    # unless DHR_REQUIRE_2FA says 1 or 0.
    require_2fa: bool | None = field(default_factory=lambda: _flag("DHR_REQUIRE_2FA"))
    # Failed sign-ins (wrong password or code) from one address, in the `limits` notation, beside
    # the lock-out of one user name; kept in memory, or in Redis for several web processes.
    sign_in_limit: str = field(default_factory=lambda: _env("DHR_SIGN_IN_LIMIT", "20 per 10 minutes"))
    rate_limit_storage_uri: str = field(default_factory=lambda: _env("DHR_RATE_LIMIT_STORAGE_URI", "memory://"))
    # Reverse proxies in front of the app whose X-Forwarded-For to trust for the client's address.
    proxy_hops: int = field(default_factory=lambda: _count("DHR_PROXY_HOPS", 0))


def documents_dir() -> Path | None:
    """The folder uploaded documents' bytes go to, each in a file named by its SHA-256
    (DHR_DOCUMENTS_DIR); None (the default): in the database's `document` table. Read at each use.
    """
    raw = os.environ.get("DHR_DOCUMENTS_DIR", "").strip()
    return Path(raw).expanduser().resolve() if raw else None


def script_seconds() -> float:
    """How long one script, condition, timer expression or instructions template may run (DHR_SCRIPT_SECONDS).

    Read at each use, so a test can lower it. Code that runs longer is stopped and its unit of work
    rolled back: one looping diagram must not hold a case (or SQLite's write lock) for ever.
    """
    return float(_positive("DHR_SCRIPT_SECONDS", 2.0, float, "a number of seconds"))


def script_bytes() -> int:
    """The largest value (characters or items) diagram code may build, and the most text a task's
    instructions may render to (DHR_SCRIPT_BYTES, default 1 MB); read at each use."""
    return _int("DHR_SCRIPT_BYTES", 1024 * 1024)


@dataclass(frozen=True)
class ServeSettings:
    """Settings of the production server (`dhr serve`) and of what it answers on /readyz."""

    # host:port, or unix:/run/dhr/dhr.sock; the reverse proxy in front talks to it
    bind: str = field(default_factory=lambda: _env("DHR_BIND", "127.0.0.1:8000"))
    workers: int = field(default_factory=lambda: _int("DHR_WORKERS", 2))  # processes
    threads: int = field(default_factory=lambda: _int("DHR_THREADS", 4))  # requests at once per process
    # a worker that answers nothing for this long is restarted (diagram code stops after DHR_SCRIPT_SECONDS)
    worker_timeout: int = field(default_factory=lambda: _int("DHR_WORKER_TIMEOUT", 60))
    # /readyz fails when no scheduler has beaten its heartbeat for this long
    scheduler_silent_seconds: int = field(default_factory=lambda: _int("DHR_SCHEDULER_SILENT_SECONDS", 30))

    def __post_init__(self) -> None:
        if not self.bind.strip():
            raise SettingsError("DHR_BIND is empty")
