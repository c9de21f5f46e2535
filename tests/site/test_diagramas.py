"""Diagramas SVG del libro y código mostrado con ``literalinclude``.

Comprueba las reglas de ``book/_diagramas/README.md``: cada capítulo tiene al
menos un diagrama y un ``literalinclude``; cada SVG es XML válido con ``viewBox``,
sin colores escritos (solo las clases de la paleta y ``currentColor``), con
texto legible a 375 px y referencias internas que existen; cada
``:pyobject:`` nombra un objeto que existe. Además, la directiva ``diagrama``
construye de verdad una figura numerada y accesible en un proyecto de Sphinx
mínimo.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

from libroia_sphinx import STATIC_DIR
from libroia_sphinx.diagramas import CSS_FILE, prepare_svg

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
DIAGRAMS = BOOK / "_diagramas"
CSS = STATIC_DIR / CSS_FILE
SVG_NS = "{http://www.w3.org/2000/svg}"

CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))
SVGS = sorted(DIAGRAMS.glob("*.svg"))

# En un teléfono de 375 px de ancho, un diagrama del libro mide 327 px (medido con
# Chromium en el sitio construido: los márgenes del tema se llevan el resto). Un
# SVG más ancho que eso se escala hacia abajo, y su texto con él.
PHONE_COLUMN_PX = 327
MIN_TEXT_PX = 11.0

# Atributos de presentación que llevan un color.
COLOR_ATTRS = ("fill", "stroke", "color", "stop-color", "flood-color", "lighting-color")
ALLOWED_COLOR_VALUES = {"none", "currentColor", "transparent"}
FORBIDDEN_ELEMENTS = {"style", "script", "image", "foreignObject", "iframe"}

FENCE_RE = re.compile(r"^(`{3,}|:{3,})\{(\w[\w:-]*)\}\s*(.*)$")


def _directives(path: Path, name: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """``(argumento, opciones, contenido)`` de cada directiva ``name`` de un capítulo."""
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i].strip())
        if m and m.group(2) == name:
            fence, arg = m.group(1), m.group(3).strip()
            options: dict[str, str] = {}
            content: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                opt = re.match(r"^:([\w-]+):\s*(.*)$", lines[i].strip())
                if opt and not content:
                    options[opt.group(1)] = opt.group(2).strip()
                elif lines[i].strip() or content:
                    content.append(lines[i])
                i += 1
            found.append((arg, options, content))
        i += 1
    return found


def _css_classes() -> set[str]:
    return set(re.findall(r"\.([a-z][\w-]*)", CSS.read_text(encoding="utf-8")))


def _inherited_font_sizes(root: ET.Element) -> list[tuple[str, float]]:
    """``(texto, tamaño)`` de cada ``<text>``/``<tspan>``, con el tamaño heredado."""
    out: list[tuple[str, float]] = []

    def walk(el: ET.Element, size: float) -> None:
        own = el.get("font-size")
        if own is not None:
            size = float(own.removesuffix("px"))
        if el.tag in (f"{SVG_NS}text", f"{SVG_NS}tspan") and (el.text or "").strip():
            out.append((el.text.strip(), size))
        for child in el:
            walk(child, size)

    walk(root, 16.0)  # 16 px: el tamaño por omisión del navegador
    return out


# ---------------------------------------------------------------------------
# Capítulos
# ---------------------------------------------------------------------------


def test_there_are_ten_chapters_and_diagrams():
    assert len(CHAPTERS) >= 10
    assert len(SVGS) >= 10


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_a_diagram_and_shows_code(chapter: Path):
    diagrams = _directives(chapter, "diagrama")
    includes = _directives(chapter, "literalinclude")
    assert diagrams, f"{chapter.name} no tiene ningún {{diagrama}}"
    assert includes, f"{chapter.name} no muestra código de libroia con {{literalinclude}}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_diagrams_are_complete(chapter: Path):
    for arg, options, content in _directives(chapter, "diagrama"):
        svg = (chapter.parent / arg).resolve()
        assert svg.is_file() and svg.parent == DIAGRAMS, f"{chapter.name}: {arg} no existe"
        alt = options.get("alt", "")
        assert len(alt.split()) >= 12, f"{chapter.name}: el :alt: de {arg} es demasiado corto"
        assert options.get("name", "").startswith("fig-"), f"{chapter.name}: {arg} sin :name:"
        assert " ".join(content).strip(), f"{chapter.name}: {arg} sin pie de figura"


def _find_object(tree: ast.Module, dotted: str) -> bool:
    nodes: list[ast.AST] = list(tree.body)
    for part in dotted.split("."):
        match = next(
            (n for n in nodes
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
             and n.name == part),
            None,
        )  # fmt: skip
        if match is None:
            return False
        nodes = list(getattr(match, "body", []))
    return True


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_literalincludes_point_at_existing_code(chapter: Path):
    for arg, options, _ in _directives(chapter, "literalinclude"):
        path = (chapter.parent / arg).resolve()
        assert path.is_file(), f"{chapter.name}: {arg} no existe"
        assert path.is_relative_to(ROOT / "code"), f"{chapter.name}: {arg} no está en code/"
        source = path.read_text(encoding="utf-8")
        if "pyobject" in options:
            tree = ast.parse(source)
            assert _find_object(tree, options["pyobject"]), (
                f"{chapter.name}: {arg} no define {options['pyobject']}"
            )
        for key in ("start-at", "end-at", "start-after", "end-before"):
            if key in options:
                text = options[key].strip('"')
                assert text in source, f"{chapter.name}: {arg} no contiene {text!r} ({key})"


def test_every_diagram_is_used_once():
    used = [
        (chapter.parent / arg).resolve().name
        for chapter in sorted(BOOK.glob("*.md"))
        for arg, _, _ in _directives(chapter, "diagrama")
    ]
    assert sorted(used) == sorted(p.name for p in SVGS)


# ---------------------------------------------------------------------------
# Los ficheros SVG
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("svg", SVGS, ids=lambda p: p.stem)
def test_svg_is_valid_and_scalable(svg: Path):
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG_NS}svg"
    view_box = root.get("viewBox")
    assert view_box, f"{svg.name} no tiene viewBox"
    _, _, width, height = (float(v) for v in view_box.split())
    assert 200 <= width <= 400, f"{svg.name}: ancho {width}; diseña para un teléfono (≈ 360)"
    assert height > 0
    assert root.get("width") is None and root.get("height") is None, (
        f"{svg.name}: sin width/height fijos; el ancho lo da la página"
    )
    # Un tamaño negativo no se dibuja y el navegador lo anota como error en la consola.
    negative = [
        f"<{el.tag.removeprefix(SVG_NS)} {attr}={el.get(attr)}>"
        for el in root.iter()
        for attr in ("width", "height", "r", "rx", "ry")
        if el is not root and el.get(attr, "").strip().startswith("-")
    ]
    assert negative == [], f"{svg.name}: tamaños negativos {negative}"


@pytest.mark.parametrize("svg", SVGS, ids=lambda p: p.stem)
def test_svg_text_is_legible_on_a_phone(svg: Path):
    root = ET.parse(svg).getroot()
    width = float(root.get("viewBox").split()[2])
    scale = min(1.0, PHONE_COLUMN_PX / width)
    texts = _inherited_font_sizes(root)
    assert texts, f"{svg.name} no tiene texto"
    for text, size in texts:
        assert size * scale >= MIN_TEXT_PX, (
            f"{svg.name}: «{text}» mide {size * scale:.1f} px a 375 px (mínimo {MIN_TEXT_PX})"
        )


@pytest.mark.parametrize("svg", SVGS, ids=lambda p: p.stem)
def test_svg_uses_only_the_palette(svg: Path):
    root = ET.parse(svg).getroot()
    classes = _css_classes()
    for el in root.iter():
        tag = el.tag.removeprefix(SVG_NS)
        assert tag not in FORBIDDEN_ELEMENTS, f"{svg.name}: <{tag}> no está permitido"
        for attr in COLOR_ATTRS:
            value = el.get(attr)
            if value is not None:
                assert value in ALLOWED_COLOR_VALUES or value.startswith("var(--diagrama-"), (
                    f"{svg.name}: {attr}={value!r} en <{tag}>; usa una clase de la paleta"
                )
        style = el.get("style", "")
        assert not re.search(r"(fill|stroke|color)\s*:", style), (
            f"{svg.name}: color en style={style!r}; usa una clase de la paleta"
        )
        for cls in el.get("class", "").split():
            assert cls in classes, f"{svg.name}: la clase {cls!r} no está en diagramas.css"
        for attr in ("href", "{http://www.w3.org/1999/xlink}href"):
            ref = el.get(attr)
            assert ref is None or ref.startswith("#"), f"{svg.name}: enlace externo {ref!r}"


@pytest.mark.parametrize("svg", SVGS, ids=lambda p: p.stem)
def test_svg_references_resolve(svg: Path):
    root = ET.parse(svg).getroot()
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for el in root.iter():
        for value in el.attrib.values():
            for ref in re.findall(r"url\(#([^)]+)\)", value):
                assert ref in ids, f"{svg.name}: url(#{ref}) no existe"


def test_palette_has_light_and_dark_values_with_enough_contrast():
    css = CSS.read_text(encoding="utf-8")
    light_block = re.search(r':root,\s*html\[data-theme="light"\]\s*\{(.*?)\}', css, re.S)
    dark_block = re.search(r'html\[data-theme="dark"\]\s*\{(.*?)\}', css, re.S)
    assert light_block and dark_block

    def colors(block: str) -> dict[str, str]:
        return dict(re.findall(r"--diagrama-([\w-]+):\s*(#[0-9a-fA-F]{6})", block))

    def luminance(hex_color: str) -> float:
        rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def contrast(a: str, b: str) -> float:
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    light, dark = colors(light_block.group(1)), colors(dark_block.group(1))
    roles = {"q", "k", "v", "res", "grad", "tok", "pesos", "opt", "neutro"}
    assert roles <= set(light) and set(light) == set(dark)
    for role in roles:
        # El texto de color (clase texto-c) necesita 4.5:1 (WCAG AA) en los dos temas.
        assert contrast(light[role], "#ffffff") >= 4.5, role
        assert contrast(dark[role], "#14181e") >= 4.5, role
        assert f".c-{role} " in css


# ---------------------------------------------------------------------------
# prepare_svg y la directiva
# ---------------------------------------------------------------------------

MINI_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50" font-size="14">'
    '<defs><marker id="m"><path class="c-q lleno" d="M0,0 L1,1"/></marker></defs>'
    '<line class="c-q linea" x1="0" y1="0" x2="9" y2="9" marker-end="url(#m)"/>'
    '<text x="5" y="5">hola</text></svg>'
)


def test_prepare_svg_adds_accessible_name_and_unique_ids():
    out = prepare_svg(MINI_SVG, "Una flecha que saluda", "dg-x")
    root = ET.fromstring(out)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Una flecha que saluda"
    assert root[0].tag == f"{SVG_NS}title" and root[0].text == "Una flecha que saluda"
    assert root.get("width") == "100%" and root.get("style") == "max-width: 150px"
    assert 'id="dg-x-m"' in out and "url(#dg-x-m)" in out and 'id="m"' not in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<svg", "XML"),
        ('<g xmlns="http://www.w3.org/2000/svg"/>', "raíz"),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>', "viewBox"),
    ],
)
def test_prepare_svg_rejects_bad_input(source: str, message: str):
    with pytest.raises(ValueError, match=message):
        prepare_svg(source, "x", "p")


def _build(tmp_path: Path, page: str, builder: str = "html") -> tuple[str, str]:
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "d.svg").write_text(MINI_SVG, encoding="utf-8")
    (src / "conf.py").write_text(
        "extensions = ['myst_parser', 'libroia_sphinx.diagramas']\n"
        "numfig = True\nlanguage = 'es'\nmyst_enable_extensions = ['colon_fence']\n",
        encoding="utf-8",
    )
    (src / "index.md").write_text(page, encoding="utf-8")
    out = tmp_path / "out"
    warnings = tmp_path / "warnings.txt"
    with warnings.open("w", encoding="utf-8") as stream:
        app = Sphinx(
            str(src), str(src), str(out), str(tmp_path / "doctrees"), builder,
            status=None, warning=stream, freshenv=True,
        )  # fmt: skip
        app.build()
    name = "index.xhtml" if builder == "epub" else "index.html"
    html = (out / name).read_text(encoding="utf-8")
    return html, warnings.read_text(encoding="utf-8")


def test_directive_renders_a_numbered_accessible_figure(tmp_path: Path):
    page = """# Prueba

