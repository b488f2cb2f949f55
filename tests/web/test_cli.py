"""`dhr web` is registered for the engine's CLI, which never imports Flask itself."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points


def test_dhr_web_is_a_registered_command() -> None:
    names = {e.name: e.value for e in entry_points(group="dhr.commands")}
    assert names.get("web") == "webforms.cli:web"


def test_the_engine_does_not_import_flask() -> None:
    code = "import sys, engine.cli, engine.bpmn.runtime, engine.platform.access; print('flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
