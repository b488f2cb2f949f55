"""Placeholder: being written."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("reports", __name__)


@bp.route("/reports")
@login_required
def steering_group() -> str:
    return "Not written yet"
