"""El paquete se importa como `libroia` desde cualquier carpeta, sin tapar al `code` estándar."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

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


# Importa cada módulo de libroia con Sphinx, docutils y myst bloqueados: si alguno
# los necesitara, la importación fallaría aquí (y en la rueda del lector, sin Sphinx).
_BLOCKED_IMPORT = """
import importlib, pkgutil, sys

BLOCKED = ("sphinx", "docutils", "myst_nb", "myst_parser", "jupyter_book", "libroia_sphinx")

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"bloqueado en esta prueba: {name}")
        return None

sys.meta_path.insert(0, Block())
import libroia
names = ["libroia"] + [m.name for m in pkgutil.walk_packages(libroia.__path__, "libroia.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
print(len(names))
"""


def test_ningun_modulo_de_libroia_importa_sphinx():
    out = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT], cwd="/", capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    modules = {p.stem for p in (ROOT / "code" / "libroia").rglob("*.py")}
    assert int(out.stdout) >= len(modules) - 1  # los __init__.py cuentan como su paquete
    assert not any(name.startswith("sphinx") for name in modules)


def test_la_extension_de_sphinx_es_otro_paquete():
    """El renderizador de plotly pertenece a la distribución libroia-sphinx, no a libroia."""
    from importlib.metadata import distribution, entry_points

    (plotly,) = [ep for ep in entry_points(group="myst_nb.mime_renderers") if ep.name == "plotly"]
    assert plotly.dist.name == "libroia-sphinx"
    assert plotly.value.startswith("libroia_sphinx.")
    assert not (distribution("libroia").entry_points.select(group="myst_nb.mime_renderers"))


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


# --- La rueda del lector (issue 14): solo libroia, con sus dependencias reales y sus datos ---


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """La rueda de libroia, construida como la construye el sitio (``libroia_sphinx.wheel``)."""
    from libroia_sphinx.wheel import build_wheel

    return build_wheel(ROOT, tmp_path_factory.mktemp("rueda"))


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_la_rueda_solo_lleva_libroia_y_sus_datos(wheel):
    names = _wheel_names(wheel)
    assert wheel.name == f"libroia-{libroia.__version__}-py3-none-any.whl"
    dist_info = f"libroia-{libroia.__version__}.dist-info/"
    assert all(n.startswith(("libroia/", dist_info)) for n in names), names
    assert not [n for n in names if re.search(r"sphinx|(^|/)(tests?|conftest)[/_.]", n.lower())]
    modules = {
        f"libroia/{p.relative_to(ROOT / 'code' / 'libroia').as_posix()}"
        for p in (ROOT / "code" / "libroia").rglob("*.py")
    }
    assert modules <= set(names), modules - set(names)
    assert "libroia/datos/prosa/manifiesto.json" in names
    assert "libroia/py.typed" in names


def _imports_of(source: str) -> set[str]:
    """Módulos de primer nivel que importa un fichero (también dentro de funciones)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _requires_dist(metadata: str) -> set[str]:
    names = set()
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:"):
            name = re.split(r"[\s;<>=!~\[(]", line.split(":", 1)[1].strip())[0]
            names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_la_rueda_declara_cada_importacion(wheel):
    """``Requires-Dist`` cubre cada biblioteca que importa el paquete, y nada más."""
    from importlib.metadata import packages_distributions

    with zipfile.ZipFile(wheel) as zf:
        imported = set()
        for name in zf.namelist():
            if name.endswith(".py"):
                imported |= _imports_of(zf.read(name).decode("utf-8"))
        metadata = zf.read(f"libroia-{libroia.__version__}.dist-info/METADATA").decode()
    third_party = imported - set(sys.stdlib_module_names) - {"libroia", "__future__"}
    dists = packages_distributions()
    missing = [m for m in third_party if m not in dists]
    assert not missing, f"módulos sin distribución instalada: {missing}"
    needed = {re.sub(r"[-_.]+", "-", dists[m][0]).lower() for m in third_party}
    declared = _requires_dist(metadata)
    assert needed == declared, f"faltan {needed - declared}; sobran {declared - needed}"
    assert not {d for d in declared if d.startswith(("sphinx", "docutils", "myst", "jupyter"))}


def test_la_prosa_de_la_rueda_es_la_del_libro(wheel):
    from libroia.corpus import chapter_prose

    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        zf.extractall(tmp, [n for n in zf.namelist() if n.startswith("libroia/datos/")])
        from libroia.data import read_snapshot

        assert read_snapshot(Path(tmp, "libroia", "datos", "prosa")) == chapter_prose(ROOT / "book")


def test_la_rueda_instalada_funciona_fuera_del_repositorio(wheel, tmp_path):
    """Un entorno virtual nuevo con la rueda: desde una carpeta vacía, el mismo texto.

    Las dependencias (torch, numpy...) no se reinstalan: el entorno nuevo ve las
    del proyecto con un ``.pth`` que añade su ``site-packages`` al final de
    ``sys.path``. Un ``.pth`` así no ejecuta los ``.pth`` de esa carpeta, así que
    el ``libroia`` editable del proyecto no se cuela: se importa el de la rueda.
    """
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-deps", "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "_dependencias_del_proyecto.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    empty = tmp_path / "vacia"
    empty.mkdir()
    script = (
        "import sys, libroia, libroia.corpus as c, libroia.data as d\n"
        "print(libroia.__file__); print(d.locate_book().origin)\n"
        "sys.stdout.write(c.book_prose())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"LIBROIA_BOOK_DIR", "PYTHONPATH"}}
    out = subprocess.run(
        [str(python), "-c", script], cwd=empty, env=env,
        capture_output=True, text=True, encoding="utf-8",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    where, origin, prose = out.stdout.split("\n", 2)
    assert where.startswith(str(venv)), where
    assert origin == "paquete"
    from libroia.corpus import book_prose

    assert prose == book_prose(ROOT / "book")


def test_el_mapa_de_capitulos_nombra_cada_modulo():
    """El docstring de ``libroia`` dice en qué capítulo está cada módulo público."""
    import pkgutil

    import libroia

    modules = {
        m.name for m in pkgutil.iter_modules(libroia.__path__)
        if not m.name.startswith("_") and m.name != "plots"
    }
    missing = sorted(m for m in modules if f"``{m}``" not in libroia.__doc__)
    assert not missing, f"módulos sin capítulo en el docstring de libroia: {missing}"
