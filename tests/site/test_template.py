"""La plantilla de capítulo (`book/_plantilla.md`) se construye sin avisos y muestra cada pieza."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from bs4 import BeautifulSoup

from tests.conftest import BUILD_FLAGS, JUPYTER_BOOK, ROOT

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def template_page(tmp_path_factory):
    work = tmp_path_factory.mktemp("plantilla")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["exclude_patterns"] = [p for p in config["exclude_patterns"] if "plantilla" not in p]
    config["execute"]["cache"] = str(work / "cache")
    (work / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    toc = {
        "format": "jb-book",
        "root": "book/_plantilla",
        "chapters": [{"file": "book/glosario"}, {"file": "book/bibliografia"}],
    }
    (work / "_toc.yml").write_text(yaml.safe_dump(toc))
    (work / "book").mkdir()
    for name in ("_plantilla.md", "glosario.md", "bibliografia.md", "references.bib"):
        shutil.copy(ROOT / "book" / name, work / "book" / name)
    build = [str(JUPYTER_BOOK), "build", str(work), *BUILD_FLAGS]
    out = subprocess.run(build, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    html = (work / "_build" / "html" / "book" / "_plantilla.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser")


def test_la_plantilla_tiene_cada_pieza(template_page):
    page = template_page
    assert page.select_one("figure.libroia-plotly .plotly-graph-div")
    assert page.select_one(".exercise") and page.select_one(".solution")
    assert page.select_one("a.glosario-termino[title]")
    assert "0." in page.select_one(".pasted-text").get_text()
    assert page.select("div.quiz details.quiz-option")
