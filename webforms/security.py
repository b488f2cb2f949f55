"""CSRF on every POST, security headers, and the front-end packages served from node_modules."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, request, send_from_directory
from flask_wtf.csrf import CSRFProtect

from engine.platform.settings import PROJECT_ROOT

csrf = CSRFProtect()
NODE_MODULES = PROJECT_ROOT / "node_modules"
# Only the distributed files of these packages are served, and the studio's bundle that `make setup`
# builds (webforms/static/src, see the Makefile).
VENDOR = {
    "govuk-frontend": Path("govuk-frontend/dist/govuk"),
    "bpmn-js": Path("bpmn-js/dist"),
    "axe-core": Path("axe-core"),
    "studio": Path(".dhr-build"),
}
CSP = (
    "default-src 'self'; script-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    # bpmn-js sets inline styles on the diagram's SVG.
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    csrf.init_app(app)
    app.after_request(_headers)
    app.add_url_rule("/vendor/<package>/<path:filename>", "vendor", _vendor)


def _refuse_nul() -> None:
    """A NUL character in any field or query value is refused before anything reads it: no database
    column can keep one, and no person types one."""
    for values in (request.args, request.form):
        if any("\x00" in key or "\x00" in value for key, value in values.items(multi=True)):
            abort(400, description="The request held a character that cannot be used (NUL). Go back and remove it.")


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html" or response.mimetype == "text/csv":
        response.headers["Cache-Control"] = "no-store"  # case data must not stay in shared caches
    return response


def _vendor(package: str, filename: str) -> Response:
    base = VENDOR.get(package)
    if base is None or not filename.endswith((".js", ".css", ".woff", ".woff2", ".svg", ".png", ".ico", ".eot",
                                              ".ttf")):
        abort(404)
    # The studio's bundle changes with the sources of this checkout: asked again each time (a 304 if unchanged).
    return send_from_directory(NODE_MODULES / base, filename, max_age=0 if package == "studio" else 3600)
