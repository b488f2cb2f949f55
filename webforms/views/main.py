"""The home page and what every page's template needs (navigation, filters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from engine.platform import access
from engine.platform.calendar import long_date, parse_day
from engine.platform.roles import Power, may

from .. import uow
from ..display import deadline, london, plain
from ..paging import pagination

bp = Blueprint("main", __name__)


@dataclass
class NavItem:
    key: str
    label: str
    url: str
    current: bool


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    def nav_items() -> list[NavItem]:
        if not current_user.is_authenticated:
            return []
        user = current_user.user
        items = [("inbox", "Inbox", url_for("inbox.index")), ("cases", "Cases", url_for("cases.index"))]
        if may(user, Power.SEE_DASHBOARD):
            items.append(("dashboard", "Dashboard", url_for("dashboard.index")))
        items.append(("register", "Recommendations", url_for("register.index")))
        if may(user, Power.SEE_REPORTS):
            items.append(("reports", "Reports", url_for("reports.steering_group")))
        if may(user, Power.SEE_MEETINGS):
            items.append(("meetings", "Meetings", url_for("meetings.index")))
        if may(user, Power.SEE_COSTS):
            items.append(("costs", "Costs", url_for("costs.index")))
        if may(user, Power.VERIFY_AUDIT):
            items.append(("audit", "Audit", url_for("audit.index")))
        if may(user, Power.DEPLOY_DIAGRAMS):
            items.append(("processes", "Processes", url_for("processes.index")))
        if may(user, Power.MANAGE_USERS):
            items = [("users", "Users", url_for("admin.users")), ("agencies", "Agencies", url_for("admin.agencies")),
                     ("timers", "Timers", url_for("admin.timers"))]
        section = (request.blueprint or "").replace("admin", "")
        return [NavItem(key, label, url, request.path.startswith(url) or section == key) for key, label, url in items]

    return {"nav_items": nav_items}


bp.add_app_template_global(pagination, "paginate")


@bp.app_template_global("suggestions")
def _suggestions(name: str) -> list[str]:
    """What a text box marked `"x-suggest": NAME` offers: "agencies", the agency list (Administration)."""
    return [agency.name for agency in access.agencies(uow.db())] if name == "agencies" else []


@bp.app_template_filter("london")
def _london(value: Any, with_time: bool = True) -> str:
    return london(value, with_time)


@bp.app_template_filter("day")
def _day(value: Any) -> str:
    """A date (or an ISO date) as "1 April 2026"; empty for none."""
    day = value if isinstance(value, date) else parse_day(value)
    return long_date(day) if day else ""


@bp.app_template_filter("deadline")
def _deadline(value: Any) -> str:
    return deadline(value, uow.clock().now())


@bp.app_template_filter("plain")
def _plain(value: Any) -> str:
    return plain(value)


@bp.route("/")
def home() -> Response:
    if current_user.is_authenticated and may(current_user.user, Power.MANAGE_USERS):
        return redirect(url_for("admin.users"))
    return redirect(url_for("inbox.index"))
