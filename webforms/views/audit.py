"""The audit trail's check, for auditors: what `dhr audit verify` says, on a page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.platform import audit
from engine.platform.errors import FormDataInvalid
from engine.platform.roles import Power
from engine.platform.settings import dev_audit_key_warning

from .. import uow
from ..auth import requires

bp = Blueprint("audit", __name__)


@bp.route("/audit")
@requires(Power.VERIFY_AUDIT)
def index() -> tuple[str, int]:
    """Check every event of the trail (and an anchor, if one is given) when asked; say what was found."""
    anchor = request.args.get("anchor", "")
    found, errors = None, {}
    if request.args.get("check") == "1":
        try:
            found = audit.check(uow.db(), anchor)
        except FormDataInvalid as exc:
            errors = exc.errors
    warning = (dev_audit_key_warning() or "").removeprefix("warning: ")
    page = render_template("pages/audit.html", title="Check the audit trail", found=found, anchor=anchor,
                           errors=errors, key_warning=warning)
    return page, 400 if errors else 200
