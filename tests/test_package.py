"""El paquete se importa como `libroia` desde cualquier carpeta, sin tapar al `code` estándar."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import libroia
from libroia import _checks
from tests.conftest import ROOT


@pytest.mark.parametrize("cwd", ["/", "book", "tests"])
def test_libroia_se_importa_desde_cualquier_carpeta(cwd):
    folder = ROOT / cwd if cwd != "/" else "/"
    out = subprocess.run(
        [sys.executable, "-c", "import libroia, sys; print(libroia.__file__)"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(ROOT / "code" / "libroia" / "__init__.py")


def test_code_sigue_siendo_la_biblioteca_estandar():
    out = subprocess.run(
        [sys.executable, "-c", "import code; print(code.__file__); print(code.interact.__name__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    path, name = out.stdout.split()
    assert "site-packages" not in path and not path.startswith(str(ROOT))
    assert name == "interact"
    assert not (ROOT / "code" / "__init__.py").exists()


def test_softmax_igual_que_pytorch():
    z = torch.randn(3, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(libroia.softmax(z), torch.softmax(z, -1))
    torch.testing.assert_close(libroia.log_softmax(z, axis=0), torch.log_softmax(z, 0))
    np.testing.assert_allclose(libroia.softmax(z.numpy()), torch.softmax(z, -1).numpy())


def test_softmax_estable_con_puntuaciones_grandes():
    p = libroia.softmax(np.array([1000.0, 1000.0, -np.inf]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])


def test_softmax_rechaza_texto_y_ejes_imposibles():
    with pytest.raises(TypeError, match="`x`"):
        libroia.softmax(np.array(["hola"]))
    with pytest.raises(ValueError, match="`axis`"):
        libroia.softmax(np.zeros((2, 3)), axis=2)


def test_mensajes_de_las_comprobaciones():
    with pytest.raises(ValueError, match=r"`top_p` debe estar en \(0, 1\], pero vale 1.5"):
        _checks.check_probability("top_p", 1.5)
    with pytest.raises(ValueError, match="`k` debe ser un entero ≥ 1, pero vale 0"):
        _checks.check_int("k", 0, min_value=1)
    with pytest.raises(TypeError, match="`k` debe ser un número entero"):
        _checks.check_int("k", 2.0)
    assert _checks.check_float("temperature", 1) == 1.0
    with pytest.raises(TypeError, match="mezclar"):
        _checks.check_same_kind(q=np.zeros(2), k=torch.zeros(2))
    with pytest.raises(TypeError, match="booleana"):
        _checks.check_bool_array("mask", np.zeros(2))
    assert _checks.describe_shape((4,)) == "(4,)"
