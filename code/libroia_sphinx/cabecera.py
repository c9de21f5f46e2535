"""Nada que bloquee la primera pintura: una hoja de estilo recortada y scripts diferidos.

Lo registra :mod:`libroia_sphinx.ext` (no hace falta añadirlo a ``_config.yml``).
Un teléfono no pinta nada hasta tener todas las hojas de estilo del ``<head>`` y
haber ejecutado cada ``<script src>`` síncrono que encuentra antes del cuerpo. El
tema trae doce hojas de estilo (una de ellas, la de pydata-sphinx-theme, con todo
Bootstrap: 65 kB con gzip, de los que una página del libro usa menos de una
décima parte) y nueve scripts síncronos. Con la red móvil que simula Lighthouse,
cada petición cuesta un viaje de ida y vuelta de 150 ms. Tras construir el sitio:

- :func:`bundle_styles` junta las hojas de estilo locales de cada página, en su
  orden, en un único fichero ``_static/estilos/libro-<clave>.css`` (con los
  ``@import`` ya dentro y las ``url(...)`` reescritas), y le quita las reglas
  cuyos selectores nombran una clase o un identificador que no aparece en ninguna
  página del sitio ni en ningún JavaScript de ``_static`` (:func:`prune_css`).
  La etiqueta del paquete guarda en ``data-partes`` los ficheros de origen, así
  que se puede rehacer en cada construcción, también la incremental.
- :func:`defer_scripts` añade ``defer`` a los scripts locales del ``<head>`` (se
  ejecutan en el mismo orden, cuando el documento ya está leído) y mete dentro de
  la página el único del que dependen los scripts en línea
  (``documentation_options.js``, 300 bytes). Quita también las precargas de
  scripts, que competían con el CSS por la red antes de la primera pintura.

- :func:`lazy_tab_stops` cambia cuándo se decide qué bloques de código reciben
  el foco del teclado (regla ``scrollable-region-focusable`` de axe). Al
  terminar de cargar, pydata-sphinx-theme mide el ancho de cada ``<pre>`` y de
  cada salida para decidir si lleva ``tabindex``; esas lecturas obligan a
  maquetar la página entera de golpe, también las secciones que ``movil.css``
  deja sin maquetar mientras están lejos (``content-visibility: auto``). Era una
  tarea larga que en el teléfono que simula Lighthouse costaba 250-450 ms de
  bloqueo (el TBT de un capítulo bajaba a 0-90 ms sin ella). Ahora cada
  ``<pre>`` sale del HTML ya enfocable (:func:`focusable_code`) y
  ``_static/cabecera/foco.js`` mide la primera vez que el lector pulsa el
  tabulador; el script del tema, retocado en la copia de ``_static``, solo mide
  a través de ese fichero. Si el tema cambia y el fragmento no aparece, la
  construcción avisa (y con ``-W`` falla): hay que revisar el retoque.

- ``_static/cabecera/secciones.js``: ``movil.css`` deja sin maquetar las
  secciones lejanas (``content-visibility: auto``), lo que ahorraba otros
  150-350 ms de bloqueo en ese teléfono; pero una sección sin maquetar no tiene
  geometría fiable y axe (también el de Lighthouse) leía mal el fondo de sus
  enlaces. Tras cargar, el script las compone una a una en momentos libres.

La página de búsqueda se deja como está: su script en línea usa el buscador.
Medida en ``benchmarks/bench_lighthouse.py`` (issue 17).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path
from typing import Any

import tinycss2
from sphinx.application import Sphinx
from sphinx.util import logging

from libroia_sphinx import add_static_path

logger = logging.getLogger(__name__)

#: Carpeta de ``_static`` donde se escriben las hojas de estilo juntas.
BUNDLE_DIR = "estilos"

_HEAD = re.compile(r"<head>(.*?)</head>", re.S)
_LINK = re.compile(r"[ \t]*<link\b[^>]*>\n?")
_SCRIPT_SRC = re.compile(r"<script\b([^>]*)\bsrc=\"([^\"]+)\"([^>]*)></script>")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_REMOTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|/)")
_CLASS_ATTR = re.compile(r'\sclass="([^"]*)"')
_ID_ATTR = re.compile(r'\sid="([^"]*)"')
_JS_WORD = re.compile(r"[A-Za-z_][\w-]*")
_SELECTOR_NAME = re.compile(r"([.#])(-?[_a-zA-Z][\w-]*)")
_FUNCTIONAL_PSEUDO = re.compile(r":[\w-]+\(")


# --- Vocabulario y recorte -----------------------------------------------------


def site_vocabulary(outdir: Path) -> set[str]:
    """Clases e identificadores que pueden aparecer en el sitio.

    Las clases e ``id`` de cada página HTML, más cada palabra de cada JavaScript
    de ``_static`` (un script puede añadir una clase que ninguna página trae
    escrita, como ``show`` en los menús de Bootstrap). Es una lista generosa: una
    regla se queda si cabe la duda.
    """
    vocabulary: set[str] = set()
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="ignore")
        for match in _CLASS_ATTR.finditer(text):
            vocabulary.update(match.group(1).split())
        vocabulary.update(match.group(1) for match in _ID_ATTR.finditer(text))
    for script in (outdir / "_static").rglob("*.js"):
        vocabulary.update(_JS_WORD.findall(script.read_text(encoding="utf-8", errors="ignore")))
    return vocabulary


def _strip_functional_pseudo(selector: str) -> str:
    """El selector sin ``:not(...)``, ``:is(...)``, ``:has(...)``… (con paréntesis anidados)."""
    out, depth = [], 0
    i = 0
    while i < len(selector):
        match = _FUNCTIONAL_PSEUDO.match(selector, i) if depth == 0 else None
        if match:
            depth, i = 1, match.end()
            continue
        char = selector[i]
        if depth:
            depth += {"(": 1, ")": -1}.get(char, 0)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _split_selectors(prelude: str) -> list[str]:
    """Parte una lista de selectores por las comas que no están entre paréntesis."""
    parts, depth, current = [], 0, []
    for char in prelude:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def selector_may_match(selector: str, vocabulary: set[str]) -> bool:
    """¿Puede ``selector`` casar con algo del sitio? No, si nombra una clase o id desconocidos.

    Lo que va dentro de ``[...]`` y de ``:not(...)``/``:is(...)`` no cuenta: ahí
    un nombre desconocido no impide que el selector case.

    >>> vocab = {"navbar", "show"}
    >>> selector_may_match(".navbar .show > a", vocab)
    True
    >>> selector_may_match(".carousel-item.active", vocab)
    False
    >>> selector_may_match(".navbar:not(.carousel)", vocab), selector_may_match("a[href]", vocab)
    (True, True)
    """
    bare = re.sub(r"\[[^\]]*\]", "", _strip_functional_pseudo(selector))
    return all(name in vocabulary for _, name in _SELECTOR_NAME.findall(bare))


def _prune_rules(rules: list[Any], vocabulary: set[str]) -> list[str]:
    out: list[str] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            kept = [
                s
                for s in _split_selectors(tinycss2.serialize(rule.prelude))
                if selector_may_match(s, vocabulary)
            ]
            if kept:
                out.append(",".join(kept) + "{" + tinycss2.serialize(rule.content).strip() + "}")
        elif rule.type == "at-rule":
            keyword = rule.lower_at_keyword
            if keyword in ("charset", "import"):
                continue
            if keyword in ("media", "supports", "layer", "container") and rule.content is not None:
                inner = tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True)
                kept_inner = _prune_rules(
                    [r for r in inner if r.type in ("qualified-rule", "at-rule")], vocabulary
                )
                if kept_inner:
                    prelude = tinycss2.serialize(rule.prelude).strip()
                    out.append(f"@{rule.at_keyword} {prelude}{{{''.join(kept_inner)}}}")
            else:
                out.append(tinycss2.serialize([rule]).strip())
    return out


def prune_css(css: str, vocabulary: set[str]) -> str:
    """Quita de ``css`` las reglas que no pueden casar con nada del sitio (y los comentarios).

    >>> prune_css("/* x */ .a{color:red} .b, .a i{margin:0} @media (min-width:1px){.b{x:y}}",
    ...           {"a"})
    '.a{color:red}\\n.a i{margin:0}'
    """
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return "\n".join(_prune_rules(rules, vocabulary))


# --- Juntar las hojas de estilo -----------------------------------------------

_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s]+)["']?\s*\)?\s*;""")
_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


