"""Peso de las páginas: quitar lo que el tema carga sin necesidad.

El tema (pydata-sphinx-theme) carga en cada página el buscador y el índice de
búsqueda entero, que solo hacen falta en ``search.html`` (ver
:data:`SEARCH_SCRIPTS`). Y trae dos copias de los iconos de Font Awesome:

- ``fontawesome.js``, con todos los iconos como SVG dentro de JavaScript
  (543 kB con gzip en cada página). Los iconos se ven igual sin él, con la
  fuente que declara el CSS del tema, así que se quita su etiqueta.
- Las fuentes ``fa-*.woff2`` (unos 275 kB), con unos dos mil iconos de los que
  el libro usa una veintena. Se recortan a los iconos que aparecen en las
  páginas y en el JavaScript del tema (con fontTools).

Ver ``benchmarks/bench_pages.py`` para la medida.
"""

from __future__ import annotations

import re
from pathlib import Path

FONTAWESOME_JS = re.compile(r'\s*<script defer src="[^"]*scripts/fontawesome\.js[^"]*"></script>')
# pydata-sphinx-theme carga el buscador de Sphinx y el índice entero en cada página
# para su búsqueda «mientras escribes», que el libro no activa: sin esa opción el
# cuadro de búsqueda lleva a search.html, que carga lo suyo. El índice crece con el
# libro (30 kB con gzip con diez capítulos).
SEARCH_SCRIPTS = re.compile(
    r'\s*<script src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)">'
    r"</script>"
)
ICON_CLASS = re.compile(r"\bfa-([a-z0-9]+(?:-[a-z0-9]+)*)")
CSS_RULE = re.compile(r"([^{}]+)\{content:\"\\([0-9a-f]{4,5})\"\}")


def drop_fontawesome_js(page_html: str) -> str:
    """Quita la etiqueta ``<script>`` de ``fontawesome.js`` de una página."""
    return FONTAWESOME_JS.sub("", page_html)


def drop_search_scripts(page_html: str) -> str:
    """Quita el buscador y su índice de una página que no es ``search.html``."""
    return SEARCH_SCRIPTS.sub("", page_html)


def icon_codepoints(css: str, names: set[str]) -> set[int]:
    """Puntos de código de los iconos ``names`` según las reglas ``.fa-X:before`` del CSS.

    >>> sorted(icon_codepoints('.fa-sun:before{content:"\\\\f185"}', {"sun"}))
    [61829]
    """
    codepoints = set()
    for selectors, hexcode in CSS_RULE.findall(css):
        for selector in selectors.split(","):
            match = re.fullmatch(r"\s*\.fa-([a-z0-9-]+):(?:before|:before)\s*", selector)
            if match and match.group(1) in names:
                codepoints.add(int(hexcode, 16))
    return codepoints


def used_icons(outdir: Path) -> set[str]:
    """Nombres de iconos (``fa-NOMBRE``) en las páginas y en el JavaScript del tema."""
    names: set[str] = set()
    sources = [*outdir.rglob("*.html"), *(outdir / "_static" / "scripts").glob("*.js")]
    for path in sources:
        if path.name == "fontawesome.js":
            continue
        names.update(ICON_CLASS.findall(path.read_text(encoding="utf-8", errors="ignore")))
    return names


def subset_icon_fonts(outdir: Path) -> dict[str, tuple[int, int]]:
    """Recorta las fuentes de iconos a los usados; devuelve ``{fichero: (antes, después)}``."""
    from fontTools import subset

    css_path = outdir / "_static" / "styles" / "pydata-sphinx-theme.css"
    fonts_dir = outdir / "_static" / "vendor" / "fontawesome" / "webfonts"
    if not css_path.exists() or not fonts_dir.is_dir():
        return {}
    codepoints = icon_codepoints(css_path.read_text(encoding="utf-8"), used_icons(outdir))
    sizes = {}
    for font_path in sorted(fonts_dir.glob("fa-*.woff2")):
        before = font_path.stat().st_size
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["*"]
        font = subset.load_font(str(font_path), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)
        subset.save_font(font, str(font_path), options)
        sizes[font_path.name] = (before, font_path.stat().st_size)
    return sizes
