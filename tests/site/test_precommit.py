"""Los ganchos de pre-commit pasan sobre todo el repositorio (sin red: son locales)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_pre_commit_en_todo_el_repositorio():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("pre-commit necesita un repositorio de git")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(
        [str(bin_dir / "pre-commit"), "run", "--all-files", "--show-diff-on-failure"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
