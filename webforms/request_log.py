"""One log record per request: its id, the user, the case it was about, status and duration.

The id is the proxy's `X-Request-ID` when it sends a plain one (nginx: `$request_id`), else a new
one; it goes back in the response's `X-Request-ID` and is carried by every record logged while the
request runs. The user is the signed-in user name; the case, its reference (the pseudonym the
family agreed and the year, never a personal name), noted by the view that looked the case up.
The path is logged without its query string, which may hold what someone typed into a filter.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from engine.platform import logs

log = logging.getLogger("dhr.request")
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def init_app(app: Flask) -> None:
    """Register first, so that the record is written last, after the unit of work committed."""
    app.before_request(_begin)
    app.after_request(_end)
    app.teardown_request(_forget)


def note_case(reference: str) -> None:
    """Say which case this request is about (its reference)."""
    logs.note(case=reference)


def _begin() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_began = time.perf_counter()
    g.log_token = logs.bind(request_id=g.request_id)


def _end(response: Response) -> Response:
    if "request_began" not in g:
        return response
    response.headers["X-Request-ID"] = g.request_id
    signed_in: Any = g.get("signed_in")
    record = {**logs.context(), "method": request.method, "path": request.path, "endpoint": request.endpoint,
              "status": response.status_code, "address": request.remote_addr,
              "user": signed_in.user.username if signed_in is not None else None,
              "duration_ms": round((time.perf_counter() - g.request_began) * 1000, 1)}
    log.info("%s %s %s", request.method, request.path, response.status_code, extra={"dhr": record})
    return response


def _forget(_exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        logs.unbind(token)
