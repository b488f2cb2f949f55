"""Every setting of the product, declared once, with its default and environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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

    def __post_init__(self) -> None:
        if self.clock not in ("system", "simulated"):
            raise SettingsError(f"DHR_CLOCK must be 'system' or 'simulated', not {self.clock!r}")
        if self.env not in ("development", "production", "test"):
            raise SettingsError(f"DHR_ENV must be development, production or test, not {self.env!r}")
        if self.env == "production" and len(self.secret_key) < 32:
            raise SettingsError("DHR_SECRET_KEY must be set to at least 32 random characters in production")
        if not self.database_url:
            raise SettingsError("DHR_DATABASE_URL is empty")

    @classmethod
    def names(cls) -> list[str]:
        """Name every setting's environment variable."""
        return [f"DHR_{f.name.upper()}" for f in fields(cls)]
