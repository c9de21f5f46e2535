"""Rápido y cómodo en un teléfono (issue 17): figuras perezosas que caben y siguen el tema,
fórmulas compuestas al construir, ecuaciones que se desplazan y una portada de verdad.

Las puntuaciones de Lighthouse no son pruebas: están en ``make bench``
(``benchmarks/bench_lighthouse.py``). La accesibilidad con axe-core 4.14 en cada página,
en escritorio y a 375 px en modo oscuro, está en ``tests/site/test_browser.py``.
"""

from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup

from tests.conftest import toc_documents
from tests.site.browser import CHROMIUM, CHROMIUM_ARGS, browser_context, serve

DOCS = toc_documents()


def read(site, doc: str) -> str:
    return (site / f"{doc}.html").read_text(encoding="utf-8")


# --- El HTML, sin navegador ----------------------------------------------------------


@pytest.mark.site
def test_la_portada_es_una_pagina_de_verdad(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert 'http-equiv="Refresh"' not in text
    html = BeautifulSoup(text, "html.parser")
    assert html.html.get("lang") == "es"
    assert html.title.get_text(strip=True)
    assert html.find("meta", property="og:image") is not None
    assert html.find("meta", attrs={"name": "twitter:card"}) is not None
    assert html.find("h1") is not None
    # Los enlaces relativos apuntan a ficheros que existen desde la raíz.
    for node in html.find_all(["a", "link", "script"]):
        url = node.get("href") or node.get("src") or ""
        if not url or re.match(r"^(?:[a-z]+:|/|#)", url):
            continue
        target = site / url.split("#")[0].split("?")[0]
        assert target.exists(), f"index.html enlaza {url}, que no existe"


FIGURE_DATA = re.compile(
    r'^\(window\.libroiaFiguras = window\.libroiaFiguras \|\| \{\}\)\["(\w+)"\] = (.*);$', re.S
)


@pytest.mark.site
@pytest.mark.parametrize("doc", DOCS)
def test_datos_de_figuras_fuera_de_la_pagina_y_sin_plotly_al_cargar(site, doc):
    """Los datos de cada figura están en su propio script; plotly.js no se pide en el HTML."""
    text = read(site, doc)
    html = BeautifulSoup(text, "html.parser")
    assert "Plotly.newPlot" not in text
    assert not html.find("script", src=re.compile(r"plotly-libro"))
    assert not html.find("script", type="application/json"), f"{doc}: JSON de figura en la página"
    figures = html.select("figure.libroia-plotly")
    for figure in figures:
        div = figure.select_one(".plotly-graph-div")
        data = (site / doc).parent / div["data-datos"]
        assert data.is_file(), f"{doc}: faltan los datos de la figura en {div['data-datos']}"
        match = FIGURE_DATA.match(data.read_text(encoding="utf-8").strip())
        assert match and match.group(1) == div["data-clave"]
        spec = json.loads(match.group(2))
        assert spec["data"] and "layout" in spec
        assert re.search(r"height:\s*\d+px", div["style"]), f"{doc}: sin altura: {div['style']}"
    loaders = html.find_all("script", src=re.compile(r"figuras/figuras-plotly\.js"))
    assert len(loaders) == (1 if figures else 0)
    if loaders:
        assert loaders[0].has_attr("defer")


@pytest.mark.site
@pytest.mark.parametrize("doc", DOCS)
def test_nada_bloquea_la_primera_pintura(site, doc):
    """Una sola hoja de estilo local en el <head> y ningún script síncrono con src."""
    html = BeautifulSoup(read(site, doc), "html.parser")
    sheets = [link["href"] for link in html.head.find_all("link", rel="stylesheet")]
    assert len(sheets) == 1 and "_static/estilos/libro-" in sheets[0], sheets
    assert (site / doc).parent.joinpath(sheets[0].split("?")[0]).is_file()
    blocking = [
        s["src"] for s in html.head.find_all("script", src=True)
        if not (s.has_attr("defer") or s.has_attr("async"))
    ]
    assert blocking == [], f"{doc}: scripts que bloquean: {blocking}"
    assert not html.head.find("link", rel="preload", attrs={"as": "script"})


@pytest.mark.site
@pytest.mark.parametrize("doc", DOCS)
def test_formulas_en_mathml_sin_mathjax(site, doc):
    text = read(site, doc)
    html = BeautifulSoup(text, "html.parser")
    assert "mathjax/tex-chtml.js" not in text
    for node in html.select("span.math, div.math"):
        assert node.find("math") is not None, f"{doc}: fórmula sin MathML: {node.get_text()[:80]}"


@pytest.mark.site
@pytest.mark.parametrize("doc", DOCS)
def test_nombres_accesibles_con_el_texto_visible(site, doc):
    html = BeautifulSoup(read(site, doc), "html.parser")
    for button in html.select("button.search-button-field"):
        assert not button.has_attr("aria-label"), f"{doc}: {button.get('aria-label')}"
    for summary in html.select("details.hide > summary"):
        assert not summary.has_attr("aria-label"), f"{doc}: {summary.get('aria-label')}"


# --- En el navegador, a 375 px ---------------------------------------------------------

# Para cada figura: caja de la figura, del título y de los títulos de ejes, y los colores
# de fondo (figura y página) como luminancia entre 0 y 1.
_MEASURE = """async () => {
  if (window.libroiaDibujarFiguras) await window.libroiaDibujarFiguras();
  const lum = (css) => {
    const m = css.match(/[\\d.]+/g).map(Number);
    if (m.length === 4 && m[3] === 0) return null;
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  };
  const page = lum(getComputedStyle(document.body).backgroundColor);
  const figures = Array.from(document.querySelectorAll('figure.libroia-plotly')).map(f => {
    const box = f.getBoundingClientRect();
    const svg = f.querySelector('.main-svg');
    const parts = [];
    for (const sel of ['.gtitle', '.g-xtitle', '.g-ytitle', '.legend']) {
      f.querySelectorAll(sel).forEach(el => {
        const b = el.getBoundingClientRect();
        if (b.width) parts.push({sel, left: b.left, right: b.right, top: b.top,
                                 bottom: b.bottom});
      });
    }
    return {left: box.left, right: box.right, top: box.top, bottom: box.bottom,
            drawn: !!svg, background: svg ? lum(getComputedStyle(svg).backgroundColor) : null,
            title: (f.querySelector('.gtitle') || {}).textContent || '', parts};
  });
  const equations = Array.from(document.querySelectorAll('div.math')).map(d => ({
    wide: d.scrollWidth > d.clientWidth + 1,
    overflow: getComputedStyle(d).overflowX,
    wraps: getComputedStyle(d).whiteSpace !== 'nowrap',
  }));
  return {width: window.innerWidth, page, figures, equations,
          overflow: document.scrollingElement.scrollWidth - window.innerWidth};
}"""


@pytest.fixture(scope="module")
def mobile_dark(site):
    """Cada página a 375 px en modo oscuro, con todas sus figuras dibujadas."""
    results = {}
    options = {"viewport": {"width": 375, "height": 812}, "color_scheme": "dark"}
    with serve(site) as url, browser_context(**options) as (context, visit):
        for doc in DOCS:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(f"{url}/{doc}.html", wait_until="networkidle")
            info = page.evaluate(_MEASURE)
            info["errors"] = errors
            info["theme"] = page.evaluate("document.documentElement.dataset.theme")
            results[doc] = info
            page.close()
        results["__blocked__"] = list(visit.blocked)
    return results


@pytest.mark.browser
@pytest.mark.parametrize("doc", DOCS)
def test_a_375_px_cada_figura_cabe_y_su_titulo_no_se_corta(mobile_dark, doc):
    info = mobile_dark[doc]
    assert info["errors"] == []
    assert info["overflow"] <= 1, f"{doc}: la página se sale {info['overflow']} px"
    for i, fig in enumerate(info["figures"]):
        where = f"{doc}, figura {i + 1} «{fig['title'][:40]}»"
        assert fig["drawn"], f"{where}: no se dibujó"
        assert fig["left"] >= -1 and fig["right"] <= info["width"] + 1, f"{where}: no cabe"
        for part in fig["parts"]:
            inside = (
                part["left"] >= fig["left"] - 1
                and part["right"] <= fig["right"] + 1
                and part["top"] >= fig["top"] - 1
                and part["bottom"] <= fig["bottom"] + 1
            )
            assert inside, f"{where}: {part['sel']} se sale de la figura: {part}"


@pytest.mark.browser
@pytest.mark.parametrize("doc", DOCS)
def test_en_modo_oscuro_el_fondo_de_cada_figura_es_oscuro(mobile_dark, doc):
    info = mobile_dark[doc]
    assert info["theme"] == "dark"
    assert info["page"] is not None and info["page"] < 0.2
    for i, fig in enumerate(info["figures"]):
        background = fig["background"]
        assert background is None or background < 0.2, f"{doc}, figura {i + 1}: {background}"


@pytest.mark.browser
@pytest.mark.parametrize("doc", DOCS)
def test_las_ecuaciones_anchas_se_desplazan(mobile_dark, doc):
    for i, eq in enumerate(mobile_dark[doc]["equations"]):
        if eq["wide"]:
            assert eq["overflow"] in ("auto", "scroll"), f"{doc}, ecuación {i + 1}: {eq}"


@pytest.mark.browser
def test_ninguna_peticion_fuera_en_movil(mobile_dark):
    assert mobile_dark["__blocked__"] == []


@pytest.mark.browser
def test_una_ecuacion_mas_ancha_que_la_columna_se_desplaza(site):
    """Una ecuación larga a propósito: más ancha que la columna, con barra de desplazamiento."""
    doc = next(d for d in DOCS if "<math" in read(site, d))
    with serve(site) as url, browser_context(viewport={"width": 375, "height": 812}) as (ctx, _):
        page = ctx.new_page()
        page.goto(f"{url}/{doc}.html", wait_until="networkidle")
        wide = page.evaluate(
            """() => {
              const div = document.createElement('div');
              div.className = 'math notranslate nohighlight';
              const terms = Array.from({length: 40}, (_, i) => `<mi>x</mi><mn>${i}</mn><mo>+</mo>`);
              div.innerHTML = `<math display="block"><mrow>${terms.join('')}</mrow></math>`;
              document.querySelector('main').appendChild(div);
              return {scroll: div.scrollWidth, client: div.clientWidth,
                      overflow: getComputedStyle(div).overflowX,
                      page: document.scrollingElement.scrollWidth - window.innerWidth};
            }"""
        )
    assert wide["scroll"] > wide["client"]
    assert wide["overflow"] in ("auto", "scroll")
    assert wide["page"] <= 1


@pytest.mark.browser
def test_las_figuras_cambian_con_el_tema(site):
    """Al pasar de oscuro a claro, el fondo de las figuras ya dibujadas pasa a ser claro."""
    doc = next(d for d in DOCS if "libroia-plotly" in read(site, d))
    options = {"viewport": {"width": 375, "height": 812}, "color_scheme": "dark"}
    with serve(site) as url, browser_context(**options) as (ctx, _):
        page = ctx.new_page()
        page.goto(f"{url}/{doc}.html", wait_until="networkidle")
        page.evaluate("window.libroiaDibujarFiguras()")
        background = "getComputedStyle(document.querySelector('.main-svg')).backgroundColor"
        dark = page.evaluate(background)
        page.evaluate("document.documentElement.dataset.theme = 'light'")
        page.wait_for_function(f"{background} !== {json.dumps(dark)}", timeout=10_000)
        light = page.evaluate(background)
    levels = [sum(map(int, re.findall(r"\d+", c)[:3])) / 3 for c in (dark, light)]
    assert levels[0] < 60 and levels[1] > 200, (dark, light)


@pytest.mark.browser
def test_las_figuras_se_dibujan_al_acercarse_y_no_antes(site):
    doc = max(DOCS, key=lambda d: read(site, d).count("libroia-plotly"))
    with serve(site) as url, browser_context(viewport={"width": 375, "height": 812}) as (ctx, _):
        page = ctx.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"{url}/{doc}.html", wait_until="networkidle")
        n = page.locator("figure.libroia-plotly").count()
        assert n >= 2
        first_drawn = page.locator(".js-plotly-plot").count()
        assert first_drawn < n, "todas las figuras se dibujaron al cargar la página"
        page.locator("figure.libroia-plotly").nth(n - 1).scroll_into_view_if_needed()
        page.wait_for_function(
            "document.querySelectorAll('figure.libroia-plotly')[arguments[0] - 1]"
            ".querySelector('.main-svg') !== null".replace("arguments[0]", str(n)),
            timeout=20_000,
        )
    assert sum("plotly-libro.min.js" in u for u in requested) == 1


