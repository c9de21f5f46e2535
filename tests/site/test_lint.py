"""Estilo: ruff (con las reglas de bugbear) sobre el paquete, las pruebas y las mediciones."""

from __future__ import annotations

import re
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


# Un fichero con un fallo de cada familia de reglas que el proyecto activa.
_BAD = """\
import sys
import os
from typing import List


def f(x: List[int], y=[]):
    x.shape == (8, 6)
    unused = 1
    if y == None:
        return sys.maxsize
    return list(x)[0]   \n"""
_EXPECTED = {
    "B015": "comparación sin assert (bugbear)",
    "B006": "argumento por omisión mutable (bugbear)",
    "F401": "importación sin usar (pyflakes)",
    "F841": "variable sin usar (pyflakes)",
    "I001": "importaciones sin ordenar (isort)",
    "UP006": "List en vez de list (pyupgrade)",
    "W291": "espacios al final de la línea (pycodestyle)",
    "RUF015": "list(x)[0] en vez de next(iter(x)) (ruff)",
    "E711": "comparación con None usando == (pycodestyle)",
}


def test_ruff_aplica_las_reglas_del_proyecto():
    """Con la configuración de pyproject.toml, ruff encuentra un fallo de cada familia.

    Sin la regla B015, `x.shape == (8, 6)` sin `assert` pasaría sin que nadie lo viera.
    """
    ruff = Path(sys.executable).parent / "ruff"
    out = subprocess.run(
        [str(ruff), "check", "--no-cache", "--output-format", "concise",
         "--stdin-filename", "tests/ejemplo_de_estilo.py", "-"],
        cwd=ROOT, input=_BAD, capture_output=True, text=True,
    )  # fmt: skip
    found = set(re.findall(r"\b([A-Z]+\d{3,4})\b", out.stdout))
    missing = {code: why for code, why in _EXPECTED.items() if code not in found}
    assert not missing, f"ruff no marcó: {missing}\n{out.stdout}{out.stderr}"


def test_ruff_limita_las_lineas_a_100():
    ruff = Path(sys.executable).parent / "ruff"
    codes = {}
    for n in (100, 101):
        line = "x = '" + "a" * (n - 6) + "'\n"  # n caracteres sin el salto de línea
        out = subprocess.run(
            [str(ruff), "check", "--no-cache", "--output-format", "concise",
             "--stdin-filename", "tests/ejemplo_de_estilo.py", "-"],
            cwd=ROOT, input=line, capture_output=True, text=True,
        )  # fmt: skip
        codes[n] = "E501" in out.stdout
    assert codes == {100: False, 101: True}, codes


def test_las_mediciones_importan_modulos_que_existen():
    """``make bench`` no prueba nada, así que un módulo movido lo rompería en silencio."""
    import ast
    import importlib.util

    missing = []
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                if top in ("tests", "libroia", "libroia_sphinx", "benchmarks"):
                    if importlib.util.find_spec(node.module) is None:
                        missing.append(f"{script.name}: {node.module}")
    assert missing == []
