"""libroia_sphinx.cabecera: una hoja de estilo recortada y scripts diferidos (sin navegador)."""

from __future__ import annotations

from pathlib import Path

from libroia_sphinx import cabecera

PAGE = """<!DOCTYPE html><html><head>
    <link href="../_static/styles/theme.css?digest=1" rel="stylesheet" />
    <link rel="stylesheet" type="text/css" href="../_static/extra.css?v=2" />
    <link rel="preload" as="script" href="../_static/scripts/bootstrap.js" />
    <script src="../_static/documentation_options.js?v=3"></script>
    <script src="../_static/doctools.js?v=4"></script>
    <script>DOCUMENTATION_OPTIONS.pagename = 'book/a';</script>
</head><body><div class="usada body desplegable" id="caja"></div></body></html>
"""


def make_site(root: Path) -> Path:
    static = root / "_static"
    (static / "styles").mkdir(parents=True)
    (static / "fonts").mkdir()
    (static / "book").mkdir(exist_ok=True)
    (static / "styles" / "theme.css").write_text(
        '@charset "UTF-8";\n@import "../basic.css";\n'
        "@font-face{font-family:x;src:url(../fonts/x.woff2)}\n"
        ".usada{color:red}.carrusel{color:blue}\n"
        "@media (min-width:10px){.carrusel{x:y}#caja{margin:0}}\n"
        "@keyframes giro{from{opacity:0}to{opacity:1}}\n"
        ".desplegable.show{display:block}\n",
        encoding="utf-8",
    )
    (static / "basic.css").write_text("div.body{min-width:0}.nunca-usada{a:b}", encoding="utf-8")
    (static / "extra.css").write_text(".usada:not(.otra) p{margin:1px}", encoding="utf-8")
    (static / "documentation_options.js").write_text("const DOCUMENTATION_OPTIONS = {};")
    (static / "doctools.js").write_text('el.classList.add("show")', encoding="utf-8")
    (root / "book").mkdir()
    (root / "book" / "a.html").write_text(PAGE, encoding="utf-8")
    return root


def test_una_hoja_recortada_con_imports_y_urls_reescritas(tmp_path):
    site = make_site(tmp_path)
    counts = cabecera.optimise_site(site)
    assert counts == {"pages": 1, "bundles": 1}
    page = (site / "book" / "a.html").read_text(encoding="utf-8")
    assert page.count('rel="stylesheet"') == 1
    href = page.split('<link rel="stylesheet" href="')[1].split('"')[0]
    css = (site / "book" / href.split("?")[0]).resolve().read_text(encoding="utf-8")
    # Lo usado se queda, también lo que añade un script («show») y lo de @import.
    for kept in (".usada{color:red}", "#caja{margin:0}", ".desplegable.show", "div.body",
                 "@keyframes giro", ".usada:not(.otra) p"):
        assert kept in css, kept
    # Lo que no aparece en ninguna página ni script se va (y con ello un @media vacío no).
    assert ".carrusel" not in css and ".nunca-usada" not in css
    # La url() de la fuente se ve desde _static/estilos/.
    assert "url(../fonts/x.woff2)" in css
    assert css.startswith('@charset "UTF-8";') and css.count("@charset") == 1


def test_scripts_diferidos_y_opciones_en_la_pagina(tmp_path):
    site = make_site(tmp_path)
    cabecera.optimise_site(site)
    page = (site / "book" / "a.html").read_text(encoding="utf-8")
    assert '<script defer src="../_static/doctools.js?v=4"></script>' in page
    assert "<script>const DOCUMENTATION_OPTIONS = {};</script>" in page
    assert page.index("const DOCUMENTATION_OPTIONS") < page.index("pagename")
    assert 'rel="preload"' not in page


def test_rehacerlo_da_lo_mismo(tmp_path):
    """Una construcción incremental vuelve a pasar por páginas ya arregladas."""
    site = make_site(tmp_path)
    cabecera.optimise_site(site)
    first = (site / "book" / "a.html").read_text(encoding="utf-8")
    bundles = sorted((site / "_static" / "estilos").iterdir())
    assert cabecera.optimise_site(site)["pages"] == 0
    assert (site / "book" / "a.html").read_text(encoding="utf-8") == first
    assert sorted((site / "_static" / "estilos").iterdir()) == bundles
