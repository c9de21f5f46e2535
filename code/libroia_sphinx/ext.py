"""Extensión de Sphinx del libro: un sitio en español que no pide nada fuera.

Qué hace, y por qué:

- Sirve MathJax y plotly.js desde el propio sitio (``book/_vendor/``). La carpeta
  se añade a ``html_static_path`` aquí, no dentro de ``_static/``: Jupyter Book
  convierte cada ``.js`` de ``_static/`` en una etiqueta ``<script>`` en *todas* las
  páginas.
- Registra :mod:`libroia_sphinx.movil`: figuras que se dibujan al acercarse a la
  pantalla (plotly.js se trae la primera vez que hace falta, solo en las páginas
  con figuras; las escribe :mod:`libroia_sphinx.plotly_mime`), fórmulas en MathML
  compuestas al construir, nombres accesibles y portada real.
- Traduce los textos que el tema deja en inglés, y da a la bibliografía un
  estilo en español.
- Registra la directiva ``quiz`` (:mod:`libroia_sphinx.quiz`) y las definiciones
  emergentes del glosario (:mod:`libroia_sphinx.glossary`).
- Copia en ``_static/`` los ficheros de ``code/libroia_sphinx/static/``
  (:func:`libroia_sphinx.add_static_path`).

Se activa en ``_config.yml`` (lista ``sphinx.config.extensions``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

from libroia_sphinx import add_static_path, assets, book_dir, cabecera, glossary, movil, quiz

logger = logging.getLogger(__name__)

PLOTLY_JS = "plotly/plotly-libro.min.js"
MATHJAX_JS = "mathjax/tex-chtml.js"
PACKAGE_DIR = Path(__file__).resolve().parent


def _on_config_inited(app: Sphinx, config: Any) -> None:
    # El contenido de book/_vendor (mathjax/, plotly/) y de book/_static (CSS y JS
    # del libro) se copia en _static/ del sitio.
    static = list(config.html_static_path)
    book = book_dir(app)
    for folder in (book / "_vendor", book / "_static"):
        if folder.is_dir() and str(folder) not in static:
            static.append(str(folder))
    config.html_static_path = static
    config.mathjax_path = MATHJAX_JS


def _on_doctree_read_notebook(app: Sphinx, doctree: Any) -> None:
    """Deja en ``jupyter_execute/`` el cuaderno *con* resultados.

    Con ``execute_notebooks: cache``, myst-nb 1.4 escribe ahí el cuaderno sin
    las salidas que tomó de la caché, y el botón de descarga ofrece ese
    fichero. Aquí se vuelven a fundir las salidas guardadas en jupyter-cache.
    """
    config = app.env.mystnb_config
    path = Path(config.output_folder, *f"{app.env.docname}.ipynb".split("/"))
    if config.execution_mode != "cache" or not path.exists():
        return
    import nbformat
    from jupyter_cache import get_cache

    notebook = nbformat.read(path, as_version=4)
    try:
        _, merged = get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)
    except KeyError:  # cuaderno sin entrada en la caché (p. ej., sin celdas de código)
        return
    nbformat.write(merged, path)


# Textos de la interfaz que Sphinx, el tema o sus extensiones dejan en inglés (o
# sin tilde) con `language: es`. Solo se sustituyen como valor completo de un
# atributo o de un nodo de texto, nunca dentro de la prosa.
UI_ES = {
    "Link to this heading": "Enlace a este encabezado",
    "Link to this equation": "Enlace a esta ecuación",
    "Link to this definition": "Enlace a esta definición",
    "Link to this table": "Enlace a esta tabla",
    "Link to this image": "Enlace a esta imagen",
    "Link to this code": "Enlace a este código",
    "Launch interactive content": "Abrir el contenido interactivo",
    "Launch on Binder": "Abrir en Binder",
    "Binder logo": "Logotipo de Binder",
    "Show source": "Ver el código fuente",
    "Source repositories": "Repositorio del libro",
    "Repository": "Repositorio",
    "Suggest edit": "Editar esta página",
    "Open issue": "Abrir un problema",
    "Toggle hidden content": "Mostrar u ocultar el contenido",
    "Toggle primary sidebar": "Mostrar u ocultar el índice del libro",
    "Toggle secondary sidebar": "Mostrar u ocultar el índice de la página",
    "Descarga esta pagina": "Descarga esta página",
    "Main": "Principal",
    "Page": "Página",
    "Copy to clipboard": "Copiar",
}


def translate_ui(text: str) -> str:
    """Traduce los textos de :data:`UI_ES` en atributos y nodos de texto de un HTML."""
    for en, es in UI_ES.items():
        text = text.replace(f'="{en}"', f'="{html.escape(es)}"')
        text = text.replace(f">{en}<", f">{html.escape(es)}<")
    return text


# Marcado que axe-core marca como error grave y que viene de las extensiones.
A11Y_FIXES = {
    # docutils pone role="list" a la bibliografía, pero sus hijos no son listitem.
    '<div role="list" class="citation-list">': '<div class="citation-list">',
}


def postprocess_html(text: str) -> str:
    """Traducciones (:data:`UI_ES`), accesibilidad (:data:`A11Y_FIXES`) y peso de la página."""
    text = translate_ui(text)
    for bad, good in A11Y_FIXES.items():
        text = text.replace(bad, good)
    text = movil.postprocess_page(text)
    return assets.drop_fontawesome_js(text)


def write_sitemap(app: Sphinx) -> Path:
    """Escribe ``sitemap.xml`` con todas las páginas del libro.

    Se hace aquí y no con sphinx-sitemap porque esa extensión solo lista las
    páginas escritas en la construcción en curso: tras una reconstrucción
    incremental el mapa perdía las que no habían cambiado.
    """
    base = app.config.html_baseurl.rstrip("/") + "/"
    urls = [base + app.builder.get_target_uri(doc) for doc in sorted(app.env.found_docs)]
    lines = ['<?xml version="1.0" encoding="utf-8"?>']
    lines.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    lines += [f"  <url><loc>{html.escape(url)}</loc></url>" for url in urls]
    lines.append("</urlset>")
    path = Path(app.outdir) / "sitemap.xml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    if app.config.html_baseurl:
        write_sitemap(app)
    search_as_you_type = app.config.html_theme_options.get("search_as_you_type", False)
    for page in Path(app.outdir).rglob("*.html"):
        original = page.read_text(encoding="utf-8")
        fixed = postprocess_html(original)
        if not search_as_you_type and page.name != "search.html":
            fixed = assets.drop_search_scripts(fixed)
        if fixed != original:
            page.write_text(fixed, encoding="utf-8")
    for name, (before, after) in assets.subset_icon_fonts(Path(app.outdir)).items():
        if before != after:
            logger.info(f"[libroia] {name}: {before} → {after} bytes")


def _register_bib_style() -> None:
    """Estilo de bibliografía ``es``: el de ``plain`` con «y» y «et al.» en los autores."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.template import FieldIsMissing, join, node, sentence

    @node
    def names_es(children, context, role):
        try:
            persons = context["entry"].persons[role]
        except KeyError as err:
            raise FieldIsMissing(role, context["entry"]) from err
        style = context["style"]
        others = bool(persons) and str(persons[-1]) == "others"
        people = [style.format_name(p, style.abbreviate_names) for p in persons]
        if others:
            return join(sep=", ")[people[:-1]].format_data(context) + " et al."
        return join(sep=", ", sep2=" y ", last_sep=" y ")[people].format_data(context)

    class SpanishStyle(PlainStyle):
        def format_names(self, role, as_sentence=True):
            formatted = names_es(role)
            return sentence[formatted] if as_sentence else formatted

    register_plugin("pybtex.style.formatting", "es", SpanishStyle, force=True)


