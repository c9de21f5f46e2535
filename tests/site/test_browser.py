"""El sitio en un navegador de verdad: sin peticiones fuera, con fórmulas, figuras y búsqueda."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, toc_documents
from tests.site.browser import axe_violations, browser_context, serve

pytestmark = pytest.mark.browser

SHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="module")
def base_url(site):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def visited(base_url):
    """Visita cada página una vez y devuelve lo observado en cada una."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    results = {}
    with browser_context(viewport={"width": 1280, "height": 900}) as (context, visit):
        for doc in toc_documents():
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(f"{base_url}/{doc}.html", wait_until="networkidle")
            html = page.content()
            # Las fórmulas llegan en MathML (compuestas al construir); MathJax solo
            # queda si la construcción no pudo componerlas.
            info = {"errors": errors, "has_math": 'class="math notranslate' in html}
            if "mathjax/tex-chtml.js" in html:
                page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
            info["n_math"] = page.locator("mjx-container, span.math math, div.math math").count()
            info["n_plotly_div"] = page.locator(".plotly-graph-div").count()
            if info["n_plotly_div"]:
                # Las figuras se dibujan al acercarse a la pantalla: se piden todas.
                page.evaluate("window.libroiaDibujarFiguras()")
            info["n_plotly_drawn"] = page.locator(".js-plotly-plot .main-svg").count()
            page.screenshot(path=str(SHOTS / f"{doc.replace('/', '_')}.png"), full_page=True)
            info["axe"] = serious_violations(page)
            results[doc] = info
            page.close()
        results["__blocked__"] = list(visit.blocked)
    return results


def serious_violations(page) -> list[str]:
    """Infracciones graves o críticas de axe-core 4.14 (WCAG 2.1 A/AA, tests/site/assets/)."""
    return axe_violations(page)


@pytest.fixture(scope="module")
def visited_mobile_dark(base_url):
    """Cada página a 375 px de ancho y en modo oscuro."""
    results = {}
    options = {"viewport": {"width": 375, "height": 812}, "color_scheme": "dark"}
    with browser_context(**options) as (context, visit):
        for doc in toc_documents():
            page = context.new_page()
            page.goto(f"{base_url}/{doc}.html", wait_until="networkidle")
            name = doc.replace("/", "_")
            page.screenshot(path=str(SHOTS / f"{name}-375-oscuro.png"), full_page=False)
            results[doc] = {
                "theme": page.evaluate("document.documentElement.dataset.theme"),
                "overflow": page.evaluate(
                    "document.scrollingElement.scrollWidth - window.innerWidth"
                ),
                "axe": serious_violations(page),
            }
            page.close()
        results["__blocked__"] = list(visit.blocked)
    return results


@pytest.mark.parametrize("doc", toc_documents())
def test_sin_infracciones_graves_de_accesibilidad(visited, visited_mobile_dark, doc):
    assert visited[doc]["axe"] == []
    assert visited_mobile_dark[doc]["axe"] == []


@pytest.mark.parametrize("doc", toc_documents())
def test_usable_a_375_px_y_en_modo_oscuro(visited_mobile_dark, doc):
    info = visited_mobile_dark[doc]
    assert info["theme"] == "dark"
    assert info["overflow"] <= 1, f"{doc}: la página se sale {info['overflow']} px de ancho"
    assert (SHOTS / f"{doc.replace('/', '_')}-375-oscuro.png").exists()
    assert visited_mobile_dark["__blocked__"] == []


def test_ninguna_peticion_sale_de_127_0_0_1(visited):
    assert visited["__blocked__"] == [], "peticiones externas: " + ", ".join(
        visited["__blocked__"][:10]
    )


@pytest.mark.parametrize("doc", toc_documents())
def test_sin_errores_de_javascript(visited, doc):
    assert visited[doc]["errors"] == []


@pytest.mark.parametrize("doc", toc_documents())
def test_las_formulas_se_componen(visited, doc):
    info = visited[doc]
    if info["has_math"]:
        assert info["n_math"] > 0, f"{doc}: MathJax no compuso ninguna fórmula"


@pytest.mark.parametrize("doc", toc_documents())
def test_las_figuras_de_plotly_se_dibujan(visited, doc):
    info = visited[doc]
    assert info["n_plotly_drawn"] >= info["n_plotly_div"]


def test_el_libro_tiene_formulas_y_figuras(visited):
    assert sum(v["n_math"] for k, v in visited.items() if k != "__blocked__") > 0
    assert sum(v["n_plotly_drawn"] for k, v in visited.items() if k != "__blocked__") > 0


@pytest.mark.parametrize("query", ["atención", "atencion"])
def test_la_busqueda_encuentra_palabras_con_y_sin_tilde(base_url, query):
    with browser_context() as (context, visit):
        page = context.new_page()
        page.goto(f"{base_url}/search.html?q={query}", wait_until="networkidle")
        page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        hits = page.locator("#search-results ul.search li").count()
        assert hits >= 1
        assert visit.blocked == []
