"""`dhr serve`: the web app under gunicorn, for production (`dhr web` stays the development server).

Several worker processes, each with a few threads, each building its own app (and database
connections) after the fork. Timers are not fired here: `dhr scheduler` runs as a process of its own.
Logs are JSON lines on stderr (DHR_LOG_FORMAT), gunicorn's own included; gunicorn's access log is
off, since every request is logged once by the app with its id, user, case and duration.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from engine.platform import logs, readiness
from engine.platform.settings import ServeSettings, Settings, WebSettings, dev_audit_key_warning

log = logging.getLogger("dhr.serve")


@click.command("serve")
@click.option("--bind", default=None, help="host:port or unix:PATH to listen on [DHR_BIND, 127.0.0.1:8000].")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [DHR_WORKERS, 2].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads per worker: requests each answers at once [DHR_THREADS, 4].")
def serve(bind: str | None, workers: int | None, threads: int | None) -> None:
    """Run the web application under gunicorn until stopped (SIGTERM); run `dhr scheduler` beside it."""
    given: dict[str, Any] = {"bind": bind, "workers": workers, "threads": threads}
    server = dataclasses.replace(ServeSettings(), **{k: v for k, v in given.items() if v is not None})
    settings = Settings()
    from . import create_app

    create_app({"SETTINGS": settings})  # a wrong setting stops it here, in one line, before any worker forks
    readiness.code_revisions()  # read the migrations once, here: every worker inherits them
    logs.configure(settings.log_format)
    for warning in _warnings(server):
        log.warning(warning)
    Server(server, settings.log_format).run()


def _warnings(server: ServeSettings) -> list[str]:
    found = [w for w in [dev_audit_key_warning()] if w]
    if server.workers > 1 and WebSettings().rate_limit_storage_uri.startswith("memory://"):
        found.append("DHR_RATE_LIMIT_STORAGE_URI is memory://: each worker counts failed sign-ins on its own "
                     "(set a redis:// URI so that the limit holds across workers)")
    return found


class Server(BaseApplication):
    """gunicorn, configured from ServeSettings instead of its command line."""

    def __init__(self, server: ServeSettings, log_format: str) -> None:
        self.server, self.log_format = server, log_format
        super().__init__()

    def load_config(self) -> None:
        options = {
            "bind": [self.server.bind],
            "workers": self.server.workers,
            "threads": self.server.threads,
            "worker_class": "gthread",
            "timeout": self.server.worker_timeout,
            "graceful_timeout": 30,
            "proc_name": "dhr",
            "accesslog": None,
            "errorlog": "-",
            "logger_class": _logger_class(self.log_format),
            # X-Forwarded-* are read by the app alone, from DHR_PROXY_HOPS proxies (ProxyFix)
            "forwarded_allow_ips": "",
            "secure_scheme_headers": {},
            "control_socket_disable": True,  # one fixed path per user: two servers on a machine would collide
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from . import create_app  # in each worker, after the fork: its own database connections

        return create_app()


def _logger_class(log_format: str) -> type[Logger]:
    """gunicorn's logger, writing its records in `log_format`."""

    class FormattedLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(logs.formatter(log_format))

    return FormattedLogger