```{diagrama} d.svg
:alt: Una flecha que saluda
:name: fig-prueba

Una flecha, con **pie**.
```

```{diagrama} d.svg
:alt: La misma flecha, otra vez
:name: fig-otra

Otra vez.
```

Como muestra la {numref}`fig-otra`.
"""
    html, warnings = _build(tmp_path, page)
    assert "WARNING" not in warnings and "ERROR" not in warnings, warnings
    assert "<img" not in html
    assert html.count('role="img"') == 2
    assert 'aria-label="Una flecha que saluda"' in html
    assert "<title>Una flecha que saluda</title>" in html
    # Figuras numeradas, con pie y enlazables: la segunda es la 2.
    assert re.search(r'<figure class="[^"]*diagrama[^"]*" id="fig-prueba">', html)
    assert re.search(r'class="caption-number">\w+\.? 1', html)
    assert re.search(r'class="caption-number">\w+\.? 2', html)
    assert "<strong>pie</strong>" in html
    assert re.search(r'href="#fig-otra"[^>]*>.*?2</span>', html)
    # Los id de cada diagrama no chocan entre sí.
    assert 'id="dg-fig-prueba-m"' in html and 'id="dg-fig-otra-m"' in html
    assert "diagramas/diagramas.css" in html


def test_directive_requires_alt_text(tmp_path: Path):
    html, warnings = _build(tmp_path, "# P\n\n```{diagrama} d.svg\n:name: fig-x\n\nPie.\n```\n")
    assert ":alt:" in warnings
    assert 'role="img"' not in html


def test_directive_output_is_valid_xhtml_for_epub(tmp_path: Path):
    """El EPUB es XHTML: el SVG en línea tiene que ser XML bien formado."""
    page = "# P\n\n```{diagrama} d.svg\n:alt: Una flecha\n:name: fig-x\n\nPie.\n```\n"
    xhtml, _ = _build(tmp_path, page, builder="epub")
    root = ET.fromstring(xhtml)  # falla si no es XML bien formado
    svgs = list(root.iter(f"{SVG_NS}svg"))
    assert len(svgs) == 1 and svgs[0].get("aria-label") == "Una flecha"
