"""A limit on failed sign-ins from one address, beside the lock-out of one user name.

The lock-out stops guessing one user's password; this stops one address trying a few passwords
for each of many user names. Only failures count (a wrong password, a wrong code), so an office
behind one address is not refused for signing in; once over the limit, every sign-in attempt from
that address gets the 429 page until the window has moved on. Counted with the `limits` library,
in memory by default (one web process) or in Redis (`DHR_RATE_LIMIT_STORAGE_URI`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import limits
from flask import Flask, current_app, request
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.platform.errors import SettingsError
from engine.platform.settings import WebSettings

_SCOPE = "sign-in"


@dataclass(frozen=True)
class Throttle:
    limiter: MovingWindowRateLimiter
    item: limits.RateLimitItem


def init_app(app: Flask, web: WebSettings) -> None:
    """Check the limit and its storage now, so a wrong setting stops the app starting."""
    try:
        item = limits.parse(web.sign_in_limit)
    except ValueError as exc:
        raise SettingsError(f"DHR_SIGN_IN_LIMIT must be like '20 per 10 minutes', not {web.sign_in_limit!r}") from exc
    try:
        storage = storage_from_string(web.rate_limit_storage_uri)
    except (ConfigurationError, ValueError) as exc:
        raise SettingsError(f"DHR_RATE_LIMIT_STORAGE_URI cannot be used: {exc}") from exc
    app.extensions["dhr_throttle"] = Throttle(MovingWindowRateLimiter(storage), item)
    if web.proxy_hops:
        # Behind a reverse proxy every request comes from the proxy: take the client's address, the
        # scheme (https: secure cookies, CSRF's referrer check) and the host from the X-Forwarded-*
        # headers the trusted proxies add.
        hops = web.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_port=hops)


def _throttle() -> Throttle:
    throttle: Throttle = current_app.extensions["dhr_throttle"]
    return throttle


def address() -> str:
    return request.remote_addr or "unknown"


def refuse_if_over() -> None:
    """Refuse (429) a sign-in attempt from an address that has failed too often lately.

    Raises: TooManyRequests.
    """
    throttle = _throttle()
    if not throttle.limiter.test(throttle.item, _SCOPE, address()):
        reset = throttle.limiter.get_window_stats(throttle.item, _SCOPE, address()).reset_time
        raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))


def failed() -> None:
    """Count a failed attempt against the request's address."""
    throttle = _throttle()
    throttle.limiter.hit(throttle.item, _SCOPE, address())
