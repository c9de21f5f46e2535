"""Los cuadernos del libro fuera del sitio: celda de preparación, Colab y Binder.

Qué hace esta extensión de Sphinx (se activa con ``libroia_sphinx.notebooks`` en
``sphinx.config.extensions`` de ``_config.yml``):

- **Celda de preparación.** Cada cuaderno descargable (``_sources/<doc>.ipynb``,
  el que ofrece el botón de descarga) empieza con una celda que, si ``import
  libroia`` falla, instala la rueda que publica el propio sitio
  (``<baseurl>/_static/libroia-<versión>-py3-none-any.whl``) y lo cuenta en
  español; sin red imprime qué instalar y cómo. También da un sustituto de
  ``myst_nb.glue`` cuando myst-nb no está (solo hace falta para construir el
  libro). La celda no está en la página HTML: solo en el ``.ipynb``.
- **«Abrir en Colab»** en el menú de lanzamiento de cada capítulo, y el enlace
  de Binder apuntando al mismo cuaderno. Los dos abren la rama
  :data:`NOTEBOOKS_BRANCH` del repositorio, que el flujo de publicación
  (``.github/workflows/pages.yml``) llena con :func:`publish_tree`: los
  cuadernos ejecutados en las mismas rutas que ``_sources/`` y la carpeta
  ``binder/`` con la rueda.
- **Libro en PDF y EPUB** en el menú de descarga, enlazando a las copias que
  publica el mismo flujo en :data:`DOWNLOADS` (``make pdf``, ``make epub``).

Fuera de Sphinx: ``python -m libroia_sphinx.notebooks SITIO SALIDA`` escribe en
``SALIDA`` el árbol de la rama de cuadernos a partir del sitio construido.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

#: Rama del repositorio con los cuadernos ejecutados (la escribe el flujo de publicación).
NOTEBOOKS_BRANCH = "notebooks"
#: Marca de la celda de preparación en los metadatos del cuaderno.
SETUP_CELL_ID = "libroia-preparacion"
#: Libro completo, publicado junto al sitio: ``<baseurl>/<ruta>``.
DOWNLOADS = {
    "pdf": "descargas/como-funciona-chatgpt.pdf",
    "epub": "descargas/como-funciona-chatgpt.epub",
}
COLAB_URL = "https://colab.research.google.com"

SETUP_CELL_TEMPLATE = '''\
# Preparación del cuaderno (solo existe en la descarga; en el libro no se ve).
# Si `libroia`, el paquete del libro, no está instalado (Colab, Binder o tu
# ordenador), lo instala desde la web del libro. Si ya lo está, no hace nada.
import importlib
import subprocess
import sys
import types

LIBROIA_WHEEL = "{wheel_url}"

try:
    import libroia
except ImportError:
    print(f"Instalando libroia desde {{LIBROIA_WHEEL}} …")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", LIBROIA_WHEEL],
        capture_output=True,
        text=True,
    )
    importlib.invalidate_caches()
    if pip.returncode == 0:
        import libroia

        print(f"Listo: libroia {{libroia.__version__}} instalado.")
    else:
        error = (pip.stderr.strip().splitlines() or ["(sin mensaje)"])[-1]
        print(
            "No se pudo instalar libroia (¿estás sin conexión?). Instálalo tú y vuelve\\n"
            "a ejecutar el cuaderno desde el principio. Con conexión:\\n"
            f"    pip install {{LIBROIA_WHEEL}}\\n"
            "o, desde una copia del repositorio del libro (en su carpeta raíz):\\n"
            "    pip install .\\n"
            f"Lo que dijo pip: {{error}}"
        )

# Algunas celdas guardan números con `glue`, de myst-nb, que solo hace falta para
# construir el libro: fuera de él basta con mostrar el valor.
try:
    from myst_nb import glue
except ImportError:

    def glue(name, variable, display=True):
        """Sustituto de `myst_nb.glue`: muestra `variable` si `display` es verdadero."""
        if display:
            from IPython.display import display as show

            show(variable)

    sys.modules["myst_nb"] = types.ModuleType("myst_nb")
    sys.modules["myst_nb"].glue = glue
'''


def wheel_url(baseurl: str, version: str) -> str:
    """URL de la rueda de ``libroia`` que publica el sitio en ``baseurl``.

    >>> wheel_url("https://libroia.github.io/libro/", "0.1.0")
    'https://libroia.github.io/libro/_static/libroia-0.1.0-py3-none-any.whl'
    """
    if not baseurl.startswith(("https://", "http://")):
        raise ValueError(f"`baseurl` debe ser una URL http(s), pero vale {baseurl!r}")
    return f"{baseurl.rstrip('/')}/_static/libroia-{version}-py3-none-any.whl"


def setup_cell_source(url: str) -> str:
    """Código de la celda de preparación que instala la rueda de ``url``.

    >>> "pip" in setup_cell_source("https://x.org/_static/libroia-0.1.0-py3-none-any.whl")
    True
    """
    if '"' in url or "\\" in url or not url.startswith(("https://", "http://")):
        raise ValueError(f"`url` debe ser una URL http(s) sin comillas, pero vale {url!r}")
    return SETUP_CELL_TEMPLATE.format(wheel_url=url)


def add_setup_cell(notebook: Any, url: str) -> bool:
    """Pone la celda de preparación al principio de ``notebook`` (un ``NotebookNode``).

    Si ya la tiene, solo actualiza su código. Devuelve si el cuaderno cambió.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> url = "https://x.org/_static/libroia-0.1.0-py3-none-any.whl"
    >>> add_setup_cell(nb, url), add_setup_cell(nb, url), len(nb.cells)
    (True, False, 2)
    """
    import nbformat

    source = setup_cell_source(url)
    first = notebook.cells[0] if notebook.cells else None
    if first is not None and first.get("id") == SETUP_CELL_ID:
        if first.source == source:
            return False
        first.source = source
        return True
    cell = nbformat.v4.new_code_cell(source)
    cell.id = SETUP_CELL_ID
    cell.metadata["tags"] = ["libroia-preparacion"]
    notebook.cells.insert(0, cell)
    if notebook.nbformat == 4 and notebook.nbformat_minor < 5:
        notebook.nbformat_minor = 5  # los identificadores de celda son de nbformat 4.5
    return True


def github_repo(repository_url: str) -> tuple[str, str]:
    """``(usuario, repositorio)`` de una URL de GitHub.

    >>> github_repo("https://github.com/libroia/como-funciona-chatgpt")
    ('libroia', 'como-funciona-chatgpt')
    """
    parsed = urlparse(repository_url)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.hostname != "github.com" or len(parts) < 2:
        raise ValueError(
            f"`repository_url` debe ser https://github.com/USUARIO/REPO, pero vale "
            f"{repository_url!r}"
        )
    return parts[0], parts[1].removesuffix(".git")


def notebook_path(docname: str) -> str:
    """Ruta del cuaderno de ``docname`` en la rama :data:`NOTEBOOKS_BRANCH`.

    Es la misma que en ``_sources/`` del sitio:

    >>> notebook_path("book/04_atencion")
    'book/04_atencion.ipynb'
    """
    return f"{docname}.ipynb"


def colab_url(repository_url: str, docname: str, branch: str = NOTEBOOKS_BRANCH) -> str:
    """Enlace que abre en Colab el cuaderno de ``docname`` publicado en ``branch``.

    >>> colab_url("https://github.com/u/r", "book/04_atencion")
    'https://colab.research.google.com/github/u/r/blob/notebooks/book/04_atencion.ipynb'
    """
    user, repo = github_repo(repository_url)
    return f"{COLAB_URL}/github/{user}/{repo}/blob/{branch}/{notebook_path(docname)}"


def binder_url(
    binderhub_url: str, repository_url: str, docname: str, branch: str = NOTEBOOKS_BRANCH
) -> str:
    """Enlace que abre en Binder (JupyterLab) el cuaderno de ``docname`` de ``branch``.

    >>> binder_url("https://mybinder.org", "https://github.com/u/r", "book/04_atencion")
    'https://mybinder.org/v2/gh/u/r/notebooks?urlpath=lab/tree/book/04_atencion.ipynb'
    """
    user, repo = github_repo(repository_url)
    hub = binderhub_url.rstrip("/")
    return f"{hub}/v2/gh/{user}/{repo}/{branch}?urlpath=lab/tree/{notebook_path(docname)}"


def site_notebooks(site: Path) -> list[Path]:
    """Cuadernos descargables de un sitio construido (``_sources/**/*.ipynb``)."""
    return sorted((Path(site) / "_sources").rglob("*.ipynb"))


def publish_tree(site: Path, out: Path, repo_root: Path) -> list[str]:
    """Escribe en ``out`` el contenido de la rama :data:`NOTEBOOKS_BRANCH`.

    - cada ``_sources/<doc>.ipynb`` de ``site`` en ``out/<doc>.ipynb``
      (:func:`notebook_path`), ya con su celda de preparación;
    - ``binder/`` de ``repo_root`` y, dentro, la rueda de ``site/_static``, que
      ``binder/postBuild`` instala;
    - un ``README.md`` que explica la rama.

    ``out`` se vacía antes. Devuelve las rutas escritas, relativas a ``out``.
    """
    site, out, repo_root = Path(site), Path(out), Path(repo_root)
    notebooks = site_notebooks(site)
    wheels = sorted((site / "_static").glob("libroia-*-py3-none-any.whl"))
    if not notebooks:
        raise ValueError(f"`site` no tiene cuadernos en _sources/: {site}")
    if len(wheels) != 1:
        raise ValueError(f"`site` debe tener una rueda de libroia en _static/, pero tiene {wheels}")
    if out.exists():
        shutil.rmtree(out)
    written = []
    for nb in notebooks:
        rel = nb.relative_to(site / "_sources").as_posix()
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, out / rel)
        written.append(rel)
    shutil.copytree(repo_root / "binder", out / "binder")
    shutil.copyfile(wheels[0], out / "binder" / wheels[0].name)
    written += [p.relative_to(out).as_posix() for p in sorted((out / "binder").rglob("*"))]
    (out / "README.md").write_text(BRANCH_README, encoding="utf-8")
    written.append("README.md")
    return written


BRANCH_README = """\
# Cuadernos de «¿Cómo funciona ChatGPT?»

