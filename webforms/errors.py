"""Error pages in plain English, without internals; the transaction is rolled back on a bug."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from . import uow

log = logging.getLogger(__name__)

PAGES = {
    400: ("There is a problem with your request", "Go back, reload the page and try again."),
    403: ("You do not have permission to see this page",
          "If you think you should, ask your administrator to give you access."),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    405: ("There is a problem with your request", "Go back, reload the page and try again."),
    413: ("The file is too large", "Choose a smaller file and try again."),
    429: ("Too many attempts to sign in from your network",
          "Wait a few minutes, then try again. If you have forgotten your password or lost your "
          "authenticator app, ask your administrator."),
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
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


def _bug(exc: Exception) -> tuple[str, int]:
    uow.rollback()
    log.exception("unexpected error", exc_info=exc)
    return _page(500, "Sorry, there is a problem with the service",
                 "Try again later. Nothing you submitted was saved by this request.")
