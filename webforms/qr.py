"""The QR code an authenticator app scans, drawn as inline SVG by segno (no images, no Pillow)."""

from __future__ import annotations

import segno
from markupsafe import Markup


def svg(uri: str) -> Markup:
    """The QR code of `uri` as an SVG element, dark on white so that it scans in a dark theme too."""
    drawing = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#0b0c0c", light="#ffffff",
                                                     title="QR code for your authenticator app",
                                                     svgclass="dhr-qr")
    # segno writes only the title; role="img" makes screen readers read it as a picture
    return Markup(drawing.replace("<svg ", '<svg role="img" aria-label="QR code for your authenticator app" ', 1))


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
