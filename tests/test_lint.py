"""Estilo: ruff (con las reglas de bugbear) sobre el paquete, las pruebas y las mediciones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_ruff_sin_avisos():
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run(
        [str(ruff), "check", "code", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_incluye_bugbear():
    """Sin la regla B015, `x.shape == (8, 6)` sin `assert` pasaría sin que nadie lo viera."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"B"' in config