def _read_css(path: Path, bundle_dir: Path, seen: set[Path]) -> str:
    """El CSS de ``path`` con sus ``@import`` locales dentro y las ``url()`` vistas desde
    ``bundle_dir``."""
    seen.add(path)
    text = path.read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        target = match.group(1)
        if _REMOTE.match(target):
            return match.group(0)
        child = (path.parent / target.split("?")[0]).resolve()
        return "" if child in seen or not child.is_file() else _read_css(child, bundle_dir, seen)

    def rebase(match: re.Match) -> str:
        quote, target = match.groups()
        if _REMOTE.match(target) or target.startswith(("data:", "#")):
            return match.group(0)
        absolute = posixpath.normpath((path.parent / target).as_posix())
        return f"url({quote}{posixpath.relpath(absolute, bundle_dir.as_posix())}{quote})"

    return _URL.sub(rebase, _IMPORT.sub(inline, text))


def _stylesheets(head: str) -> list[tuple[str, dict[str, str]]]:
    """Las etiquetas ``<link rel="stylesheet">`` locales del ``<head>``, con sus atributos."""
    found = []
    for match in _LINK.finditer(head):
        attrs = dict(_ATTR.findall(match.group(0)))
        href = attrs.get("href", "")
        if attrs.get("rel") == "stylesheet" and href and not _REMOTE.match(href):
            if attrs.get("media", "all") in ("all", "screen"):
                found.append((match.group(0), attrs))
    return found


