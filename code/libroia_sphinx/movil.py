"""Rápido y cómodo en un teléfono: figuras perezosas, fórmulas ya compuestas, portada real.

Lo registra :mod:`libroia_sphinx.ext` (no hace falta añadirlo a ``_config.yml``).
Qué hace, y por qué (issue 17; medidas en ``benchmarks/bench_lighthouse.py``):

- **Figuras perezosas.** En las páginas con figuras de plotly se carga solo
  ``_static/figuras/figuras-plotly.js`` (diferido, unos pocos kB); este trae
  plotly.js y dibuja cada figura cuando se acerca a la pantalla, con los colores
  del tema y la leyenda debajo en pantallas estrechas (ver
  :mod:`libroia_sphinx.plotly_mime`). Antes, el JSON de todas las figuras se
  interpretaba al cargar la página: segundos de CPU en un teléfono modesto.
- **Fórmulas compuestas al construir.** :func:`typeset_math` pasa cada fórmula de
  TeX a MathML (con el MathJax local, en el Chromium de Debian, a través de
  :mod:`libroia_sphinx.chromium`) y quita MathJax de las páginas: el navegador
  dibuja MathML sin ejecutar nada. Si no hay Chromium o Playwright, las páginas
  conservan MathJax y se avisa.
- **Nombres accesibles** (WCAG 2.5.3, regla ``label-content-name-mismatch`` de
  axe-core): :func:`fix_accessible_names` quita el ``aria-label`` que tapaba el
  texto visible del botón de búsqueda y de los desplegables «Mostrar el código».
- **Portada.** :func:`root_page` convierte la página raíz del libro en
  ``index.html`` (en lugar de la redirección de una línea de Jupyter Book): con
  ``lang``, título y tarjeta social, y sin un viaje más de ida y vuelta.
- Un icono del sitio (``_static/figuras/icono.svg``) si ``_config.yml`` no declara
  otro: sin él, cada página pide ``/favicon.ico`` y la consola anota un 404.
- ``_static/figuras/movil.css``: ecuaciones y código que no caben se desplazan
  (con barra visible) en lugar de cortarse.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

from libroia_sphinx import add_static_path, book_dir

logger = logging.getLogger(__name__)

FIGURES_JS = "figuras/figuras-plotly.js"
MOBILE_CSS = "figuras/movil.css"
FAVICON = "_static/figuras/icono.svg"

# --- Nombres accesibles -------------------------------------------------------

# Botón de búsqueda con texto visible («Búsqueda Ctrl+K»): su aria-label («Búsqueda»)
# no contiene todo el texto visible. Sin aria-label, el nombre es el texto visible.
_SEARCH_BUTTON = re.compile(
    r'(<button class="btn search-button-field[^"]*"[^>]*?)\s+aria-label="[^"]*"([^>]*>)'
)
# Desplegables de sphinx-togglebutton («Mostrar el código» / «Ocultar el código»).
_TOGGLE_SUMMARY = re.compile(
    r'<summary aria-label="(?:Toggle hidden content|Mostrar u ocultar el contenido)">'
)


def fix_accessible_names(page_html: str) -> str:
    """Quita los ``aria-label`` que no contienen el texto visible del control.

    >>> fix_accessible_names('<summary aria-label="Toggle hidden content"><p>Ver</p>')
    '<summary><p>Ver</p>'
    >>> fix_accessible_names(
    ...     '<button class="btn search-button-field x" title="B" aria-label="B" data-x="y">')
    '<button class="btn search-button-field x" title="B" data-x="y">'
    """
    page_html = _SEARCH_BUTTON.sub(r"\1\2", page_html)
    return _TOGGLE_SUMMARY.sub("<summary>", page_html)


# El tema guarda el modo (claro, oscuro, automático) en localStorage; sin nada guardado
# escribe data-mode="" y su JavaScript lo corrige con un error en la consola (Lighthouse
# lo cuenta en «buenas prácticas»). El tema de partida sale de la preferencia del
# sistema ya en el <head>: la página no parpadea en claro antes de pasar a oscuro.
_THEME_MODE = (
    (
        'document.documentElement.dataset.mode = localStorage.getItem("mode") || "";',
        'document.documentElement.dataset.mode = localStorage.getItem("mode") || "auto";',
    ),
    (
        'document.documentElement.dataset.theme = localStorage.getItem("theme") || "";',
        'document.documentElement.dataset.theme = localStorage.getItem("theme") || '
        '(matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");',
    ),
)


def fix_theme_mode(page_html: str) -> str:
    """Modo «auto» y tema del sistema por omisión en el ``<head>`` (ver :data:`_THEME_MODE`).

    >>> head = 'document.documentElement.dataset.mode = localStorage.getItem("mode") || "";'
    >>> fix_theme_mode(head).endswith('getItem("mode") || "auto";')
    True
    """
    for bad, good in _THEME_MODE:
        page_html = page_html.replace(bad, good)
    return page_html


def postprocess_page(page_html: str) -> str:
    """Lo que este módulo corrige en cada página HTML (nombres accesibles y modo del tema)."""
    return fix_theme_mode(fix_accessible_names(page_html))


# --- Portada -----------------------------------------------------------------

_URL_ATTR = re.compile(r'(\s(?:href|src|action)=")([^"]*)(")')
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|/|#|$)")


def rebase_url(url: str, folder: str) -> str:
    """URL relativa de una página de ``folder/`` vista desde la raíz del sitio.

    >>> rebase_url("../_static/x.js?v=1", "book")
    '_static/x.js?v=1'
    >>> rebase_url("01_a.html#s", "book"), rebase_url("#top", "book")
    ('book/01_a.html#s', '#top')
    >>> rebase_url("https://e.org/a", "book")
    'https://e.org/a'
    """
    if _ABSOLUTE.match(url):
        return url
    path, sep, rest = _split(url)
    return posixpath.normpath(posixpath.join(folder, path)) + sep + rest


def _split(url: str) -> tuple[str, str, str]:
    match = re.search(r"[?#]", url)
    if not match:
        return url, "", ""
    return url[: match.start()], url[match.start()], url[match.start() + 1 :]


def root_page(page_html: str, folder: str) -> str:
    """La página ``folder/<raíz>.html`` reescrita para servirse como ``index.html``.

    >>> root_page('<html data-content_root="../"><a href="02.html">', "book")
    '<html data-content_root="./"><a href="book/02.html">'
    """
    depth = folder.count("/") + 1
    page_html = page_html.replace(
        f'data-content_root="{"../" * depth}"', 'data-content_root="./"', 1
    )
    return _URL_ATTR.sub(lambda m: m.group(1) + rebase_url(m.group(2), folder) + m.group(3),
                         page_html)


def write_root_page(app: Sphinx) -> Path | None:
    """Escribe ``index.html`` con la página raíz del libro (si no es ya ``index``)."""
    root = app.config.root_doc
    if root == "index" or "/" not in root:
        return None
    source = Path(app.outdir) / f"{root}.html"
    if not source.exists():
        return None
    folder = posixpath.dirname(root)
    target = Path(app.outdir) / "index.html"
    target.write_text(root_page(source.read_text(encoding="utf-8"), folder), encoding="utf-8")
    return target


# --- Datos de las figuras, fuera de la página ------------------------------------

#: Carpeta de ``_static`` con los datos de cada figura (un script por figura).
FIGURE_DATA_DIR = "figuras/datos"

_FIGURE_DATA = re.compile(
    r'(<div class="plotly-graph-div" style="[^"]*")></div>'
    r'<script type="application/json">(.*?)</script>',
    re.S,
)


def figure_data_script(key: str, figure_json: str) -> str:
    """Script clásico que deja la figura ``key`` en ``window.libroiaFiguras``.

    Un ``<script src>`` funciona también desde ``file://``, donde ``fetch`` no
    puede leer ficheros.

    >>> print(figure_data_script("ab12", '{"data":[]}'), end="")
    (window.libroiaFiguras = window.libroiaFiguras || {})["ab12"] = {"data":[]};
    """
    return f'(window.libroiaFiguras = window.libroiaFiguras || {{}})["{key}"] = {figure_json};\n'


def externalise_figures(page_html: str, static_url: str, static_dir: Path) -> tuple[str, int]:
    """Saca el JSON de cada figura de la página a ``_static/figuras/datos/<clave>.js``.

    El ``<div>`` de la figura se queda con ``data-datos`` (la URL del script,
    ``static_url`` es la de ``_static`` vista desde la página) y ``data-clave``;
    ``figuras-plotly.js`` lo trae cuando la figura se acerca a la pantalla. Así
    la página no descarga los datos de figuras que el lector quizá nunca mira.
    Devuelve la página y cuántas figuras sacó.
    """
    count = 0

    def sub(match: re.Match[str]) -> str:
        nonlocal count
        data = match.group(2)
        key = hashlib.sha1(data.encode("utf-8")).hexdigest()[:16]
        target = static_dir / FIGURE_DATA_DIR / f"{key}.js"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(figure_data_script(key, data), encoding="utf-8")
        count += 1
        url = f"{static_url}/{FIGURE_DATA_DIR}/{key}.js"
        return f'{match.group(1)} data-datos="{url}" data-clave="{key}"></div>'

    return _FIGURE_DATA.sub(sub, page_html), count


def externalise_site_figures(outdir: Path, pages: list[Path]) -> int:
    """:func:`externalise_figures` en cada página del sitio; devuelve cuántas figuras sacó."""
    total = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if 'type="application/json"' not in text:
            continue
        depth = len(page.relative_to(outdir).parts) - 1
        static_url = "/".join([".."] * depth + ["_static"])
        fixed, count = externalise_figures(text, static_url, outdir / "_static")
        if count:
            page.write_text(fixed, encoding="utf-8")
            total += count
    return total


# --- Fórmulas ----------------------------------------------------------------

_INLINE_MATH = re.compile(r'(<span class="math notranslate nohighlight">)\\\((.*?)\\\)(</span>)',
                          re.S)
# En bloque: \[...\] o, con `nowrap` (entornos de amsmath), el entorno tal cual.
_DISPLAY_MATH = re.compile(
    r'(<div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">.*?</span>)?)'
    r"([^<]*?)(\s*</div>)",
    re.S,
)
_MATHJAX_TAGS = re.compile(
    r'\s*<script>window\.MathJax = [^<]*</script>|\s*<script[^>]*src="[^"]*mathjax/[^"]*"[^>]*>'
    r"</script>"
)


def find_formulas(page_html: str) -> list[tuple[str, bool]]:
    """Fórmulas ``(tex, display)`` de una página tal como las escribe ``sphinx.ext.mathjax``.

    >>> find_formulas('<span class="math notranslate nohighlight">\\\\(a &lt; b\\\\)</span>')
    [('a < b', False)]
    """
    found = [(_tex(m.group(2)), False) for m in _INLINE_MATH.finditer(page_html)]
    found += [(_tex(m.group(2)), True) for m in _DISPLAY_MATH.finditer(page_html)]
    return found


def _tex(source: str) -> str:
    r"""TeX de una fórmula del HTML: sin entidades ni los delimitadores ``\[ \]``."""
    tex = html.unescape(source).strip()
    if tex.startswith("\\[") and tex.endswith("\\]"):
        tex = tex[2:-2].strip()
    return tex


def replace_formulas(page_html: str, mathml: dict[tuple[str, bool], str]) -> tuple[str, int]:
    """Sustituye cada fórmula por su MathML; devuelve la página y cuántas quedan sin MathML.

    Si todas tienen MathML, quita además MathJax (su configuración y su ``<script>``).

    >>> page = '<script>window.MathJax = {}</script><span class="math notranslate nohighlight">'
    >>> replace_formulas(page + '\\\\(x\\\\)</span>', {("x", False): "<math><mi>x</mi></math>"})
    ('<span class="math notranslate nohighlight"><math><mi>x</mi></math></span>', 0)
    """
    missing = 0

    def sub(match: re.Match[str], display: bool) -> str:
        nonlocal missing
        key = (_tex(match.group(2)), display)
        if key not in mathml:
            missing += 1
            return match.group(0)
        start = match.group(1)
        if display:
            # Una ecuación más ancha que la columna se desplaza: con tabindex se puede
            # desplazar también con el teclado (regla scrollable-region-focusable).
            start = start.replace("<div ", '<div tabindex="0" ', 1)
        return start + mathml[key] + match.group(3)

    page_html = _INLINE_MATH.sub(lambda m: sub(m, False), page_html)
    page_html = _DISPLAY_MATH.sub(lambda m: sub(m, True), page_html)
    if not missing:
        page_html = _MATHJAX_TAGS.sub("", page_html)
    return page_html, missing


def _block(mathml: str) -> str:
    """MathML en bloque (``display="block"``), lo ponga MathJax o no."""
    if 'display="block"' in mathml:
        return mathml
    return mathml.replace("<math", '<math display="block"', 1)


def typeset_math(app: Sphinx, pages: list[Path]) -> int:
    """Pasa a MathML todas las fórmulas de ``pages`` y quita MathJax; devuelve cuántas.

    Las conversiones se guardan en ``<doctreedir>/libroia-mathml.json``: una
    reconstrucción solo arranca Chromium si hay fórmulas nuevas.
    """
    cache_path = Path(app.doctreedir) / "libroia-mathml.json"
    cache: dict[str, str] = {}
    if cache_path.exists():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    texts = {page: page.read_text(encoding="utf-8") for page in pages}
    formulas = {f for text in texts.values() for f in find_formulas(text)}
    todo = sorted(f for f in formulas if json.dumps(f) not in cache)
    if todo:
        try:
            from libroia_sphinx.chromium import render

            _, results = render([], todo, book_dir(app) / "_vendor")
        except Exception as err:  # sin Chromium o sin Playwright: queda MathJax
            # Solo un aviso informativo: `make html` debe funcionar con Python y pip solos.
            logger.info(
                f"[libroia] no pude componer las fórmulas al construir ({err}); "
                "las páginas usan MathJax"
            )
            return 0
        for (tex, display), mathml in zip(todo, results, strict=True):
            if mathml is None:
                logger.warning(
                    f"[libroia] MathJax no entiende la fórmula {tex!r}",
                    type="libroia",
                    subtype="math",
                )
                continue
            cache[json.dumps([tex, display])] = _block(mathml) if display else mathml
        cache_path.write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
    mathml = {tuple(json.loads(k)): v for k, v in cache.items()}
    for page, text in texts.items():
        fixed, _ = replace_formulas(text, mathml)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
    return len(formulas)


# --- Sphinx --------------------------------------------------------------------


def _on_page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if "plotly-graph-div" in context.get("body", ""):
        app.add_js_file(FIGURES_JS, loading_method="defer")
    if not context.get("favicon_url") and "pathto" in context:
        # Sin icono declarado, el navegador pide /favicon.ico (un 404 en la consola).
        icon = context["pathto"](FAVICON, 1)
        link = f'<link rel="icon" href="{icon}" type="image/svg+xml" />'
        context["metatags"] = context.get("metatags", "") + "\n" + link


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    # Solo el sitio web: singlehtml (el PDF) y epub tienen su propio camino
    # (libroia_sphinx.printed).
    if exception is not None or app.builder.name not in ("html", "dirhtml"):
        return
    # Antes que sphinx_external_toc (prioridad 500), que solo escribe su
    # redirección si index.html no existe; después, libroia_sphinx.ext
    # repasa todas las páginas, la portada incluida.
    write_root_page(app)
    pages = [p for p in Path(app.outdir).rglob("*.html") if "_static" not in p.parts]
    n = typeset_math(app, pages)
    if n:
        logger.info(f"[libroia] {n} fórmulas compuestas en MathML al construir")
    n = externalise_site_figures(Path(app.outdir), pages)
    if n:
        logger.info(f"[libroia] datos de {n} figuras fuera de las páginas")


def setup(app: Sphinx) -> dict[str, Any]:
    add_static_path(app)
    app.add_css_file(MOBILE_CSS)
    app.connect("html-page-context", _on_page_context)
    app.connect("build-finished", _on_build_finished, priority=450)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
