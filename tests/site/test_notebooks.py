"""El camino de Colab, sin red: los cuadernos descargados funcionan fuera del repositorio.

Se sirve el sitio construido en 127.0.0.1 y se crea un entorno virtual nuevo, que
no es el del proyecto (sin ``--system-site-packages``: así nada de ``.venv`` ni del
sistema se cuela). En él solo se instala lo que tendría un lector con Jupyter
(``ipykernel``, ``nbformat``) y PyTorch (la rueda local para CPU, sin red). Cada
cuaderno de ``_sources/`` se ejecuta con nbclient desde una carpeta temporal
vacía, con su propia celda de preparación apuntando al sitio local: la primera
instala la rueda de ``libroia`` que publica el sitio y las demás ven que ya está.
Los modelos entrenados se reutilizan de la caché de siempre (``~/.cache/libroia``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from libroia_sphinx.notebooks import SETUP_CELL_ID, site_notebooks

from tests.conftest import ROOT, toc_documents
from tests.site.browser import serve

pytestmark = pytest.mark.site

BASEURL = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["html"]["baseurl"]
KERNEL = "libroia-lector"


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def reader_env(tmp_path_factory) -> dict[str, object]:
    """Entorno virtual nuevo con un núcleo de Jupyter registrado fuera del proyecto."""
    root = tmp_path_factory.mktemp("lector")
    venv = root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    result = _run([base, "-m", "venv", str(venv)])
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    result = _run(
        [str(python), "-m", "pip", "install", "--quiet", "ipykernel", "nbformat", "torch==2.13.0"]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    kernels = root / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Lector de libroia",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LIBROIA_BOOK"))}
    env["JUPYTER_PATH"] = str(root / "jupyter")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {"python": python, "env": env, "root": root}


@pytest.fixture(scope="module")
def served_site(site):
    with serve(site) as url:
        yield url + "/"


def chapter_notebooks(site: Path) -> list[Path]:
    """Cuadernos descargables de los documentos del índice, en su orden."""
    by_doc = {
        nb.relative_to(site / "_sources").with_suffix("").as_posix(): nb
        for nb in site_notebooks(site)
    }
    return [by_doc[doc] for doc in toc_documents() if doc in by_doc]


def setup_source(notebook: nbformat.NotebookNode, baseurl: str) -> str:
    cell = notebook.cells[0]
    assert cell.get("id") == SETUP_CELL_ID, "el cuaderno no empieza con la celda de preparación"
    assert BASEURL in cell.source, f"la celda de preparación no usa la baseurl {BASEURL}"
    return cell.source.replace(BASEURL, baseurl)


def test_cada_cuaderno_empieza_con_la_celda_de_preparacion(site):
    notebooks = chapter_notebooks(site)
    assert len(notebooks) >= 10
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        setup_source(notebook, BASEURL)
        # La celda solo está en la descarga: la página HTML no la muestra.
        page = (site / path.relative_to(site / "_sources")).with_suffix(".html")
        assert "LIBROIA_WHEEL" not in page.read_text(encoding="utf-8"), page.name


def test_sin_rueda_la_celda_explica_que_instalar(site, reader_env, served_site):
    """Sin la rueda (404 aquí, igual que sin red): un mensaje en español, sin traza."""
    notebook = nbformat.read(chapter_notebooks(site)[0], as_version=4)
    source = setup_source(notebook, served_site + "no-existe/")
    result = _run([str(reader_env["python"]), "-c", source], env=reader_env["env"],
                  cwd=reader_env["root"], timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "No se pudo instalar libroia" in result.stdout
    assert "pip install" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cada_cuaderno_descargado_se_ejecuta_fuera_del_repositorio(
    site, reader_env, served_site, tmp_path
):
    from nbclient import NotebookClient

    python = str(reader_env["python"])
    before = _run([python, "-c", "import libroia"], env=reader_env["env"], cwd=tmp_path)
    assert before.returncode != 0, "libroia ya estaba en el entorno nuevo"
    timings = {}
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(reader_env["env"])
    try:
        for index, path in enumerate(chapter_notebooks(site)):
            notebook = nbformat.read(path, as_version=4)
            notebook.cells[0].source = setup_source(notebook, served_site)
            folder = tmp_path / path.stem
            folder.mkdir()
            start = time.perf_counter()
            client = NotebookClient(
                notebook,
                kernel_name=KERNEL,
                timeout=900,
                resources={"metadata": {"path": str(folder)}},
            )
            client.execute()  # una celda que falla lanza CellExecutionError
            timings[path.stem] = time.perf_counter() - start
            setup_output = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
            if index == 0:
                assert "Instalando libroia desde " + served_site in setup_output
                assert "Listo: libroia" in setup_output
            else:
                assert setup_output == "", f"{path.name}: {setup_output}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    where = _run([python, "-c", "import libroia; print(libroia.__file__)"],
                 env=reader_env["env"], cwd=tmp_path)  # fmt: skip
    assert str(reader_env["root"]) in where.stdout, where.stdout + where.stderr
    total = sum(timings.values())
    print(f"\ncuadernos fuera del repositorio: {total:.0f} s en total; {timings}")


def test_binder_instala_libroia_desde_la_rama_de_cuadernos(site, reader_env, tmp_path):
    """``binder/postBuild`` en el árbol que publica el flujo (con la rueda dentro)."""
    from libroia_sphinx.notebooks import publish_tree

    branch = tmp_path / "rama"
    written = publish_tree(site, branch, ROOT)
    assert any(name.startswith("binder/libroia-") for name in written)
    result = _run(["bash", "binder/postBuild"], env=reader_env["env"], cwd=branch, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    code = "import libroia, torch; print(torch.__version__)"
    check = _run([str(reader_env["python"]), "-c", code], env=reader_env["env"], cwd=tmp_path)
    assert check.returncode == 0, check.stderr


def test_binder_usa_el_torch_del_proyecto_para_cpu():
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    binder = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    assert f"torch=={pins['torch'].split('+')[0]}+cpu" in binder
    assert "download.pytorch.org/whl/cpu" in binder
    runtime = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}"
