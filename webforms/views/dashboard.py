"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("dashboard", __name__)


@bp.route("/dashboard")
@login_required
def index() -> str:
    return "Not written yet"
