"""El libro en PDF: ``make pdf`` → ``_build/pdf/como-funciona-chatgpt.pdf``.

1. Sphinx construye el libro entero en una sola página (``singlehtml``), con los
   cambios de :mod:`libroia_sphinx.printed`: «Capítulo N», figuras en SVG con su
   pie, soluciones al final de cada capítulo, guiones blandos en español.
2. Chromium (el de Debian, sin red) abre esa página, espera a que MathJax
   componga las fórmulas, la deja en portada + índice + texto
   (:data:`PREPARE_JS`) y la imprime con :data:`PRINT_CSS` (A4, números de página,
   cada capítulo en página nueva, código que no se sale del margen).
3. El índice lleva el número de página de cada capítulo: se imprime una vez, se
   busca en qué página empieza cada uno (``pdftotext``, de poppler-utils) y se
   imprime otra vez con los números.

``python -m libroia_sphinx.pdf`` (desde la raíz del repositorio) hace todo;
``python -m libroia_sphinx.pdf --solo-imprimir`` reutiliza la página ya construida.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUTPUT = Path("_build/pdf")
BOOK_NAME = "como-funciona-chatgpt.pdf"
SUBTITLE = "Los modelos de lenguaje, pieza a pieza, con código que se ejecuta"

PRINT_CSS = """
@page {
  size: A4;
  margin: 22mm 22mm 24mm 22mm;
  @bottom-center { content: counter(page); font-size: 9pt; color: #555; }
}
@page :first { @bottom-center { content: none; } }
html { font-size: 11pt; }
/* Las sombras se imprimen como imágenes: pesan y en papel no aportan nada. */
*:not(#libro-sin-sombras) { box-shadow: none !important; text-shadow: none !important; }
body { background: #fff; }
.libro-portada {
  height: 250mm; display: flex; flex-direction: column; justify-content: center;
  text-align: center; break-after: page;
}
.libro-portada h1 { font-size: 34pt; margin: 0 0 12pt 0; border: none; }
.libro-portada .subtitulo { font-size: 15pt; color: #444; }
.libro-portada .autor { margin-top: 40mm; font-size: 12pt; }
.libro-indice h2 { font-size: 20pt; }
.libro-indice ol { list-style: none; padding: 0; }
.libro-indice li { display: flex; gap: 6pt; margin: 5pt 0; }
.libro-indice li.parte { font-weight: bold; margin-top: 12pt; }
.libro-indice li a { color: inherit; text-decoration: none; }
.libro-indice li .relleno { flex: 1; border-bottom: 1px dotted #999; margin-bottom: 4pt; }
.libro-texto .libro-capitulo { break-before: page; font-size: 22pt; margin-top: 0; }
.libro-texto .libro-capitulo:first-child { break-before: auto; }
.libro-texto h2, .libro-texto h3 { break-after: avoid; }
.libro-texto a { color: inherit; }
.libro-texto .headerlink, .libro-texto button, .libro-texto .copybtn { display: none !important; }
.libro-texto img, .libro-texto svg { max-width: 100%; }
mjx-container[display="true"] { overflow: visible !important; max-width: 100%; }
"""

PREPARE_JS = """({title, subtitle, author, css}) => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  // Portada
  const cover = document.createElement("section");
  cover.className = "libro-portada";
  cover.innerHTML = "<h1></h1><p class='subtitulo'></p><p class='autor'></p>";
  cover.querySelector("h1").textContent = title;
  cover.querySelector(".subtitulo").textContent = subtitle;
  cover.querySelector(".autor").textContent = author;
  // Índice: el primer título de cada documento del libro (Sphinx marca dónde empieza
  // cada uno con <span id="document-…">), con el hueco de su página.
  article.querySelectorAll(".headerlink").forEach(a => a.remove());
  const headings = [];
  let wanted = true;
  for (const el of article.querySelectorAll("span[id^='document-'], h1, h2, h3")) {
    if (el.tagName === "SPAN") { wanted = true; continue; }
    if (wanted) { headings.push(el); wanted = false; }
  }
  const toc = document.createElement("nav");
  toc.className = "libro-indice";
  toc.setAttribute("aria-label", "Índice");
  toc.innerHTML = "<h2>Índice</h2><ol></ol>";
  const list = toc.querySelector("ol");
  headings.forEach((h, i) => {
    h.classList.add("libro-capitulo");
    if (!h.id) h.id = "libro-capitulo-" + i;
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#" + h.id;
    a.textContent = h.textContent.trim();
    const fill = document.createElement("span");
    fill.className = "relleno";
    const page = document.createElement("span");
    page.className = "pagina";
    page.textContent = "000";
    li.append(a, fill, page);
    list.append(li);
  });
  const text = document.createElement("div");
  text.className = "libro-texto";
  text.append(...article.childNodes);
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
  document.body.replaceChildren(cover, toc, text);
  document.body.removeAttribute("class");
  document.documentElement.setAttribute("data-theme", "light");
  document.documentElement.setAttribute("lang", "es");
  return headings.map(h => h.textContent.trim());
}"""

WAIT_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) await MathJax.typesetPromise();
  }
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(done => { img.onload = img.onerror = done; })));
  await document.fonts.ready;
}"""

FIT_JS = """() => {
  // Lo que no cabe a lo ancho (fórmulas largas, tablas, diagramas) se encoge.
  const text = document.querySelector(".libro-texto");
  const width = text.clientWidth;
  let shrunk = 0;
  for (const el of text.querySelectorAll("mjx-container[display='true'], table, svg")) {
    // Una fórmula centrada que no cabe se sale por los dos lados: se mide su contenido.
    const inner = el.tagName === "MJX-CONTAINER" ? el.firstElementChild : el;
    const w = Math.max(el.scrollWidth, inner ? inner.getBoundingClientRect().width : 0);
    if (w > width + 1) {
      el.style.zoom = String(width / w);
      shrunk += 1;
    }
  }
  return shrunk;
}"""

SET_PAGES_JS = """(pages) => {
  document.querySelectorAll(".libro-indice .pagina").forEach((span, i) => {
    span.textContent = String(pages[i]);
  });
}"""


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


def heading_pages(pages: list[str], titles: list[str], first: int) -> list[int]:
    """Página (desde 1) en que empieza cada título, buscándolos en orden desde ``first``.

    ``pages`` es el texto de cada página (``pdftotext``, separado por ``\\f``). Cada
    documento empieza en página nueva, así que su título abre la página (una mención
    en el texto de otra página no cuenta).

    >>> heading_pages(["Índice", "Uno\\nbla Dos", "bla", "Dos\\nbla"], ["Uno", "Dos"], first=1)
    [2, 4]
    """
    found = []
    start = first
    for title in titles:
        wanted = _normalise(title)
        for index in range(start, len(pages)):
            top = _normalise(" ".join(pages[index].splitlines()[:4]))
            if top.startswith(wanted):
                found.append(index + 1)
                start = index + 1
                break
        else:
            raise ValueError(
                f"no encuentro el título {title!r} al principio de ninguna página del PDF "
                f"a partir de la {first + 1}"
            )
    return found


def pdf_pages_text(pdf: Path) -> list[str]:
    """Texto de cada página de ``pdf`` con ``pdftotext`` (poppler-utils)."""
    if shutil.which("pdftotext") is None:
        raise FileNotFoundError("falta pdftotext: instala el paquete de Debian poppler-utils")
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8").split("\f")


def print_pdf(html: Path, pdf: Path, title: str, author: str) -> dict[str, Any]:
    """Imprime ``html`` (el libro en ``singlehtml``) en ``pdf``, con índice paginado."""
    from libroia_sphinx.chromium import browser

    html, pdf = Path(html).resolve(), Path(pdf)
    # `singlehtml` escribe sus rutas (_static/, _images/) desde la raíz de la salida
    # aunque la página esté en book/: se imprime una copia puesta en la raíz.
    outdir = html.parent
    while not (outdir / "_static").is_dir() and outdir != outdir.parent:
        outdir = outdir.parent
    if html.parent != outdir:
        copy = outdir / "libro-para-imprimir.html"
        shutil.copyfile(html, copy)
        html = copy
    options = {"prefer_css_page_size": True, "print_background": True, "outline": True,
               "tagged": True}  # fmt: skip
    with browser() as context:
        page = context.new_page()
        page.goto(html.as_uri(), wait_until="load")
        page.evaluate(WAIT_JS)
        titles = page.evaluate(
            PREPARE_JS, {"title": title, "subtitle": SUBTITLE, "author": author, "css": PRINT_CSS}
        )
        page.emulate_media(media="print")
        page.evaluate(WAIT_JS)
        page.evaluate(FIT_JS)
        with tempfile.TemporaryDirectory(prefix="libroia-pdf-") as tmp:
            draft = Path(tmp) / "borrador.pdf"
            page.pdf(path=draft, **options)
            text = pdf_pages_text(draft)
        toc_end = next(i for i, p in enumerate(text) if "Índice" in p) + 1
        numbers = heading_pages(text, titles, first=toc_end)
        page.evaluate(SET_PAGES_JS, numbers)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=pdf, **options)
    final = pdf_pages_text(pdf)
    return {"pages": len([p for p in final if p.strip()]) or len(final), "chapters": titles,
            "size": pdf.stat().st_size}  # fmt: skip


def root_doc(root: Path) -> str:
    """Documento raíz del libro (``root`` de ``_toc.yml``): la página de ``singlehtml``."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return str(toc["root"]).removesuffix(".md")


def main(argv: list[str]) -> int:
    root = Path.cwd()
    if not (root / "_toc.yml").is_file():
        sys.exit(f"ejecútalo desde la raíz del repositorio del libro, no desde {root}")
    if "--solo-imprimir" not in argv:
        jupyter_book = Path(sys.executable).parent / "jupyter-book"
        command = [str(jupyter_book), "build", ".", "--builder", "singlehtml",
                   "--path-output", str(OUTPUT), "-W", "-n", "--keep-going"]  # fmt: skip
        subprocess.run(command, check=True)
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    html = OUTPUT / "_build" / "singlehtml" / f"{root_doc(root)}.html"
    info = print_pdf(html, OUTPUT / BOOK_NAME, config["title"], config["author"])
    size = info["size"] / 1e6
    print(f"PDF: {OUTPUT / BOOK_NAME} ({info['pages']} páginas, {size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
