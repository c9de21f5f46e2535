"""El sitio construido: una página por documento, sin errores, en español y sin terceros."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from tests.conftest import toc_documents

pytestmark = pytest.mark.site

DOCS = toc_documents()


def page(site: Path, doc: str) -> BeautifulSoup:
    return BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")


def is_redirect(path: Path) -> bool:
    """`index.html` de Jupyter Book solo redirige a la primera página."""
    return 'http-equiv="Refresh"' in path.read_text(encoding="utf-8")[:500]


def all_pages(site: Path) -> list[Path]:
    return sorted(
        p for p in site.rglob("*.html") if "_static" not in p.parts and not is_redirect(p)
    )


def is_external(url: str) -> bool:
    parsed = urlparse(url.strip())
    return bool(parsed.netloc) and parsed.hostname not in ("127.0.0.1", "localhost")


@pytest.mark.parametrize("doc", DOCS)
def test_cada_documento_del_indice_tiene_pagina(site, doc):
    html = page(site, doc)
    assert html.find("h1") is not None, f"{doc}.html no tiene título"


@pytest.mark.parametrize("doc", DOCS)
def test_ninguna_celda_fallo(site, doc):
    html = page(site, doc)
    errors = html.select(".output.traceback, .output.error, div.cell_output .traceback")
    assert not errors, f"{doc}: salida de error en la página"
    text = html.get_text()
    for marker in ("Traceback (most recent call last)", "---------------------------------------"):
        assert marker not in text, f"{doc}: la página contiene «{marker}»"
    stderr = html.select(".output.stderr")
    assert not stderr, f"{doc}: una celda escribió en stderr: {stderr[0].get_text()[:300]}"


def test_todas_las_paginas_estan_en_espanol(site):
    for path in all_pages(site):
        html = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        assert html.html.get("lang") == "es", f"{path.name}: lang={html.html.get('lang')!r}"


def test_ningun_recurso_de_otro_servidor(site):
    """Scripts, estilos, fuentes e imágenes salen todos del propio sitio."""
    offenders = []
    for path in all_pages(site):
        html = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in (("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src")):
            for node in html.find_all(tag):
                if node.get(attr) and is_external(node[attr]):
                    offenders.append(f"{path.name}: <{tag} {attr}={node[attr]}>")
        for node in html.find_all("link"):
            rel = " ".join(node.get("rel", []))
            if rel in ("canonical", "alternate") or not node.get("href"):
                continue
            if is_external(node["href"]):
                offenders.append(f"{path.name}: <link rel={rel} href={node['href']}>")
        for script in html.find_all("script"):
            for url in re.findall(r"https?://[^\s'\"]+\.(?:js|css|woff2?)", script.get_text()):
                offenders.append(f"{path.name}: script en línea carga {url}")
    for css in site.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?(https?://[^)'\"]+)", css.read_text(errors="ignore")):
            offenders.append(f"{css.relative_to(site)}: url({url})")
        for url in re.findall(r"@import\s+['\"](https?://[^'\"]+)", css.read_text(errors="ignore")):
            offenders.append(f"{css.relative_to(site)}: @import {url}")
    assert not offenders, "recursos de terceros:\n" + "\n".join(offenders[:40])


def test_plotly_js_se_sirve_una_vez_y_solo_donde_hay_figuras(site):
    for path in all_pages(site):
        text = path.read_text(encoding="utf-8")
        n_tags = len(re.findall(r"<script[^>]+plotly[^>]*\.js", text))
        has_figure = "plotly-graph-div" in text
        assert n_tags == (1 if has_figure else 0), f"{path.name}: {n_tags} scripts de plotly"
        assert "cdn.plot.ly" not in text and "/*! For license information" not in text


def test_las_figuras_tienen_texto_alternativo(site):
    found = 0
    for path in all_pages(site):
        html = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for fig in html.select("figure.libroia-plotly"):
            found += 1
            assert fig.get("aria-label", "").strip(), f"{path.name}: figura sin aria-label"
            assert fig.select_one(".plotly-graph-div") is not None
        for img in html.select("main img"):
            assert img.get("alt", "").strip(), f"{path.name}: imagen sin alt: {img.get('src')}"
    assert found >= 1


def test_la_interfaz_no_queda_en_ingles(site):
    from libroia_sphinx.ext import UI_ES

    for path in all_pages(site):
        text = path.read_text(encoding="utf-8")
        left = [en for en in UI_ES if f'="{en}"' in text or f">{en}<" in text]
        assert not left, f"{path.name}: textos sin traducir: {left}"


def test_bibliografia_en_espanol(site):
    text = (site / "book" / "bibliografia.html").read_text(encoding="utf-8")
    assert "Kaiser y Illia Polosukhin" in text
    assert ", and " not in text and "and others" not in text


def test_iconos_sin_fontawesome_js_y_fuentes_recortadas(site):
    for path in all_pages(site):
        assert "fontawesome.js" not in path.read_text(encoding="utf-8"), path.name
    fonts = sorted((site / "_static" / "vendor" / "fontawesome" / "webfonts").glob("*.woff2"))
    assert fonts
    for font in fonts:
        assert font.stat().st_size < 20_000, f"{font.name} no se recortó"


def test_indice_de_busqueda_solo_en_la_pagina_de_busqueda(site):
    for path in all_pages(site):
        loads_index = "searchindex.js" in path.read_text(encoding="utf-8")
        assert loads_index == (path.name == "search.html"), path.name


def test_el_sitio_publica_la_rueda_de_libroia_con_la_prosa_actual(site, tmp_path):
    """``_static/libroia-<versión>-py3-none-any.whl``: solo libroia, con la prosa de hoy."""
    import zipfile

    import libroia
    from libroia.corpus import chapter_prose
    from libroia.data import read_snapshot
    from tests.conftest import BOOK

    wheel = site / "_static" / f"libroia-{libroia.__version__}-py3-none-any.whl"
    assert wheel.is_file()
    assert sorted(p.name for p in (site / "_static").glob("libroia-*.whl")) == [wheel.name]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path, [n for n in names if n.startswith("libroia/datos/")])
    assert not [n for n in names if "sphinx" in n]
    assert read_snapshot(tmp_path / "libroia" / "datos" / "prosa") == chapter_prose(BOOK)
