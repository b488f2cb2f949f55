"""/healthz (this process answers) and /readyz (the installation can serve), for the proxy and monitoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from engine.platform import readiness
from engine.platform.settings import ServeSettings

from . import uow

bp = Blueprint("health", __name__)


def init_app(app: Flask) -> None:
    app.extensions["dhr_serve"] = ServeSettings()
    app.register_blueprint(bp)


@bp.route("/healthz")
def healthz() -> Any:
    """Alive: the process answers (a restart would not help with anything else)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Any:
    """Ready: the database answers, its migrations are the code's, and a scheduler beat recently."""
    serve: ServeSettings = current_app.extensions["dhr_serve"]
    # Heartbeats follow the real time, whatever clock the cases follow.
    state = readiness.check(uow.db(), datetime.now(UTC), timedelta(seconds=serve.scheduler_silent_seconds))
    return jsonify(state.as_dict()), 200 if state.ready else 503
