"""Lo que un lector espera de un libro de texto abierto: glosario, ejercicios,
autoevaluación, descargas, mapa del sitio y tarjetas sociales."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile

import pytest
import yaml
from bs4 import BeautifulSoup

from libroia.corpus import clean_markdown
from tests.conftest import BOOK, ROOT, toc_documents

pytestmark = pytest.mark.site

APPENDICES = {"book/glosario", "book/bibliografia", "book/ejecucion", "book/contribuir"}
PROSE_DOCS = [d for d in toc_documents() if d not in APPENDICES]
CHAPTERS = [d for d in toc_documents() if re.match(r"book/\d\d_", d)]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def source(doc: str) -> str:
    return (ROOT / f"{doc}.md").read_text(encoding="utf-8")


def glossary_terms() -> list[str]:
    """Términos del glosario: las líneas sin sangría dentro de la directiva ``glossary``."""
    text = (BOOK / "glosario.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return [
        line.strip()
        for line in body.splitlines()
        if line.strip() and not line.startswith((" ", ":")) and not line.startswith("\t")
    ]


def linked_terms(text: str) -> set[str]:
    """Términos enlazados con ``{term}`término``` o ``{term}`texto <término>```."""
    found = set()
    for target in re.findall(r"\{term\}`([^`]+)`", text):
        match = re.search(r"<([^>]+)>\s*$", target)
        found.add((match.group(1) if match else target).strip().casefold())
    return found


def page(site, doc: str) -> BeautifulSoup:
    return BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")


def test_el_glosario_da_termino_en_espanol_ingles_y_definicion(site):
    terms = glossary_terms()
    assert len(terms) >= 20, f"el glosario solo tiene {len(terms)} términos"
    html = page(site, "book/glosario")
    items = html.select("dl.glossary > dt")
    assert len(items) == len(terms)
    for dd in html.select("dl.glossary > dd"):
        assert dd.find("em"), f"definición sin el inglés en cursiva: {dd.get_text()[:80]}"


@pytest.mark.parametrize("doc", PROSE_DOCS)
def test_cada_termino_usado_se_enlaza_al_glosario(doc):
    text = source(doc)
    prose = clean_markdown(text).casefold()
    linked = linked_terms(text)
    missing = [
        term
        for term in glossary_terms()
        if re.search(rf"(?<!\w){re.escape(term.casefold())}(?!\w)", prose)
        and term.casefold() not in linked
    ]
    assert not missing, f"{doc} usa términos del glosario sin enlazarlos con {{term}}: {missing}"


def test_los_terminos_muestran_su_definicion_al_pasar_el_raton(site):
    tooltips = 0
    for doc in PROSE_DOCS:
        for link in page(site, doc).select("a.glosario-termino"):
            assert link.get("title", "").strip()
            tooltips += 1
    assert tooltips > 0


@pytest.mark.parametrize("doc", CHAPTERS)
def test_capitulo_con_ejercicios_y_soluciones_ocultas(site, doc):
    html = page(site, doc)
    exercises = html.select("div.exercise")
    solutions = html.select("details.solution, div.solution.dropdown, .solution details")
    assert len(exercises) >= 3, f"{doc}: {len(exercises)} ejercicios"
    assert len(solutions) >= 3, f"{doc}: {len(solutions)} soluciones ocultas"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_capitulo_cierra_con_lo_que_te_llevas_antes_de_los_ejercicios(doc):
    headings = re.findall(r"^## (.+)$", source(doc), flags=re.M)
    assert "Lo que te llevas" in headings, f"{doc}: falta «Lo que te llevas»"
    assert headings.index("Lo que te llevas") == headings.index("Ejercicios") - 1, headings
    summary = source(doc).split("## Lo que te llevas", 1)[1].split("\n## ", 1)[0]
    bullets = re.findall(r"^- ", summary, flags=re.M)
    assert 3 <= len(bullets) <= 8, f"{doc}: {len(bullets)} ideas en «Lo que te llevas»"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_capitulo_termina_con_autoevaluacion(site, doc):
    html = page(site, doc)
    sections = html.select("section")
    last = [s for s in sections if s.find(["h2"]) and "Autoevaluación" in s.find("h2").get_text()]
    assert last, f"{doc}: falta la sección «Autoevaluación»"
    quizzes = last[-1].select("div.quiz")
    assert 3 <= len(quizzes) <= 5, f"{doc}: {len(quizzes)} preguntas"
    for quiz in quizzes:
        options = quiz.select("details.quiz-option")
        assert len(options) >= 2
        assert len(quiz.select("details.quiz-option.correcta")) == 1
        assert all(o.select_one(".quiz-feedback") for o in options)


@pytest.mark.parametrize("doc", PROSE_DOCS)
def test_descargas_ipynb_ejecutado_y_md(site, doc):
    nb_path = site / "_sources" / f"{doc}.ipynb"
    assert nb_path.exists(), f"falta la descarga {nb_path.name}"
    notebook = json.loads(nb_path.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    if code:
        assert any(c.get("outputs") for c in code), f"{doc}.ipynb no tiene resultados"
    assert (site / "_sources" / f"{doc}.md").exists()
    html = page(site, doc)
    hrefs = [a.get("href", "") for a in html.select("a")]
    assert any(h.endswith(f"{doc.split('/')[-1]}.ipynb") for h in hrefs)


@pytest.mark.parametrize("doc", PROSE_DOCS)
def test_botones_de_repositorio_y_lanzamiento_son_enlaces(site, doc):
    repo = CONFIG["repository"]["url"]
    html = page(site, doc)
    links = [a.get("href", "") for a in html.select("a")]
    assert any(h.startswith(repo) and "/edit/" in h for h in links), "falta «Editar esta página»"
    assert any(h == repo for h in links), "falta el botón del repositorio"
    binder = [h for h in links if h.startswith(CONFIG["launch_buttons"]["binderhub_url"])]
    if source(doc).count("{code-cell}"):
        assert binder and "como-funciona-chatgpt" in binder[0]
    assert not html.select("script[src*=thebe], [data-thebe]")


def test_mapa_del_sitio_y_tarjetas_sociales(site):
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    for doc in toc_documents():
        assert f"{doc}.html" in sitemap
    html = page(site, "book/intro")
    image = html.select_one('meta[property="og:image"]')["content"]
    local = site / image.split(CONFIG["html"]["baseurl"], 1)[1]
    assert local.exists() and local.stat().st_size > 1000


def test_tabla_de_tiempos_de_ejecucion(site):
    """Una fila por documento ejecutado, cada una con su tiempo y el estado ✅ (no ❌)."""
    html = page(site, "book/ejecucion")
    table = html.select_one("table")
    headers = [th.get_text(strip=True) for th in table.select("thead th")]
    status = next(i for i, h in enumerate(headers) if h in {"Status", "Estado"})
    runtime = next(i for i, h in enumerate(headers) if h.startswith(("Run Time", "Tiempo")))
    rows = {}
    for tr in table.select("tbody tr"):
        cells = [td.get_text(strip=True) for td in tr.select("td")]
        rows[cells[0]] = cells
    executed = {d for d in toc_documents() if "{code-cell}" in source(d)}
    assert set(rows) == executed
    for doc, cells in rows.items():
        assert cells[status] == "✅", f"{doc}: {cells}"
        assert float(cells[runtime]) >= 0, f"{doc}: {cells}"


def test_make_zip_empaqueta_el_sitio(site):
    subprocess.run(["make", "-s", "zip"], cwd=ROOT, check=True, capture_output=True)
    archive = ROOT / "_build" / "como-funciona-chatgpt.zip"
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
    assert "html/book/intro.html" in names
    assert "html/_static/plotly/plotly-libro.min.js" in names
