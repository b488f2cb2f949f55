"""Your account: change your password, set up your authenticator app."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from engine.platform import second_factor, sessions, users

from .. import auth, qr, throttle, uow
from ..auth import me

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("")
@login_required
def index() -> Any:
    user = me()
    enrolled = second_factor.is_enrolled(uow.db(), user)
    return render_template(
        "pages/account.html", title="Your account", user=user, enrolled=enrolled,
        codes_left=second_factor.recovery_codes_left(uow.db(), user) if enrolled else 0,
        required=auth.second_factor_required(),
        devices=len(sessions.open_sessions(uow.db(), user, now=auth.now(), limits=auth.limits())),
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change your password; every session you have ends, and this browser gets a new one."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        throttle.refuse_if_over()
        current, new, again = (request.form.get(k, "") for k in ("current_password", "new_password",
                                                                 "confirm_password"))
        if not current:
            errors["current_password"] = "Enter your current password"
        elif not users.check_password(me(), current):
            throttle.failed()
            errors["current_password"] = "Your current password is not right"
        if wrong := users.password_problem(new):  # the engine's one rule, shown next to the field
            errors["new_password"] = wrong
        elif new != again:
            errors["confirm_password"] = "Enter the same new password twice"
        if not errors:
            user = me()
            users.set_password(uow.db(), user, new, actor=user.username, at=uow.clock().now())
            response = auth.sign_in_with(user, auth.start_session(user, pending=False), url_for("account.index"))
            flash("Your password has been changed. You have been signed out on every other device.", "success")
            return response
    summary = [{"text": message, "href": f"#{key}"} for key, message in errors.items()]
    return render_template("pages/password.html", title="Change your password", errors=errors,
                           errors_list=summary), (400 if errors else 200)


@bp.route("/second-factor", methods=["GET", "POST"])
@login_required
def set_up() -> Any:
    """Set up an authenticator app while signed in (where it is not yet required of everyone)."""
    user, error = me(), None
    if second_factor.is_enrolled(uow.db(), user):
        flash("You have already set up your authenticator app.", "info")
        return redirect(url_for("account.index"))
    if request.method == "POST":
        typed = request.form.get("code", "").strip()
        codes = second_factor.confirm(uow.db(), user, typed, now=auth.now()) if typed else None
        if codes is not None:
            return render_template("pages/recovery_codes.html", title="Save your recovery codes", codes=codes,
                                   next=url_for("account.index"))
        error = ("Enter the 6-digit code from your authenticator app" if not typed else
                 "The code is not right. Check you scanned the QR code, then enter the code your app shows now")
    secret = second_factor.begin(uow.db(), user, at=auth.now())
    return render_template("pages/set_up_second_factor.html", title="Set up your authenticator app",
                           qr=qr.svg(second_factor.provisioning_uri(user, secret, auth.issuer())),
                           secret=qr.grouped(secret), error=error, action=url_for("account.set_up"),
                           during_sign_in=False), (400 if error else 200)
