"""What reviews cost: a case's costs (added on a page of their own), and the totals per financial
year against the budget the CSP sets."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine.platform.errors import FormDataInvalid
from engine.platform.roles import Power, may
from engine.review import costs

from .. import schema_form, uow
from ..auth import me, requires
from ..guard import case_or_404

bp = Blueprint("costs", __name__)

COST_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "title": "What is it for?", "enum": list(costs.CATEGORIES)},
        "description": {"type": "string", "maxLength": 300, "title": "Description",
                        "description": "For example the invoice number."},
        "amount": {"type": "string", "maxLength": 20, "title": "Amount in pounds",
                   "description": "For example 1,250.50"},
        "incurred_on": {"type": "string", "format": "date", "title": "Date of the invoice or payment"},
    },
    "required": ["category", "amount", "incurred_on"],
}


def _this_year() -> int:
    return costs.financial_year(uow.today())


def _budget_form(years: list[int]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "financial_year": {"type": "string", "title": "Financial year",
                               "enum": [costs.year_label(y) for y in years]},
            "budget": {"type": "string", "maxLength": 20, "title": "Budget in pounds"},
        },
        "required": ["financial_year", "budget"],
    }


def _page(year: int, state: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
          status: int = 200) -> Any:
    this_year = _this_year()
    years = list(range(this_year + 1, this_year - 3, -1))
    schema = _budget_form(years)
    state = state if state is not None else schema_form.state_from_data(
        schema, {"financial_year": costs.year_label(this_year)})
    form_fields, errors_list = schema_form.draw(schema, state, errors or {})
    spent = costs.costs_between(uow.db(), date(year, 4, 1), date(year + 1, 3, 31))
    return render_template(
        "pages/costs.html", title="Costs", totals=costs.totals_by_year(uow.db()), year=year,
        year_label=costs.year_label(year), spent=spent, pounds=costs.pounds, fields=form_fields,
        errors_list=errors_list, may_set_budget=may(me(), Power.SET_BUDGET),
        years=[(y, costs.year_label(y)) for y in years]), status


@bp.route("/costs")
@requires(Power.SEE_COSTS)
def index() -> Any:
    year = request.args.get("year", type=int) or _this_year()
    return _page(year if 2000 <= year <= 2200 else _this_year())


@bp.route("/costs/budget", methods=["POST"])
@requires(Power.SET_BUDGET)
def budget() -> Any:
    this_year = _this_year()
    years = list(range(this_year + 1, this_year - 3, -1))
    schema = _budget_form(years)
    data, state, errors = schema_form.read_submission(schema, request.form)
    if errors:
        return _page(this_year, state, errors, status=400)
    year = next(y for y in years if costs.year_label(y) == data["financial_year"])
    try:
        pence = costs.parse_amount(data["budget"], "budget")
        costs.set_budget(uow.db(), year, pence, actor=me().username, at=uow.clock().now())
    except FormDataInvalid as exc:
        uow.rollback()
        return _page(this_year, state, exc.errors, status=exc.http_status)
    flash(f"The budget for {costs.year_label(year)} is now {costs.pounds(pence)}.", "success")
    return redirect(url_for("costs.index", year=year))


@bp.route("/cases/<int:case_id>/costs/new", methods=["GET", "POST"])
@requires(Power.RECORD_COSTS)
def add(case_id: int) -> Any:
    case = case_or_404(case_id)
    if request.method == "GET":
        form_fields, errors_list = schema_form.draw(COST_FORM, schema_form.state_from_data(COST_FORM, {}), {})
        return render_template("pages/cost_new.html", title="Add a cost", case=case, fields=form_fields,
                               errors_list=errors_list)
    data, state, errors = schema_form.read_submission(COST_FORM, request.form)
    cost = None
    if errors:  # with the engine's problems of what could be read: every problem at once
        day = data.get("incurred_on")
        errors = {**costs.problems(category=data.get("category"), amount=data.get("amount"),
                                   incurred_on=date.fromisoformat(day) if day else None, today=uow.today()), **errors}
    else:
        try:
            cost = costs.add_cost(uow.db(), case, category=data["category"], description=data.get("description", ""),
                                  amount=data["amount"], incurred_on=date.fromisoformat(data["incurred_on"]),
                                  actor=me().username, at=uow.clock().now())
        except FormDataInvalid as exc:
            uow.rollback()
            errors = exc.errors
    if cost is None:
        form_fields, errors_list = schema_form.draw(COST_FORM, state, errors)
        return render_template("pages/cost_new.html", title="Add a cost", case=case, fields=form_fields,
                               errors_list=errors_list), 400
    flash(f"{cost.category} of {costs.pounds(cost.amount_pence)} added.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="costs"))


@bp.route("/cases/<int:case_id>/costs/<int:cost_id>/remove", methods=["POST"])
@requires(Power.RECORD_COSTS)
def remove(case_id: int, cost_id: int) -> Response:
    case = case_or_404(case_id)
    cost = uow.db().get(costs.CaseCost, cost_id)
    if cost is None or cost.case_id != case.id:
        abort(404)
    costs.remove_cost(uow.db(), cost_id, actor=me().username, at=uow.clock().now())
    flash(f"{cost.category} of {costs.pounds(cost.amount_pence)} removed.", "success")
    return redirect(url_for("cases.show", case_id=case.id, _anchor="costs"))
