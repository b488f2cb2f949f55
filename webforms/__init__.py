"""The web layer: `create_app` wires settings, the database, security and the blueprints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.platform.db import MAX_ID
from engine.platform.settings import PROJECT_ROOT, Settings, WebSettings

from . import auth, errors, health, request_log, security, throttle, uow


class DatabaseId(IntegerConverter):
    """`<int:…>` in every route: an id the database's 64-bit integers cannot hold is a 404, not an
    overflow in the database driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002  (werkzeug's name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` may carry SETTINGS, WEB_SETTINGS, SESSIONS, CLOCK and Flask keys."""
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"), static_folder="static")
    app.url_map.converters["int"] = DatabaseId
    config = dict(config or {})
    settings: Settings = config.pop("SETTINGS", None) or Settings()
    web: WebSettings = config.pop("WEB_SETTINGS", None) or WebSettings()
    secure = web.secure_cookies if web.secure_cookies is not None else settings.env == "production"
    app.config.update(
        SECRET_KEY=settings.secret_key or "development-only-not-secret",
        SESSION_COOKIE_NAME="dhr_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=web.session_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=web.upload_max_mb * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires by itself
        WTF_CSRF_SSL_STRICT=secure,
        DHR_WEB=web,
        # On in production, off for `make run`'s demo users, unless DHR_REQUIRE_2FA says 1 or 0.
        DHR_REQUIRE_2FA=web.require_2fa if web.require_2fa is not None else settings.env == "production",
    )
    app.config.update(config)
    request_log.init_app(app)  # first: its record is written after the unit of work committed
    uow.init_app(app, settings)
    security.init_app(app)
    throttle.init_app(app, web)
    auth.init_app(app)
    errors.init_app(app)
    health.init_app(app)

    from .views import (
        account,
        admin,
        audit,
        cases,
        costs,
        dashboard,
        inbox,
        main,
        meetings,
        processes,
        register,
        reports,
        start,
        studio,
        tasks,
    )

    for blueprint in (main.bp, inbox.bp, tasks.bp, cases.bp, processes.bp, admin.bp, dashboard.bp, register.bp,
                      reports.bp, meetings.bp, costs.bp, account.bp, audit.bp, start.bp,
                      studio.bp):
        app.register_blueprint(blueprint)
    return app
