"""In chromium: a process owner reads what changed (a script 6 -> 12 months, line by line) and moves a
running case onto the new version from the version's page; axe-core finds no serious problem on either page."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.platform.models import Case
from tests.conftest import SQLITE_ONLY
from tests.web.conftest import PROCESSES, Web
from tests.web.test_browser import _axe, _sign_in, page  # noqa: F401 - the browser fixture

from ..test_migration import SIX, TWELVE

pytestmark = SQLITE_ONLY  # the browser path is backend-blind


@pytest.fixture
def server(web: Web, tmp_path: Path) -> Iterator[tuple[str, int, int]]:
    web.deploy(PROCESSES)
    case_id = web.start(process="dhr_review")
    folder = tmp_path / "v2"
    shutil.copytree(PROCESSES, folder)
    (folder / "dhr_review.bpmn").write_text((folder / "dhr_review.bpmn").read_text().replace(SIX, TWELVE))
    new = web.deploy(folder)
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", new, case_id
    httpd.shutdown()


def test_a_process_owner_reads_the_diff_and_moves_a_case(server: tuple[str, int, int], page: Any,  # noqa: F811
                                                          web: Web) -> None:
    base, new, case_id = server
    _sign_in(page, base, "owner")
    page.goto(f"{base}/processes/{new}")
    page.get_by_test_id("diff-link").click()
    assert page.get_by_test_id("diff-removed").inner_text() == f"- {SIX}"
    assert page.get_by_test_id("diff-added").inner_text() == f"+ {TWELVE}"
    assert _axe(page) == []
    page.go_back()
    page.get_by_test_id("migrate-link").click()
    card = page.get_by_test_id("migrate-case")
    assert "Rosemary/2026" in card.inner_text()
    assert _axe(page) == []
    card.get_by_test_id("migrate-button").click()
    page.get_by_test_id("flash").wait_for()
    assert f"Rosemary/2026 now runs on version {new}" in page.get_by_test_id("flash").inner_text()
    page.get_by_test_id("migrate-empty").wait_for()
    with web.db.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.version_id == new