def setup(app: Sphinx) -> dict[str, Any]:
    _register_bib_style()
    quiz.setup(app)
    glossary.setup(app)
    movil.setup(app)
    cabecera.setup(app)
    add_static_path(app)
    app.add_css_file("libro.css")
    app.connect("config-inited", _on_config_inited)
    app.connect("doctree-read", _on_doctree_read_notebook)
    app.connect("build-finished", _on_build_finished)
    return {
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "version": "0.1",
        # Si cambia el código de estas extensiones, Sphinx rehace todas las páginas.
        "env_version": _source_version(book_dir(app)),
    }


def _source_version(book: Path) -> int:
    """Huella de las extensiones (todo ``libroia_sphinx``) y de los ficheros estáticos.

    Sphinx solo copia los ficheros estáticos cuando hay alguna página que
    reescribir; con esta huella como ``env_version``, cambiar cualquier módulo o
    fichero estático de este paquete, o un fichero de ``book/_vendor`` o
    ``book/_static``, rehace el sitio entero.
    """
    import hashlib

    digest = hashlib.sha256()
    groups = {
        "libroia_sphinx": [p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts],
        "static": [p for p in (PACKAGE_DIR / "static").rglob("*") if p.is_file()],
        "_vendor": [p for p in (book / "_vendor").rglob("*") if p.is_file()],
        "_static": [p for p in (book / "_static").rglob("*") if p.is_file()],
    }
    for group, files in groups.items():
        for path in sorted(files):
            digest.update(f"{group}/{path.name}".encode())
            digest.update(path.read_bytes())
    return int(digest.hexdigest()[:8], 16)
