"""What a long-running process (`dhr web`, `dhr scheduler`) writes to its log on stderr."""

from __future__ import annotations

import logging

PRODUCT_LOGGERS = ("engine", "webforms", "werkzeug")  # werkzeug: the web server's request lines


def show_product_log() -> None:
    """Log the product's own messages from INFO up (an e-mail written to the log when no SMTP host is
    set, a timer that failed) and other libraries' warnings, with the time, to stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in PRODUCT_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
