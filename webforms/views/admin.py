"""Administrators: users (add, disable, role and agency) and agencies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine.bpmn import worklist
from engine.platform import access, second_factor, sessions
from engine.platform.errors import DhrError, FormDataInvalid
from engine.platform.models import User
from engine.platform.roles import Power, Role
from engine.platform.users import add_user, all_users

from .. import uow
from ..auth import me, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = requires(Power.MANAGE_USERS)


def _user_page(errors: dict[str, str], form: dict[str, str], status: int = 200) -> Any:
    users = all_users(uow.db())
    summary = [{"text": message, "href": f"#{key}"} for key, message in errors.items()]
    return render_template("pages/users.html", title="Users", users=users, roles=[r.value for r in Role],
                           agencies=access.agencies(uow.db()), errors=errors, errors_list=summary, form=form,
                           enrolled=second_factor.enrolled_user_ids(uow.db())), status


@bp.route("/users", methods=["GET", "POST"])
@admin_only
def users() -> Any:
    if request.method == "GET":
        return _user_page({}, {})
    form = {k: request.form.get(k, "").strip() for k in ("username", "role", "agency", "email")}
    try:  # a user of the web pages signs in, so has a password: "" is checked as one
        add_user(uow.db(), form["username"], role=form["role"], agency=form["agency"] or None,
                 password=request.form.get("password", ""), email=form["email"] or None, actor=me().username,
                 clock=uow.clock())
    except FormDataInvalid as exc:
        uow.rollback()
        return _user_page(exc.errors, form, exc.http_status)
    flash(f"{form['username']} can now sign in as {Role.parse(form['role'])}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["POST"])
@admin_only
def change_user(user_id: int) -> Any:
    user = uow.db().get(User, user_id) or abort(404)
    role, agency = request.form.get("role", user.role), request.form.get("agency", user.agency or "")
    active = request.form.get("active", "1") == "1"
    try:
        access.change_user(uow.db(), user, role=role, agency=agency, active=active, actor=me().username,
                           at=uow.clock().now())
    except FormDataInvalid as exc:  # the row's form is the list: its problems go above it
        uow.rollback()
        for message in exc.errors.values():
            flash(f"{user.username}: {message}.", "info")
        return redirect(url_for("admin.users"))
    flash(f"{user.username}: {user.role}{', ' + user.agency if user.agency else ''}, "
          f"{'active' if user.active else 'disabled'}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@admin_only
def sign_out_everywhere(user_id: int) -> Any:
    """End every session of a user at once (a lost laptop, someone leaving)."""
    user = uow.db().get(User, user_id) or abort(404)
    count = sessions.sign_out_everywhere(uow.db(), user, actor=me().username, at=uow.clock().now())
    flash(f"{user.username} has been signed out everywhere ({count} session{'' if count == 1 else 's'} ended).",
          "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/second-factor", methods=["GET", "POST"])
@admin_only
def reset_second_factor(user_id: int) -> Any:
    """Ask, then reset a user's authenticator app (a lost phone); they set it up again at sign-in."""
    user = uow.db().get(User, user_id) or abort(404)
    if request.method == "POST":
        try:
            second_factor.reset(uow.db(), user, actor=me().username, at=uow.clock().now())
        except DhrError as exc:
            uow.rollback()
            flash(exc.message, "info")
            return redirect(url_for("admin.users"))
        flash(f"{user.username}'s authenticator app has been reset. They have been signed out and will set up "
              "their app again when they next sign in.", "success")
        return redirect(url_for("admin.users"))
    return render_template("pages/reset_second_factor.html", title="Reset authenticator app", user=user,
                           enrolled=second_factor.is_enrolled(uow.db(), user))


@bp.route("/timers")
@requires(Power.RETRY_TIMERS)
def timers() -> Any:
    """Timers that failed to fire (stuck, or retrying), across every case: an administrator puts right
    what made them fail (a mail server, a setting) and lets them fire again, without seeing case data."""
    rows = [t for t in worklist.waiting_timers(uow.db(), None, uow.clock().now()) if t.status == "stuck" or t.attempts]
    return render_template("pages/timers.html", title="Timers that failed", timers=rows)


@bp.route("/agencies", methods=["GET", "POST"])
@admin_only
def agencies() -> Any:
    error = None
    if request.method == "POST":
        try:
            agency = access.add_agency(uow.db(), request.form.get("name", ""), actor=me().username,
                                       at=uow.clock().now())
            flash(f"Added {agency.name}.", "success")
            return redirect(url_for("admin.agencies"))
        except FormDataInvalid as exc:
            uow.rollback()
            error = exc.errors.get("name") or exc.message
    summary = [{"text": error, "href": "#name"}] if error else []
    return render_template("pages/agencies.html", title="Agencies", agencies=access.agencies(uow.db()), error=error,
                           errors_list=summary), (400 if error else 200)
