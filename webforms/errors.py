"""Error pages in plain English, without internals; the transaction is rolled back on every error.

An engine error that no view caught (a view catches one only to show its form again) is shown here,
by the status its class gives (`DhrError.http_status`): its message is meant for a person, so it is
shown, except a NotFound's, which gets the plain 404 page (an id must reveal nothing).
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.platform.errors import DhrError, FormDataInvalid, NotFound

from . import uow

log = logging.getLogger(__name__)

PAGES = {
    400: ("There is a problem with your request", "Go back, reload the page and try again."),
    403: ("You do not have permission to see this page",
          "If you think you should, ask your administrator to give you access."),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    405: ("There is a problem with your request", "Go back, reload the page and try again."),
    409: ("Someone else got there first", "Go back, reload the page and try again."),
    413: ("The file is too large", "Choose a smaller file and try again."),
    429: ("Too many attempts to sign in from your network",
          "Wait a few minutes, then try again. If you have forgotten your password or lost your "
          "authenticator app, ask your administrator."),
}
# The title over an engine error's own message, by its status.
ENGINE_TITLES = {
    400: "There is a problem",
    403: "You cannot do this",
    409: "Someone else got there first",
    500: "This could not be done",
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(DhrError, _engine)
    app.register_error_handler(Exception, _bug)


def _page(status: int, title: str, body: str) -> tuple[str, int]:
    return render_template("pages/error.html", title=title, body=body, status=status), status


def _csrf(_exc: CSRFError) -> tuple[str, int]:
    uow.rollback()
    return _page(400, "Your form could not be sent",
                 "Your session may have expired, or the form was sent from another page. "
                 "Go back, reload the page and try again. Nothing was changed.")


def _http(exc: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    status = exc.code or 500
    if status >= 500:
        return _bug(exc)
    title, body = PAGES.get(status, (exc.name, "Go back and try again."))
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:  # 429: say when to come back
        return (*_page(status, title, body), {"Retry-After": str(retry_after)})
    return _page(status, title, body)


def _engine(exc: DhrError) -> tuple[str, int]:
    """Any engine error a view let through: nothing of the request's change is kept."""
    uow.rollback()
    status = exc.http_status
    if isinstance(exc, NotFound):
        return _http_page(404)
    if status >= 500:  # the message can quote a diagram's data: the log names only the error
        log.warning("the engine could not do a request: %s (%s)", type(exc).__name__, status)
    if isinstance(exc, FormDataInvalid):
        message = " ".join(_sentence(problem) for problem in exc.errors.values())
    else:
        message = _sentence(exc.message)
    title = ENGINE_TITLES.get(status) or PAGES.get(status, ("There is a problem", ""))[0]
    return _page(status, title, f"{message} Nothing was changed.")


def _sentence(text: str) -> str:
    """An engine message as a sentence: a capital first, a full stop last."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _http_page(status: int) -> tuple[str, int]:
    title, body = PAGES[status]
    return _page(status, title, body)


def _bug(exc: Exception) -> tuple[str, int]:
    uow.rollback()
    log.exception("unexpected error", exc_info=exc)
    return _page(500, "Sorry, there is a problem with the service",
                 "Try again later. Nothing you submitted was saved by this request.")