Esta rama la escribe el flujo de publicación del libro en cada cambio de `main`:
no la edites a mano. Tiene el cuaderno de cada capítulo ya ejecutado, con una
primera celda que instala `libroia` si hace falta, y la configuración de Binder
(`binder/`, con la rueda de `libroia` y PyTorch solo para CPU).

Los botones «Abrir en Colab» y «Binder» de cada página del libro abren estos
cuadernos. El código fuente del libro está en la rama `main`.
"""


# --- Sphinx -----------------------------------------------------------------


def _theme_options(app: Any) -> dict[str, Any]:
    return dict(app.config.html_theme_options or {})


def _on_page_context(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Colab en el menú de lanzamiento, Binder al cuaderno publicado, el libro en descargas."""
    buttons = context.get("header_buttons")
    if not buttons:
        return
    options = _theme_options(app)
    repository_url = options.get("repository_url", "")
    baseurl = (app.config.html_baseurl or "").rstrip("/")
    for group in buttons:
        if group.get("label") == "launch-buttons" and context.get("ipynb_source"):
            launch = options.get("launch_buttons", {})
            for button in group["buttons"]:
                if button.get("text") == "Binder" and launch.get("binderhub_url"):
                    button["url"] = binder_url(launch["binderhub_url"], repository_url, pagename)
            group["buttons"].append(
                {
                    "type": "link",
                    "text": "Abrir en Colab",
                    "tooltip": "Abrir este capítulo en Google Colab",
                    "icon": "_static/images/logo_colab.png",
                    "url": colab_url(repository_url, pagename),
                    "label": "colab-button",
                }
            )
        if group.get("label") == "download-buttons" and baseurl:
            for kind, path in DOWNLOADS.items():
                group["buttons"].append(
                    {
                        "type": "link",
                        "text": f"Libro en {kind.upper()}",
                        "tooltip": f"Descargar el libro entero en {kind.upper()}",
                        "icon": "fas fa-file-pdf" if kind == "pdf" else "fas fa-book",
                        "url": f"{baseurl}/{path}",
                        "label": f"book-{kind}-button",
                    }
                )