class StyleBundler:
    """Junta y recorta las hojas de estilo de las páginas de un sitio ya construido."""

    def __init__(self, outdir: Path, vocabulary: set[str]):
        self.outdir = outdir
        self.vocabulary = vocabulary
        self.written: dict[tuple[str, ...], str] = {}

    def _bundle(self, sources: tuple[str, ...]) -> str:
        """Escribe (una vez por construcción) el paquete de ``sources`` y devuelve su ruta
        relativa a ``outdir`` con ``?v=`` del contenido."""
        if sources in self.written:
            return self.written[sources]
        key = hashlib.sha1(" ".join(sources).encode()).hexdigest()[:10]
        target = self.outdir / "_static" / BUNDLE_DIR / f"libro-{key}.css"
        target.parent.mkdir(parents=True, exist_ok=True)
        seen: set[Path] = set()
        parts = []
        for source in sources:
            path = (self.outdir / source).resolve()
            if path.is_file():
                parts.append(_read_css(path, target.parent, seen))
        css = '@charset "UTF-8";\n' + prune_css("\n".join(parts), self.vocabulary) + "\n"
        target.write_text(css, encoding="utf-8")
        digest = hashlib.sha1(css.encode()).hexdigest()[:8]
        self.written[sources] = f"_static/{BUNDLE_DIR}/{target.name}?v={digest}"
        return self.written[sources]

    def page(self, page_html: str, page_dir: str) -> str:
        """La página con una sola hoja de estilo local (``page_dir``: su carpeta en el sitio)."""
        match = _HEAD.search(page_html)
        if not match:
            return page_html
        head = match.group(1)
        links = _stylesheets(head)
        if not links:
            return page_html
        sources: list[str] = []
        for _, attrs in links:
            if "data-partes" in attrs:
                sources += attrs["data-partes"].split()
            else:
                href = attrs["href"].split("?")[0]
                sources.append(posixpath.normpath(posixpath.join(page_dir, href)))
        bundle = self._bundle(tuple(sources))
        href = posixpath.relpath(bundle, page_dir or ".")
        tag = (
            f'<link rel="stylesheet" href="{href}" data-partes="{" ".join(sources)}" />\n'
        )
        first = links[0][0]
        new_head = head.replace(first, "\0", 1)
        for original, _ in links[1:]:
            new_head = new_head.replace(original, "", 1)
        new_head = new_head.replace("\0", "    " + tag.lstrip(), 1)
        return page_html[: match.start(1)] + new_head + page_html[match.end(1) :]


# --- Scripts --------------------------------------------------------------------

_PRELOAD_SCRIPT = re.compile(r'[ \t]*<link rel="preload" as="script" href="[^"]*" />\n?')


def defer_scripts(page_html: str, documentation_options: str | None = None) -> str:
    """``defer`` en los scripts locales del ``<head>``; sin precargas de scripts.

    ``documentation_options``: el contenido de ``documentation_options.js``, que
    se mete en la página porque los scripts en línea del ``<head>`` lo usan.

    >>> page = ('<head><script src="a.js?v=1"></script><script>x()</script>'
    ...         '<script src="documentation_options.js"></script></head><body>')
    >>> print(defer_scripts(page, "const D = {};").replace("</script>", "</script>\\n"))
    <head><script defer src="a.js?v=1"></script>
    <script>x()</script>
    <script>const D = {};</script>
    </head><body>
    """
    match = _HEAD.search(page_html)
    if not match:
        return page_html

    def fix(tag: re.Match) -> str:
        before, src, after = tag.groups()
        attrs = before + after
        if _REMOTE.match(src) or re.search(r"\b(defer|async|type=\"module\")", attrs):
            return tag.group(0)
        if documentation_options is not None and src.split("?")[0].endswith(
            "documentation_options.js"
        ):
            return f"<script>{documentation_options.strip()}</script>"
        extra = f" {before.strip()}" if before.strip() else ""
        return f'<script defer{extra} src="{src}"{after}></script>'

    head = _PRELOAD_SCRIPT.sub("", _SCRIPT_SRC.sub(fix, match.group(1)))
    return page_html[: match.start(1)] + head + page_html[match.end(1) :]


# --- Foco de teclado en los bloques que se desplazan ---------------------------------

