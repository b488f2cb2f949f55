"""The recommendation register: filtered list (and CSV), a recommendation with its updates, what an
agency owes, and the Steering Group's request for updates from every action holder at once."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.platform import exports
from engine.platform.roles import Power, may
from engine.review import chasing, pages, register
from engine.review.register import AWAITING, COMPLETED, LABELS, OPEN, THEMES, Filters, Recommendation

from .. import paging, uow
from ..auth import me, requires
from ..display import london
from ..documents import attachment
from ..guard import case_or_404

bp = Blueprint("register", __name__)
REGISTER_CSV_HEADER = ("Case", "Number", "Recommendation", "Theme", "Lead agency", "Local or national",
                       "National body", "SMART action", "Action holder", "Target date", "Status",
                       "Awaiting feedback since", "Last update")


def _filters() -> Filters:
    args = request.args
    status = args.get("status", "")
    return Filters(case=args.get("case", "").strip(), theme=args.get("theme", "") if args.get("theme") in THEMES
                   else "", agency=args.get("agency", "").strip(), status=status if status in LABELS else "",
                   overdue=args.get("overdue") == "1", national=args.get("national") == "1")


def _today() -> date:
    return uow.today()


def _visible(filters: Filters) -> list[Recommendation]:
    return pages.register_entries(uow.db(), me(), filters, uow.clock().now())


@bp.route("/register")
@login_required
def index() -> str:
    filters = _filters()
    found = pages.register_page(uow.db(), me(), filters, uow.clock().now(), paging.asked())
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template(
        "pages/register.html", title="Recommendations", recommendations=found, filters=filters, themes=THEMES,
        statuses=LABELS, agencies=pages.register_agencies(uow.db(), me()), today=_today(), args=args,
        may_request=may(me(), Power.REQUEST_UPDATES), awaiting=AWAITING, completed=COMPLETED)


@bp.route("/register.csv")
@login_required
def index_csv() -> Response:
    rows: list[list[exports.Cell]] = []
    for rec in _visible(_filters()):
        last = next((e for e in reversed(rec.events) if e.kind == "update"), None)
        rows.append([rec.case.reference, rec.number, rec.text, rec.theme, rec.lead_agency, rec.scope,
                     rec.national_body or "", rec.smart_action, rec.action_holder or "",
                     rec.target_date.isoformat() if rec.target_date else "", rec.status_label,
                     london(rec.awaiting_since, with_time=False), london(last.at, with_time=False) if last else ""])
    return attachment(exports.csv_bytes(REGISTER_CSV_HEADER, rows), "text/csv", "dhr-recommendations.csv")


@bp.route("/register/<int:recommendation_id>")
@login_required
def show(recommendation_id: int) -> str:
    rec = register.get(uow.db(), recommendation_id)
    if rec is None:
        abort(404)
    case_or_404(rec.case_id)  # 404 unless the user may see the case; reads by non-members are audited
    return render_template("pages/recommendation.html", title=f"{rec.label}", rec=rec, today=_today(),
                           awaiting=AWAITING, completed=COMPLETED)


@bp.route("/register/agency")
@login_required
def agency() -> str:
    name = request.args.get("name", "").strip()
    if not name:
        abort(404)
    everything = _visible(Filters(agency=name))
    if not everything:
        abort(404)  # no recommendation of the cases this user may see names the agency
    owed = [r for r in everything if r.status in OPEN]
    completed_count = sum(r.status == COMPLETED for r in everything)
    return render_template("pages/agency_owes.html", title=f"What {name} owes", agency=name, owed=owed,
                           completed_count=completed_count, today=_today(), awaiting=AWAITING, completed=COMPLETED)


@bp.route("/register/request-updates")
@requires(Power.REQUEST_UPDATES)
def confirm_request_updates() -> str:
    cases = chasing.cases_with_open_actions(uow.db())
    owed = [r for r in register.find(uow.db(), Filters(), today=_today(), case_ids={c.id for c in cases})
            if r.status in OPEN]
    return render_template("pages/request_updates.html", title="Ask every action holder for an update",
                           cases=cases, open_count=len(owed))


@bp.route("/register/request-updates", methods=["POST"])
@requires(Power.REQUEST_UPDATES)
def request_updates() -> Response:
    actor = me().username
    uow.end_transaction()  # the request's own transaction ends here: each case is asked in a unit of its own
    outcome = chasing.request_updates(uow.sessions(), uow.clock(), actor=actor)
    parts = [f"Update requests sent for {len(outcome.asked)} case{'s' if len(outcome.asked) != 1 else ''}"]
    if outcome.already_asked:
        parts.append(f"{len(outcome.already_asked)} already being asked ({', '.join(outcome.already_asked)})")
    if outcome.not_waiting:
        parts.append(f"{len(outcome.not_waiting)} not waiting for a request now: not published yet, or the last "
                     f"round of updates is being reviewed ({', '.join(outcome.not_waiting)})")
    if outcome.failed:
        parts.append(f"{len(outcome.failed)} could not be asked: "
                     + "; ".join(f"{ref}: {why}" for ref, why in outcome.failed.items()))
    flash(". ".join(parts) + ".", "success" if outcome.asked and not outcome.failed else "info")
    return redirect(url_for("register.index"))