def _fix_logo_alt(site: Path) -> None:
    """El tema pone al logotipo el texto del enlace más «logo», en inglés."""
    bad = 'alt="Abrir en Colab logo"'
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if bad in text:
            page.write_text(text.replace(bad, 'alt="Logotipo de Colab"'), encoding="utf-8")


def _on_build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.name not in ("html", "dirhtml"):
        return
    import nbformat

    import libroia

    site = Path(app.outdir)
    if app.config.html_baseurl:
        # La versión del paquete instalado: un libro fuera del repositorio (la plantilla en
        # las pruebas) no tiene code/libroia/ a su lado.
        url = wheel_url(app.config.html_baseurl, libroia.__version__)
        for path in site_notebooks(site):
            notebook = nbformat.read(path, as_version=4)
            if add_setup_cell(notebook, url):
                nbformat.write(notebook, path)
    _fix_logo_alt(site)


def setup(app: Any) -> dict[str, Any]:
    # El libro en PDF y EPUB (solo con los constructores singlehtml y epub).
    app.setup_extension("libroia_sphinx.printed")
    # Después del tema (prioridad 501), que crea los menús de lanzamiento y descarga.
    app.connect("html-page-context", _on_page_context, priority=600)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("uso: python -m libroia_sphinx.notebooks SITIO SALIDA", file=sys.stderr)
        return 2
    written = publish_tree(Path(argv[0]), Path(argv[1]), Path.cwd())
    print(json.dumps(written, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