#: Lo que pydata-sphinx-theme 0.17.1 ejecuta al cargar (en ``scripts/pydata-sphinx-theme.js``).
THEME_TAB_STOPS = (
    "e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1"
)
#: Lo mismo, a través de ``_static/cabecera/foco.js``: solo mide si el lector ya usó el tabulador.
LAZY_TAB_STOPS = "window.libroiaFoco&&window.libroiaFoco(e)"
#: El script que decide cuándo medir (ver el docstring del módulo).
FOCUS_JS = "cabecera/foco.js"
#: El script que compone, después de cargar, las secciones que ``movil.css`` deja sin maquetar.
SECTIONS_JS = "cabecera/secciones.js"
_BARE_PRE = re.compile(r"<pre>")
_TABLE_SCROLLER = re.compile(r'<div class="pst-scrollable-table-container">')


def lazy_tab_stops(outdir: Path) -> bool:
    """Retoca la copia del script del tema en ``outdir`` (ver el docstring del módulo).

    Devuelve si el script quedó retocado (ya lo estuviera o no).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "_static" / "scripts").mkdir(parents=True)
    >>> js = folder / "_static" / "scripts" / "pydata-sphinx-theme.js"
    >>> _ = js.write_text("forEach(e=>{" + THEME_TAB_STOPS + "})")
    >>> lazy_tab_stops(folder), "libroiaFoco" in js.read_text()
    (True, True)
    >>> lazy_tab_stops(folder)
    True
    """
    script = outdir / "_static" / "scripts" / "pydata-sphinx-theme.js"
    if not script.is_file():
        return False
    text = script.read_text(encoding="utf-8")
    if LAZY_TAB_STOPS in text:
        return True
    if THEME_TAB_STOPS not in text:
        return False
    script.write_text(text.replace(THEME_TAB_STOPS, LAZY_TAB_STOPS), encoding="utf-8")
    return True


def focusable_code(page_html: str) -> str:
    """Cada ``<pre>`` sin atributos y cada tabla desplazable salen enfocables con el teclado.

    >>> focusable_code('<pre>x</pre><pre class="a">y</pre>')
    '<pre tabindex="0">x</pre><pre class="a">y</pre>'
    >>> focusable_code('<div class="pst-scrollable-table-container"><table>')
    '<div class="pst-scrollable-table-container" tabindex="0"><table>'
    """
    page_html = _BARE_PRE.sub('<pre tabindex="0">', page_html)
    scroller = '<div class="pst-scrollable-table-container" tabindex="0">'
    return _TABLE_SCROLLER.sub(scroller, page_html)


# --- Sphinx ---------------------------------------------------------------------


def optimise_site(outdir: Path) -> dict[str, int]:
    """Aplica :class:`StyleBundler` y :func:`defer_scripts` a todas las páginas de ``outdir``.

    Devuelve cuántas páginas cambiaron y cuántos paquetes de estilo se escribieron.
    """
    vocabulary = site_vocabulary(outdir)
    bundler = StyleBundler(outdir, vocabulary)
    options_js = outdir / "_static" / "documentation_options.js"
    options = options_js.read_text(encoding="utf-8") if options_js.is_file() else None
    changed = 0
    for page in sorted(outdir.rglob("*.html")):
        if "_static" in page.relative_to(outdir).parts:
            continue
        original = page.read_text(encoding="utf-8")
        page_dir = page.parent.relative_to(outdir).as_posix()
        page_dir = "" if page_dir == "." else page_dir
        fixed = focusable_code(bundler.page(original, page_dir))
        if page.name != "search.html":
            fixed = defer_scripts(fixed, options)
        if fixed != original:
            page.write_text(fixed, encoding="utf-8")
            changed += 1
    return {"pages": changed, "bundles": len(bundler.written)}


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name not in ("html", "dirhtml"):
        return
    if not lazy_tab_stops(Path(app.outdir)):
        logger.warning(
            "[libroia] el script de pydata-sphinx-theme ya no contiene el fragmento que mide "
            "los bloques de código (THEME_TAB_STOPS en libroia_sphinx/cabecera.py): revisa el "
            "retoque para la versión nueva del tema",
            type="libroia",
            subtype="tema",
        )
    counts = optimise_site(Path(app.outdir))
    logger.info(
        f"[libroia] cabecera: {counts['pages']} páginas con estilos juntos y scripts "
        f"diferidos ({counts['bundles']} hojas de estilo)"
    )


def setup(app: Sphinx) -> dict[str, Any]:
    add_static_path(app)
    app.add_js_file(FOCUS_JS, loading_method="defer")
    app.add_js_file(SECTIONS_JS, loading_method="defer")
    # Después de libroia_sphinx.ext (prioridad 500), que corrige y recorta las páginas.
    app.connect("build-finished", _on_build_finished, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
