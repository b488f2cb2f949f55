"""`dhr web` is registered for the engine's CLI, which never imports Flask itself."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest


def test_dhr_web_is_a_registered_command() -> None:
    names = {e.name: e.value for e in entry_points(group="dhr.commands")}
    assert names.get("web") == "webforms.cli:web"
    assert names.get("serve") == "webforms.serve:serve"


def test_the_engine_does_not_import_flask() -> None:
    code = "import sys, engine.cli, engine.bpmn.runtime, engine.platform.access; print('flask' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_web_apps_commands_are_imported_only_when_run_or_listed() -> None:
    """`dhr`'s own commands start without Flask (it took a third of their start); `--help` still
    lists the web app's commands, each still runs, and a mistyped one is still suggested."""
    code = ("import sys\nfrom engine.cli import main\nsys.argv = ['dhr', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('flask' in sys.modules, file=sys.stderr)")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)

    own = run("timers", "--help")
    assert "Timers the cases are waiting on" in own.stdout and own.stderr.strip().endswith("False")
    listed = run("--help").stdout
    assert "Run the web application (and the timer scheduler)" in listed and "Run the web application under" in listed
    assert "Usage: dhr serve [OPTIONS]" in run("serve", "--help").stdout
    assert "Did you mean one of: 'serve', 'users'?" in run("serv").stderr


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("DHR_LOG_FORMAT", "xml", "DHR_LOG_FORMAT must be json or text, not 'xml'"),
    ("DHR_WORKERS", "0", "DHR_WORKERS must be more than 0"),
    ("DHR_THREADS", "many", "DHR_THREADS must be a whole number, not 'many'"),
    ("DHR_SIGN_IN_LIMIT", "lots", "DHR_SIGN_IN_LIMIT must be like '20 per 10 minutes', not 'lots'"),  # the app's own
])
def test_dhr_serve_refuses_a_setting_it_cannot_use_before_starting(
        tmp_path: Path, setting: str, value: str, message: str) -> None:
    env = {**os.environ, "DHR_DATABASE_URL": f"sqlite:///{tmp_path / 'dhr.sqlite3'}", setting: value}
    result = subprocess.run([str(Path(sys.executable).parent / "dhr"), "serve"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert (result.returncode, result.stderr.strip()) == (78, f"error: {message}")
