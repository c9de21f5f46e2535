"""Extensiones de Sphinx del libro «¿Cómo funciona ChatGPT?».

Este paquete construye el sitio; no forma parte de :mod:`libroia`, el paquete
del lector, que nunca importa Sphinx. Se instala aparte, en modo editable, con
su propio ``pyproject.toml`` (``pip install -e code/libroia_sphinx``; lo hace
``make venv``), que también registra el renderizador de plotly en el punto de
entrada ``myst_nb.mime_renderers``.

Cada módulo con una función ``setup(app)`` es una extensión de Sphinx y se
activa por su nombre en la lista ``sphinx.config.extensions`` de ``_config.yml``:

- :mod:`libroia_sphinx.ext`: la extensión principal (recursos locales, textos de
  la interfaz en español, peso de las páginas, mapa del sitio); registra además
  :mod:`~libroia_sphinx.quiz` y :mod:`~libroia_sphinx.glossary`.
- :mod:`libroia_sphinx.plotly_mime`: las figuras de plotly en HTML.
- :mod:`libroia_sphinx.assets`: funciones de recorte de páginas y fuentes.

Los ficheros estáticos de las extensiones van en ``static/<extensión>/`` y se
copian tal cual en ``_static/<extensión>/`` del sitio: basta con llamar a
:func:`add_static_path` en ``setup`` y después, por ejemplo,
``app.add_js_file("laboratorio/laboratorio.js")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

#: Carpeta con los ficheros estáticos de todas las extensiones de este paquete.
STATIC_DIR = Path(__file__).resolve().parent / "static"


def add_static_path(app: Any) -> None:
    """Hace que :data:`STATIC_DIR` se copie en ``_static/`` del sitio.

    Se puede llamar desde el ``setup`` de varias extensiones: la carpeta se
    añade a ``html_static_path`` una sola vez.
    """

    def _add(app: Any, config: Any) -> None:
        static = [str(p) for p in config.html_static_path]
        if STATIC_DIR.is_dir() and str(STATIC_DIR) not in static:
            config.html_static_path = [*config.html_static_path, str(STATIC_DIR)]

    app.connect("config-inited", _add)


def book_dir(app: Any) -> Path:
    """Carpeta ``book/`` del libro que se está construyendo (junto a ``_config.yml``)."""
    return Path(app.srcdir) / "book"
