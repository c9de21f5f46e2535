"""El libro entero en una página (para el PDF) y en EPUB: lo que cambia al imprimirlo.

Solo actúa con los constructores :data:`PRINT_BUILDERS` (``singlehtml``, del que
sale el PDF con :mod:`libroia_sphinx.pdf`, y ``epub``); el sitio web no cambia.
Lo activa :mod:`libroia_sphinx.notebooks` (``app.setup_extension``).

- **«Capítulo N»** delante del título de cada capítulo (``book/NN_*.md``), también
  en los índices.
- **Figuras estáticas**: cada figura de plotly se dibuja una vez en SVG, en su
  estado inicial (:func:`libroia_sphinx.chromium.render`), con un pie
  «Figura N.k» y su descripción.
- **Ejercicios con solución al final del capítulo**, en una sección
  «Soluciones», junto con las respuestas de la autoevaluación.
- **Sin desplegables**: el código que en la web está oculto (``hide-input``)
  desaparece, y lo que se despliega queda abierto.
- **Guiones de corte**: en ``singlehtml`` (el PDF), guiones blandos en español
  (pyphen) en la prosa; Chromium no trae diccionarios de silabeo sin red. El
  EPUB declara ``lang="es"`` y ``hyphens: auto`` y deja cortar al lector.
- **EPUB**: fórmulas en MathML (las pasa MathJax una vez, al construir), portada,
  sin JavaScript, y el manifiesto con las propiedades ``mathml``/``svg`` que
  exige EPUB 3.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

from libroia_sphinx import add_static_path, book_dir

logger = logging.getLogger(__name__)

PRINT_BUILDERS = ("singlehtml", "epub")
PLOTLY_MIME = "application/vnd.plotly.v1+json"
CHAPTER_RE = re.compile(r"^book/(\d+)_")
FIGURES_DIR = "_images/plotly"
COVER_IMAGE = "_static/portada.svg"
EPUB_BASENAME = "como-funciona-chatgpt"
MATH_RENDERER = "libroia_mathml"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def chapter_number(docname: str) -> int | None:
    """Número del capítulo de ``docname`` (``book/04_atencion`` → 4), o ``None``.

    >>> chapter_number("book/04_atencion"), chapter_number("book/glosario")
    (4, None)
    """
    match = CHAPTER_RE.match(docname)
    return int(match.group(1)) if match else None


def chapter_label(number: int) -> str:
    """Texto que precede al título de un capítulo.

    >>> chapter_label(4)
    'Capítulo 4. '
    """
    return f"Capítulo {number}. "


def _is_print(app: Any) -> bool:
    return getattr(app, "builder", None) is not None and app.builder.name in PRINT_BUILDERS


class ChapterTitles(SphinxTransform):
    """«Capítulo N. » delante del primer título de cada capítulo (al leerlo)."""

    default_priority = 400

    def apply(self, **kwargs: Any) -> None:
        if not _is_print(self.app):
            return
        number = chapter_number(self.env.docname)
        if number is None:
            return
        for section in self.document.findall(nodes.section):
            title = section.next_node(nodes.title)
            if title is not None and not title.astext().startswith("Capítulo"):
                title.insert(0, nodes.Text(chapter_label(number)))
            return


# --- soft hyphens (singlehtml → PDF) -----------------------------------------

_NO_HYPHENS = (
    nodes.literal,
    nodes.literal_block,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.title,
    nodes.subtitle,
    nodes.rubric,
    nodes.caption,
    nodes.term,
    addnodes.desc_signature,
)
_WORD = re.compile(r"[^\W\d_]{7,}")


class Hyphenator:
    """Guiones blandos (U+00AD) en español para las palabras largas de un texto.

    >>> Hyphenator().text("las probabilidades").replace("\\xad", "-")
    'las pro-ba-bi-li-da-des'
    """

    def __init__(self) -> None:
        import pyphen

        self._dic = pyphen.Pyphen(lang="es", left=2, right=3)
        self._cache: dict[str, str] = {}

    def word(self, word: str) -> str:
        if word not in self._cache:
            self._cache[word] = self._dic.inserted(word, hyphen="\u00ad")
        return self._cache[word]

    def text(self, text: str) -> str:
        return _WORD.sub(lambda m: self.word(m.group(0)), text)


def hyphenate(doctree: nodes.Node, hyphenator: Hyphenator) -> None:
    """Pone guiones blandos en los textos de la prosa de ``doctree`` (no en código ni títulos)."""
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or _inside(text, _NO_HYPHENS):
            continue
        new = hyphenator.text(str(text))
        if new != str(text):
            parent.replace(text, nodes.Text(new))


def _inside(node: nodes.Node, kinds: tuple[type, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent
    return False


# --- figures, code cells, math (post-transform, before myst-nb picks mime types) --------


def _docname_of(node: nodes.Node, default: str) -> str:
    """Documento del que viene ``node`` dentro del árbol de ``singlehtml`` (o ``default``).

    Sphinx mete cada documento en un ``start_of_file`` sin actualizar el ``parent`` de
    sus hijos, pero marca sus secciones con ``docname``.
    """
    parent = node.parent
    while parent is not None:
        if isinstance(parent, addnodes.start_of_file):
            return parent["docname"]
        if isinstance(parent, nodes.section) and parent.get("docname"):
            return parent["docname"]
        parent = parent.parent
    return default


def _executed_notebook(app: Any, docname: str) -> Any:
    """El cuaderno ejecutado de ``docname`` (con las salidas de la caché de ejecución)."""
    import nbformat

    config = app.env.mystnb_config
    path = Path(config.output_folder, *f"{docname}.ipynb".split("/"))
    notebook = nbformat.read(path, as_version=4)
    has_outputs = any(cell.get("outputs") for cell in notebook.cells)
    if config.execution_mode == "cache" and not has_outputs:
        from jupyter_cache import get_cache

        try:
            _, notebook = get_cache(config.execution_cache_path).merge_match_into_notebook(
                notebook
            )
        except KeyError:
            pass
    return notebook


def _notebook_cell(notebook: Any, node: nodes.Element) -> Any:
    """La celda del cuaderno ejecutado que corresponde a ``node`` (``cell_code`` de myst-nb).

    Se busca por el número de ejecución: ``cell_index`` cuenta las celdas del cuaderno
    tal como lo lee myst-nb, que no siempre coincide con el de ``jupyter_execute/``.
    """
    count = node.get("exec_count")
    if count is not None:
        for cell in notebook.cells:
            if cell.get("cell_type") == "code" and cell.get("execution_count") == count:
                return cell
    index = node.get("cell_index", -1)
    return notebook.cells[index] if 0 <= index < len(notebook.cells) else {}


def _plotly_outputs(cell: Any) -> list[dict[str, Any]]:
    return [
        output["data"][PLOTLY_MIME]
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
        and PLOTLY_MIME in output.get("data", {})
    ]


def figure_alt(spec: dict[str, Any]) -> str:
    """Texto alternativo de una figura de plotly (``layout.meta.alt``) o, si no, su título.

    >>> figure_alt({"layout": {"meta": {"alt": "Curva"}, "title": {"text": "T"}}})
    'Curva'
    """
    layout = spec.get("layout", {}) or {}
    meta = layout.get("meta")
    if isinstance(meta, dict) and str(meta.get("alt", "")).strip():
        return str(meta["alt"]).strip()
    title = layout.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    return re.sub(r"<[^>]+>", "", str(text or "Figura")).strip()


def _relative_root(app: Any, docname: str) -> str:
    """Prefijo de ruta desde la página de ``docname`` hasta la raíz de la salida."""
    if app.builder.name == "singlehtml":
        # Sphinx escribe las rutas de `singlehtml` desde la raíz de la salida, aunque la
        # página sea book/intro.html: libroia_sphinx.pdf la imprime copiada en la raíz.
        return ""
    uri = app.builder.get_target_uri(docname)
    return "../" * uri.count("/")


class PrintCells(SphinxPostTransform):
    """Figuras estáticas, celdas sin desplegables y MathML (solo :data:`PRINT_BUILDERS`).

    Corre antes de que myst-nb elija el tipo MIME de cada salida (prioridad 4):
    aquí aún se sabe qué salidas son figuras de plotly.
    """

    default_priority = 3

    def run(self, **kwargs: Any) -> None:
        if not _is_print(self.app):
            return
        state = _state(self.app)
        _flatten_tabs(self.document)
        _replace_widgets(self.document, self.app)
        pending: list[tuple[nodes.Element, dict[str, Any], str]] = []
        notebooks: dict[str, Any] = {}
        counters: dict[str, int] = {}
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code":
                continue
            if cell.get("hide_mode") in ("input", "input+output", "all"):
                for child in list(cell.children):
                    if child.get("nb_element") == "cell_code_source":
                        cell.remove(child)
            cell["hide_mode"] = ""
            bundles = [
                b
                for b in cell.findall(nodes.container)
                if b.get("nb_element") == "mime_bundle"
                and any(m.get("mime_type") == PLOTLY_MIME for m in b.children)
            ]
            if not bundles:
                continue
            docname = _docname_of(cell, self.env.docname)
            if docname not in notebooks:
                notebooks[docname] = _executed_notebook(self.app, docname)
            specs = _plotly_outputs(_notebook_cell(notebooks[docname], cell))
            if len(specs) != len(bundles):
                logger.warning(
                    f"[libroia] {docname}: la celda [{cell.get('exec_count')}] tiene {len(specs)} "
                    f"figuras en el cuaderno y {len(bundles)} en la página",
                    type="libroia",
                    subtype="print",
                )
                continue
            for bundle, spec in zip(bundles, specs, strict=True):
                counters[docname] = counters.get(docname, 0) + 1
                number = chapter_number(docname)
                label = f"{number}.{counters[docname]}" if number else str(counters[docname])
                pending.append((bundle, spec, label))
        formulas: list[tuple[str, bool]] = []
        if self.app.builder.name == "epub":
            for node in self.document.findall(nodes.math):
                formulas.append((node.astext(), False))
            for node in self.document.findall(nodes.math_block):
                formulas.append((display_tex(node), True))
            formulas = [f for f in dict.fromkeys(formulas) if f not in state["mathml"]]
        if not pending and not formulas:
            return
        from libroia_sphinx.chromium import render

        specs = [spec for _, spec, _ in pending]
        svgs, mathml = render(specs, formulas, book_dir(self.app) / "_vendor")
        for formula, result in zip(formulas, mathml, strict=True):
            if result is None:
                logger.warning(
                    f"[libroia] MathJax no entiende la fórmula {formula[0]!r}",
                    type="libroia",
                    subtype="print",
                )
                result = f"<math><mtext>{html.escape(formula[0])}</mtext></math>"
            state["mathml"][formula] = result
        out = Path(self.app.outdir) / FIGURES_DIR
        out.mkdir(parents=True, exist_ok=True)
        for (bundle, spec, label), svg in zip(pending, svgs, strict=True):
            name = hashlib.sha256(svg.encode()).hexdigest()[:16] + ".svg"
            (out / name).write_text(svg, encoding="utf-8")
            docname = _docname_of(bundle, self.env.docname)
            src = f"{_relative_root(self.app, docname)}{FIGURES_DIR}/{name}"
            alt = figure_alt(spec)
            markup = (
                f'<figure class="libroia-figura">'
                f'<img src="{html.escape(src)}" alt="{html.escape(alt)}"/>'
                f"<figcaption><strong>Figura {label}.</strong> {html.escape(alt)}</figcaption>"
                f"</figure>"
            )
            bundle.replace_self(nodes.raw("", markup, format="html"))


def _flatten_tabs(doctree: nodes.Node) -> None:
    """Pestañas de sphinx-design una tras otra, cada una con su nombre (no hay clics en papel)."""
    for node in doctree.findall(nodes.Element):
        component = node.get("design_component")
        if component in ("tab-set", "tab-item", "tab-content"):
            node["design_component"] = f"libroia-{component}"
            node["classes"] = [c for c in node["classes"] if not c.startswith("sd-tab")]
            node["classes"].append(f"libroia-{component}")
        elif isinstance(node, nodes.rubric) and "sd-tab-label" in node["classes"]:
            node["classes"] = ["libroia-tab-label"]


def _replace_widgets(doctree: nodes.Node, app: Any) -> None:
    """Los laboratorios interactivos (JavaScript) se cambian por un aviso con el enlace."""
    base = (app.config.html_baseurl or "").rstrip("/")
    for raw in list(doctree.findall(nodes.raw)):
        if 'class="laboratorio"' not in raw.astext():
            continue
        docname = _docname_of(raw, app.env.docname)
        paragraph = nodes.paragraph(classes=["libroia-aviso-web"])
        paragraph += nodes.Text(
            "En la versión web del libro hay aquí un laboratorio interactivo con el GPT del "
            "libro, que funciona en el navegador"
        )
        if base:
            url = f"{base}/{docname}.html"
            paragraph += nodes.Text(": ")
            paragraph += nodes.reference("", url, refuri=url)
        paragraph += nodes.Text(".")
        raw.replace_self(paragraph)


def unique_ids(doctree: nodes.Node) -> int:
    """Cambia los ``id`` repetidos (sphinx-exercise repite ``exercise-content``).

    Devuelve cuántos cambió.
    """
    seen: set[str] = set()
    changed = 0
    for node in doctree.findall(nodes.Element):
        ids = node.get("ids", [])
        for i, value in enumerate(ids):
            if value in seen:
                n = 2
                while f"{value}-{n}" in seen:
                    n += 1
                ids[i] = f"{value}-{n}"
                changed += 1
            seen.add(ids[i])
    return changed


def display_tex(node: nodes.math_block) -> str:
    """TeX de una ecuación en bloque, como lo arma ``sphinx.ext.mathjax``."""
    if node.get("nowrap"):
        return node.astext()
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    body = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
    if len(body) > 1:
        return r"\begin{aligned}" + r"\\".join(body) + r"\end{aligned}"
    return body[0] if body else ""


def _state(app: Any) -> dict[str, Any]:
    if not hasattr(app, "_libroia_print"):
        app._libroia_print = {"mathml": {}}
    return app._libroia_print


def _visit_math(self: Any, node: nodes.math) -> None:
    mathml = _state(self.builder.app)["mathml"].get((node.astext(), False))
    self.body.append(f'<span class="math">{mathml or html.escape(node.astext())}</span>')
    raise nodes.SkipNode


def _visit_displaymath(self: Any, node: nodes.math_block) -> None:
    from sphinx.util.math import get_node_equation_number

    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})</span>')
    tex = display_tex(node)
    mathml = _state(self.builder.app)["mathml"].get((tex, True))
    self.body.append(mathml or html.escape(tex))
    self.body.append("</div>\n")
    raise nodes.SkipNode


# --- solutions at the end of each chapter (after references are resolved) ---------------


def _chapters(doctree: nodes.Node, docname: str) -> list[tuple[str, nodes.section]]:
    """``(docname, sección principal)`` de cada documento de ``doctree``."""
    files = [n for n in doctree.findall(addnodes.start_of_file)]
    found = []
    for root, name in [(f, f["docname"]) for f in files] or [(doctree, docname)]:
        section = next(
            (child for child in root.children if isinstance(child, nodes.section)), None
        )
        if section is not None:
            found.append((name, section))
    return found


def _quiz_answers(section: nodes.section) -> nodes.enumerated_list | None:
    from libroia_sphinx.quiz import quiz, quiz_option, quiz_summary

    items = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
    for question in _own(section, quiz):
        options = [o for o in question.children if isinstance(o, quiz_option)]
        for index, option in enumerate(options):
            if "correcta" not in option["classes"]:
                continue
            paragraph = nodes.paragraph()
            paragraph += nodes.strong("", f"{chr(ord('a') + index)})")
            for child in option.children:
                if isinstance(child, quiz_summary):
                    continue
                for grandchild in child.children[1:]:  # sin el «Correcto.» inicial
                    paragraph += grandchild.deepcopy()
            paragraph.insert(1, nodes.Text(" "))
            items += nodes.list_item("", paragraph)
    return items if items.children else None


def _own(section: nodes.Node, kind: type) -> list[nodes.Element]:
    """Nodos ``kind`` de ``section`` que no están dentro de otro documento incluido."""
    return [
        n
        for n in section.findall(kind)
        if not any(
            isinstance(p, addnodes.start_of_file) and p is not section
            for p in _ancestors(n, section)
        )
    ]


def _ancestors(node: nodes.Node, stop: nodes.Node) -> list[nodes.Node]:
    out = []
    parent = node.parent
    while parent is not None and parent is not stop:
        out.append(parent)
        parent = parent.parent
    return out


def move_solutions(doctree: nodes.Node, docname: str) -> int:
    """Lleva las soluciones de cada capítulo a una sección «Soluciones» al final.

    Devuelve cuántas soluciones movió.
    """
    from sphinx_exercise.nodes import solution_node

    moved = 0
    for name, section in _chapters(doctree, docname):
        solutions = _own(section, solution_node)
        answers = _quiz_answers(section)
        if not solutions and answers is None:
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        target = nodes.section(ids=[f"soluciones-{slug}"], classes=["libroia-soluciones"])
        target += nodes.title("", "Soluciones")
        for solution in solutions:
            solution.parent.remove(solution)
            solution["classes"] = [c for c in solution["classes"] if c != "dropdown"]
            target += solution
            moved += 1
        if answers is not None:
            target += nodes.rubric("", "Respuestas de la autoevaluación")
            target += answers
        section += target
    return moved


def _open_dropdowns(doctree: nodes.Node) -> None:
    for node in doctree.findall(nodes.Element):
        classes = node.get("classes", [])
        if "dropdown" in classes or "toggle" in classes:
            node["classes"] = [c for c in classes if c not in ("dropdown", "toggle")]


def _on_env_get_updated(app: Any, env: Any) -> list[str]:
    """Con el índice numerado, el título del capítulo no lleva además «N.»: ya dice «Capítulo N».

    Corre después de que Sphinx numere las secciones (en este mismo evento).
    """
    if _is_print(app):
        for docname, numbers in env.toc_secnumbers.items():
            if chapter_number(docname) is not None:
                numbers.pop("", None)
    return []


def _on_doctree_resolved(app: Any, doctree: nodes.document, docname: str) -> None:
    if not _is_print(app):
        return
    move_solutions(doctree, docname)
    _open_dropdowns(doctree)
    unique_ids(doctree)
    if app.builder.name == "singlehtml":
        state = _state(app)
        if "hyphenator" not in state:
            state["hyphenator"] = Hyphenator()
        hyphenate(doctree, state["hyphenator"])


# --- builder set-up and EPUB packaging ------------------------------------------------


def cover_svg(title: str, subtitle: str, author: str) -> str:
    """Portada del EPUB en SVG (600 × 900)."""

    def lines(text: str, width: int) -> list[str]:
        out: list[str] = []
        for word in text.split():
            if out and len(out[-1]) + 1 + len(word) <= width:
                out[-1] += " " + word
            else:
                out.append(word)
        return out

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="900" '
        'viewBox="0 0 600 900" role="img">',
        f"<title>{html.escape(title)}</title>",
        '<rect width="600" height="900" fill="#12355b"/>',
        '<rect x="40" y="40" width="520" height="820" fill="none" stroke="#f2c14e" '
        'stroke-width="4"/>',
    ]
    y = 300
    for line in lines(title, 16):
        parts.append(
            f'<text x="300" y="{y}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" '
            f'font-size="52" font-weight="bold" fill="#ffffff">{html.escape(line)}</text>'
        )
        y += 66
    y += 30
    for line in lines(subtitle, 30):
        parts.append(
            f'<text x="300" y="{y}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" '
            f'font-size="26" fill="#f2c14e">{html.escape(line)}</text>'
        )
        y += 38
    for i, line in enumerate(lines(author, 34)):
        parts.append(
            f'<text x="300" y="{760 + 34 * i}" text-anchor="middle" '
            f'font-family="DejaVu Sans, sans-serif" font-size="22" fill="#ffffff">'
            f"{html.escape(line)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


SUBTITLE = "Los modelos de lenguaje, pieza a pieza, con código que se ejecuta"


def _on_config_inited(app: Any, config: Any) -> None:
    title = config.project or "¿Cómo funciona ChatGPT?"
    config.epub_basename = EPUB_BASENAME
    config.epub_title = title
    config.epub_author = config.author
    config.epub_publisher = config.author
    config.epub_copyright = config.copyright
    config.epub_description = SUBTITLE
    config.epub_show_urls = "no"
    config.epub_use_index = False
    config.epub_tocdepth = 2
    # Jupyter Book pone los capítulos en índices ocultos de la portada.
    config.epub_tocscope = "includehidden"
    config.epub_cover = (COVER_IMAGE, "portada-epub.html")
    config.templates_path = [*config.templates_path, str(TEMPLATES_DIR)]


def _on_builder_inited(app: Any) -> None:
    if not _is_print(app):
        return
    outdir = Path(app.outdir)
    app.add_css_file("impresion/impresion.css")
    if app.builder.name == "singlehtml":
        # sphinx-exercise registra visitantes propios para `singlehtml`, y entonces Sphinx
        # ya no usa los de `html` de las demás extensiones (diagramas, autoevaluación…).
        handlers = app.registry.translation_handlers
        if "singlehtml" in handlers:
            for name, visitors in handlers.get("html", {}).items():
                handlers["singlehtml"].setdefault(name, visitors)
    if app.builder.name == "epub":
        # Solo aquí: registrado en `setup`, Sphinx lo elegiría también para el sitio web.
        app.add_html_math_renderer(MATH_RENDERER, (_visit_math, None), (_visit_displaymath, None))
        # El tema del libro añade sus botones también aquí: sin repositorio en el
        # contexto de la plantilla de EPUB, los de lanzamiento fallarían.
        # Ficheros estáticos que un EPUB no puede llevar (el modelo del laboratorio, las
        # licencias de book/_vendor…): fuera del manifiesto sin aviso.
        app.config.epub_exclude_files = [*app.config.epub_exclude_files, "index.html"]
        for folder in map(Path, app.config.html_static_path):
            folder = folder if folder.is_absolute() else Path(app.confdir) / folder
            for path in folder.rglob("*") if folder.is_dir() else []:
                if path.is_file() and path.suffix not in (*app.builder.media_types, ".js"):
                    rel = path.relative_to(folder).as_posix()
                    app.config.epub_exclude_files.append(f"_static/{rel}")
        # Ni MathJax ni plotly.js: el EPUB lleva MathML y SVG.
        app.config.html_static_path = [
            p for p in app.config.html_static_path if Path(p).name != "_vendor"
        ]
        options = dict(app.config.html_theme_options or {})
        options["launch_buttons"] = {}
        app.config.html_theme_options = options
        if not app.config.version:  # EPUB 3 lo pide; es la versión de libroia
            from libroia_sphinx.wheel import package_version

            app.config.version = package_version(Path(app.srcdir))
        app.builder.guide_titles = {**app.builder.guide_titles, "toc": "Índice", "cover": "Portada"}
        lang = app.config.language or "es"
        app.builder.html_tag = app.builder.html_tag.replace(
            ">", f' lang="{lang}" xml:lang="{lang}">', 1
        )
        # Sphinx recorre la carpeta de salida para hacer el manifiesto: sin restos de
        # construcciones anteriores (las páginas que faltan se vuelven a escribir).
        if outdir.is_dir():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        cover = outdir / COVER_IMAGE
        cover.parent.mkdir(parents=True, exist_ok=True)
        cover.write_text(
            cover_svg(app.config.project, SUBTITLE, app.config.author), encoding="utf-8"
        )


def _on_page_context(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if _is_print(app) and app.builder.name == "epub":
        context["script_files"] = []  # un EPUB no ejecuta JavaScript
        # El CSS de myst-nb usa sintaxis que el lector de CSS de epubcheck no acepta;
        # impresion.css trae lo poco que hace falta para las celdas.
        context["css_files"] = [
            css
            for css in context.get("css_files", [])
            if not str(getattr(css, "filename", css)).startswith("_static/mystnb.")
        ]


def _on_build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or not _is_print(app) or app.builder.name != "epub":
        return
    from libroia_sphinx.epub import finish_epub

    finish_epub(app)


def setup(app: Any) -> dict[str, Any]:
    add_static_path(app)
    app.add_transform(ChapterTitles)
    app.add_post_transform(PrintCells)
    # `epub_math_renderer` solo lo lee el constructor epub (html usa html_math_renderer).
    app.add_config_value("epub_math_renderer", MATH_RENDERER, "env")
    app.connect("config-inited", _on_config_inited)
    # Antes de que Sphinx valide el renderizador de fórmulas (también en builder-inited).
    app.connect("builder-inited", _on_builder_inited, priority=100)
    app.connect("env-get-updated", _on_env_get_updated, priority=900)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("html-page-context", _on_page_context, priority=900)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
