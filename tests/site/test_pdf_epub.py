"""El libro fuera de la web: PDF, EPUB y los enlaces a Colab y Binder.

El PDF y el EPUB se construyen con ``make pdf`` y ``make epub`` (aquí, con los
mismos módulos) si no están ya en ``_build/pdf`` y ``_build/epub``. Se leen con
herramientas de Debian: ``pdftotext`` (poppler-utils) y ``epubcheck``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from bs4 import BeautifulSoup
from libroia_sphinx import epub as epub_module
from libroia_sphinx import notebooks
from libroia_sphinx import pdf as pdf_module

from tests.conftest import ROOT, chapter_sources, toc_documents

pytestmark = pytest.mark.site

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _sources_mtime() -> float:
    """Lo más reciente de lo que entra en el PDF y el EPUB (capítulos, índice, extensiones)."""
    paths = [ROOT / "_toc.yml", ROOT / "_config.yml", ROOT / "CONTRIBUTING.md"]
    for folder in (ROOT / "book", ROOT / "code" / "libroia_sphinx"):
        paths += [p for p in folder.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def _build(module: str, target: Path) -> Path:
    """Construye ``target`` si no existe o si es más antiguo que sus fuentes."""
    if not target.exists() or target.stat().st_mtime < _sources_mtime():
        subprocess.run([sys.executable, "-m", module], cwd=ROOT, check=True)
    assert target.exists(), f"{module} no escribió {target}"
    return target


@pytest.fixture(scope="module")
def pdf_book() -> Path:
    return _build("libroia_sphinx.pdf", ROOT / pdf_module.OUTPUT / pdf_module.BOOK_NAME)


@pytest.fixture(scope="module")
def epub_book() -> Path:
    return _build("libroia_sphinx.epub", ROOT / epub_module.OUTPUT / epub_module.BOOK_NAME)


@pytest.fixture(scope="module")
def pdf_pages(pdf_book) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.fail("falta pdftotext: instala el paquete de Debian poppler-utils")
    return pdf_module.pdf_pages_text(pdf_book)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


def book_titles() -> list[str]:
    """Título de cada documento del índice, como lo imprime el libro («Capítulo N. …»)."""
    titles = []
    for path in chapter_sources():
        title = next(
            line[2:].strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("# ")
        )
        match = re.match(r"(\d+)_", path.name)
        titles.append(f"Capítulo {int(match.group(1))}. {title}" if match else title)
    return titles


# --- PDF -----------------------------------------------------------------------------


def test_el_pdf_tiene_portada_indice_y_cada_capitulo(pdf_pages):
    assert normalise(CONFIG["title"]) in normalise(pdf_pages[0])
    toc = normalise(pdf_pages[1])
    assert toc.startswith("Índice")
    text = normalise(" ".join(pdf_pages[2:]))
    for title in book_titles():
        assert normalise(title) in toc, f"«{title}» no está en el índice"
        assert normalise(title) in text, f"«{title}» no está en el PDF"
    print(f"\nPDF: {len(pdf_pages) - 1} páginas")


def toc_pages(pdf_pages: list[str]) -> dict[str, int]:
    """Página que da el índice del PDF para cada título de :func:`book_titles`."""
    toc = normalise(pdf_pages[1])
    pages = {}
    for title in book_titles():
        match = re.search(re.escape(normalise(title)) + r" (\d+)\b", toc)
        assert match, f"«{title}» no está en el índice con su página"
        pages[title] = int(match.group(1))
    return pages


def chapter_texts(pdf_pages: list[str]) -> dict[str, str]:
    """Texto de cada documento del libro, de su primera página a la del siguiente."""
    pages = toc_pages(pdf_pages)
    starts = [*pages.values(), len(pdf_pages)]
    return {
        title: normalise(" ".join(pdf_pages[start - 1 : end - 1]))
        for (title, start), end in zip(pages.items(), starts[1:], strict=True)
    }


def test_el_indice_del_pdf_da_la_pagina_de_cada_capitulo(pdf_pages):
    pages = toc_pages(pdf_pages)
    assert list(pages.values()) == sorted(pages.values())
    for title, page in pages.items():
        first_lines = " ".join(pdf_pages[page - 1].splitlines()[:4])
        assert normalise(first_lines).startswith(normalise(title)), f"«{title}»: pág. {page}"
    assert len(pages) == len(toc_documents())


def test_el_pdf_tiene_formulas_compuestas_y_no_tex(pdf_pages):
    """Sin los delimitadores ``\\( \\)``/``$$`` que deja una fórmula que MathJax no compuso."""
    text = " ".join(pdf_pages)
    raw = re.findall(r"\\\(.{0,80}?\\\)|\$\$", text)
    assert not raw, f"TeX sin componer en el PDF: {raw[:5]}"


def test_el_pdf_parte_palabras_con_guiones_en_espanol(pdf_pages):
    """Chromium sin red no trae diccionarios: los guiones blandos los pone el libro."""
    broken = [
        (a.split()[-1], b.split()[0])
        for page in pdf_pages
        for a, b in zip(page.splitlines(), page.splitlines()[1:], strict=False)
        if a.strip() and b.strip() and a.rstrip().endswith(("\u00ad", "-", "\u2010"))
        and b.strip()[0].islower()
    ]  # fmt: skip
    assert len(broken) > 20, f"casi ninguna palabra partida con guion: {broken[:5]}"


def test_el_pdf_tiene_las_figuras_con_su_pie_y_las_soluciones(pdf_pages):
    texts = chapter_texts(pdf_pages)
    for path, title in zip(chapter_sources(), book_titles(), strict=True):
        source, text = path.read_text(encoding="utf-8"), texts[title]
        match = re.match(r"(\d+)_", path.name)
        if match and "fig.show()" in source:
            assert f"Figura {int(match.group(1))}.1." in text, f"{path.name}: sin figuras"
        solutions = len(re.findall(r"^[`:]{3,}\{solution\}", source, flags=re.M))
        if solutions:
            # Al final del capítulo, después de todos los ejercicios.
            tail = text.rsplit("Soluciones", 1)
            assert len(tail) == 2, f"{path.name}: sin sección de soluciones"
            assert tail[1].count("Solución del") == solutions, path.name


def test_el_codigo_no_se_sale_de_la_pagina(pdf_book):
    """Ninguna palabra del PDF pasa del margen derecho (``pdftotext -bbox``)."""
    result = subprocess.run(
        ["pdftotext", "-bbox", str(pdf_book), "-"], capture_output=True, text=True, check=True
    )
    widths = [float(w) for w in re.findall(r'<page width="([\d.]+)"', result.stdout)]
    word = re.compile(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>([^<]*)<')
    too_far = [(float(x), w) for x, w in word.findall(result.stdout) if float(x) > widths[0] - 20]
    assert not too_far, f"texto fuera del margen: {too_far[:10]}"


# --- EPUB ----------------------------------------------------------------------------


def test_el_epub_pasa_epubcheck(epub_book):
    found = shutil.which("epubcheck") or "/usr/share/java/epubcheck.jar"
    jar = Path(found).resolve()
    if not jar.exists():
        pytest.fail("falta epubcheck: instala el paquete de Debian epubcheck")
    result = subprocess.run(["java", "-jar", str(jar), str(epub_book)], capture_output=True,
                            text=True)  # fmt: skip
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if line.startswith(("ERROR", "FATAL"))]
    assert result.returncode == 0 and not errors, "\n".join(errors[:20]) or output[-2000:]
    print(f"\nEPUB: {epub_book.stat().st_size / 1e6:.2f} MB")


def test_el_epub_tiene_cada_capitulo_en_espanol_sin_javascript(epub_book):
    with zipfile.ZipFile(epub_book) as book:
        names = book.namelist()
        nav = book.read("nav.xhtml").decode("utf-8")
        pages = {n: book.read(n).decode("utf-8") for n in names if n.endswith(".xhtml")}
        opf = book.read("content.opf").decode("utf-8")
    assert names[0] == "mimetype"
    assert "<dc:language>es</dc:language>" in opf
    for title in book_titles():
        assert normalise(title) in normalise(BeautifulSoup(nav, "html.parser").get_text())
    assert 'properties="cover-image"' in opf
    for name, page in pages.items():
        assert "<script" not in page, f"{name} lleva JavaScript"
        assert 'lang="es"' in page, name
    chapters = [p for n, p in pages.items() if re.search(r"book/\d+_", n)]
    assert any("<math" in p for p in chapters), "sin fórmulas en MathML"
    assert all("\\(" not in p for p in chapters), "TeX sin componer en el EPUB"
    figures = [n for n in names if n.startswith("_images/plotly/") and n.endswith(".svg")]
    assert figures, "el EPUB no lleva las figuras"


# --- Colab, Binder y el flujo de publicación -------------------------------------------


def workflow_branch_and_paths() -> tuple[str, list[str]]:
    """Rama de cuadernos y pasos de ``pages.yml`` que la construyen y la publican."""
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = [(name, step) for name, job in flow["jobs"].items() for step in job["steps"]]
    runs = "\n".join(step.get("run", "") for _, step in steps)
    branch_env = [s.get("env", {}).get("NOTEBOOKS_BRANCH") for _, s in steps]
    branches = {b for b in branch_env if b}
    assert len(branches) == 1, f"pages.yml debe fijar NOTEBOOKS_BRANCH una vez: {branches}"
    return branches.pop(), runs.splitlines()


def test_el_flujo_publica_la_rama_que_enlazan_las_paginas():
    branch, runs = workflow_branch_and_paths()
    assert branch == notebooks.NOTEBOOKS_BRANCH
    tree = [r for r in runs if "libroia_sphinx.notebooks" in r]
    assert tree and "_build/html" in tree[0], "pages.yml no escribe el árbol de la rama"
    assert any("git push" in r and "NOTEBOOKS_BRANCH" in r for r in runs)
    assert any(re.search(r"\bmake\b.*\bpdf\b", r) for r in runs), "pages.yml no hace el PDF"
    assert any(re.search(r"\bmake\b.*\bepub\b", r) for r in runs), "pages.yml no hace el EPUB"
    for path in notebooks.DOWNLOADS.values():
        folder = "_build/html/" + path.rsplit("/", 1)[0]
        assert any(folder in r for r in runs), f"pages.yml no copia el libro a {folder}"


def test_colab_y_binder_abren_los_cuadernos_que_publica_el_flujo(site, tmp_path):
    branch, _ = workflow_branch_and_paths()
    published = set(notebooks.publish_tree(site, tmp_path / "rama", ROOT))
    user, repo = notebooks.github_repo(CONFIG["repository"]["url"])
    docs = [d for d in toc_documents() if (site / "_sources" / f"{d}.ipynb").exists()]
    assert len(docs) >= 10
    for doc in docs:
        html = BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
        links = [a["href"] for a in html.find_all("a", href=True)]
        colab = [u for u in links if u.startswith(notebooks.COLAB_URL)]
        binder = [u for u in links if "/v2/gh/" in u]
        assert len(colab) == 1 and len(binder) == 1, f"{doc}: {colab} {binder}"
        prefix = f"{notebooks.COLAB_URL}/github/{user}/{repo}/blob/{branch}/"
        assert colab[0].startswith(prefix)
        assert colab[0].removeprefix(prefix) in published, colab[0]
        url = urlparse(binder[0])
        assert url.path == f"/v2/gh/{user}/{repo}/{branch}"
        path = parse_qs(url.query)["urlpath"][0].removeprefix("lab/tree/")
        assert path in published, binder[0]
        label = html.find("a", href=colab[0]).get_text(" ", strip=True)
        assert label == "Abrir en Colab"
