"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("register", __name__)


@bp.route("/register")
@login_required
def index() -> str:
    return "Not written yet"
