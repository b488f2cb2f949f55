"""bpmnlint (npm, recommended rules) finds no errors in the DHR diagrams."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"


def test_bpmnlint_finds_no_errors_in_the_process_diagrams() -> None:
    if not BPMNLINT.exists() or shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bpmnlint is not installed: `make setup` runs npm install")
        pytest.skip("bpmnlint is not installed (run `make setup`)")
    diagrams = sorted(str(p) for p in (ROOT / "processes").glob("*.bpmn"))
    assert len(diagrams) >= 7
    result = subprocess.run([str(BPMNLINT), *diagrams], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " error " not in result.stdout