@pytest.mark.browser
def test_las_figuras_se_dibujan_desde_el_disco(site):
    """Desde el .zip abierto en disco (file://), donde fetch no lee ficheros: <script src>."""
    from playwright.sync_api import sync_playwright

    doc = next(d for d in DOCS if "libroia-plotly" in read(site, d))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 375, "height": 812})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto((site / f"{doc}.html").as_uri(), wait_until="load")
        page.evaluate("window.libroiaDibujarFiguras()")
        drawn = page.locator("figure.libroia-plotly .main-svg").count()
        browser.close()
    assert drawn >= 1 and errors == []


@pytest.mark.browser
def test_el_tabulador_llega_a_los_bloques_que_se_desplazan_y_no_a_los_que_caben(site):
    """Al cargar nadie mide los bloques de código (cada <pre> es enfocable); al pulsar
    el tabulador por primera vez, los que caben dejan de recibir el foco."""
    script = (site / "_static" / "scripts" / "pydata-sphinx-theme.js").read_text(encoding="utf-8")
    assert "window.libroiaFoco&&window.libroiaFoco(e)" in script
    assert "e.tabIndex=e.scrollWidth" not in script
    doc = "book/04_atencion"
    with serve(site) as url, browser_context(viewport={"width": 375, "height": 812}) as (ctx, _):
        page = ctx.new_page()
        page.goto(f"{url}/{doc}.html", wait_until="networkidle")
        state = """() => Array.from(document.querySelectorAll('pre')).map(
            p => [p.tabIndex, p.scrollWidth > p.clientWidth || p.scrollHeight > p.clientHeight])"""
        before = page.evaluate(state)
        assert before and all(tab == 0 for tab, _ in before)
        page.keyboard.press("Tab")
        after = page.evaluate(state)
    assert any(scrolls for _, scrolls in after) and not all(scrolls for _, scrolls in after)
    assert all(tab == (0 if scrolls else -1) for tab, scrolls in after)


@pytest.mark.browser
def test_las_secciones_lejanas_se_componen_despues_de_cargar(site):
    """movil.css deja sin maquetar las secciones lejanas; tras cargar, se componen todas."""
    doc = "book/05_transformer"
    with serve(site) as url, browser_context(viewport={"width": 375, "height": 812}) as (ctx, _):
        page = ctx.new_page()
        page.goto(f"{url}/{doc}.html", wait_until="load")
        selector = ".bd-article > section > section"
        total = page.locator(selector).count()
        assert total > 5
        page.wait_for_function(
            f"document.querySelectorAll('{selector}.libroia-compuesta').length === {total}",
            timeout=20_000,
        )
        visibility = page.evaluate(
            f"getComputedStyle(document.querySelector('{selector}')).contentVisibility"
        )
    assert visibility == "visible"
