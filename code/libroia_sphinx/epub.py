"""El libro en EPUB 3: ``make epub`` → ``_build/epub/como-funciona-chatgpt.epub``.

Lo construye el constructor ``epub`` de Sphinx con los cambios de
:mod:`libroia_sphinx.printed` (fórmulas en MathML, figuras en SVG, soluciones al
final de cada capítulo, portada). Al terminar, :func:`finish_epub`:

- declara en el manifiesto las propiedades ``mathml`` y ``svg`` de las páginas
  que las usan (EPUB 3 lo exige);
- quita del libro los ficheros que ninguna página usa (las fuentes de MathJax,
  plotly.js…), y vuelve a empaquetarlo.

``python -m libroia_sphinx.epub`` (desde la raíz del repositorio) construye el
libro y deja el ``.epub`` en ``_build/epub/``. Se valida con ``epubcheck``
(paquete de Debian), en ``tests/site/test_pdf_epub.py``.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

OUTPUT = Path("_build/epub")
BOOK_NAME = "como-funciona-chatgpt.epub"

_REF = re.compile(r'(?:src|href|xlink:href)="([^"#?]+)')
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")#?]+)")


def _references(outdir: Path, name: str) -> set[str]:
    """Ficheros (relativos a ``outdir``) a los que apunta el fichero ``name``."""
    text = (outdir / name).read_text(encoding="utf-8", errors="replace")
    pattern = _CSS_URL if name.endswith(".css") else _REF
    base = posixpath.dirname(name)
    found = set()
    for target in pattern.findall(text):
        if ":" in target.split("/")[0]:  # http:, data:, mailto:…
            continue
        found.add(posixpath.normpath(posixpath.join(base, unquote(target))))
    return found


def used_files(outdir: Path, files: list[str], keep: set[str]) -> set[str]:
    """Ficheros de ``files`` alcanzables desde las páginas ``.xhtml`` y desde ``keep``."""
    available = set(files)
    todo = [f for f in files if f.endswith(".xhtml")] + sorted(keep & available)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.endswith((".xhtml", ".css")):
            todo.extend(sorted(_references(outdir, name) & available - seen))
    return seen


def finish_epub(app: Any) -> None:
    """Manifiesto completo y con propiedades, sin ficheros que no se usan, y el ``.epub``."""
    from libroia_sphinx.printed import COVER_IMAGE

    builder = app.builder
    outdir = Path(app.outdir)
    # Algunas extensiones (myst-nb, sphinx-exercise) copian su CSS al terminar, después
    # de que Sphinx haya hecho el manifiesto: se buscan todos los ficheros de la salida.
    present = sorted(
        p.relative_to(outdir).as_posix()
        for p in outdir.rglob("*")
        if p.is_file() and p.suffix in builder.media_types
    )
    present = [f for f in present if f not in builder.ignored_files]
    used = used_files(outdir, present, {COVER_IMAGE})
    files = [f for f in present if f in used]

    def item(href: str) -> str:
        media_type = builder.media_types[Path(href).suffix]
        props = []
        if media_type == "application/xhtml+xml":
            text = (outdir / href).read_text(encoding="utf-8")
            if "<math" in text:
                props.append("mathml")
            if "<svg" in text:
                props.append("svg")
        if href == COVER_IMAGE:
            props.append("cover-image")
        extra = f' properties="{" ".join(props)}"' if props else ""
        return (
            f'<item id="{builder.make_id(href)}" href="{quote(href)}" '
            f'media-type="{media_type}"{extra} />'
        )

    opf_path = outdir / "content.opf"
    opf = opf_path.read_text(encoding="utf-8")
    # Los que Sphinx escribe aparte (toc.ncx, nav.xhtml) se quedan como están.
    kept = [
        m.group(0)
        for m in re.finditer(r"<item [^>]*/>", opf)
        if unquote(re.search(r'href="([^"]*)"', m.group(0)).group(1)) not in present
    ]
    items = "\n    ".join([*kept, *(item(f) for f in files)])
    opf = re.sub(
        r"(<manifest>\s*)(?:<item [^>]*/>\s*)+(</manifest>)",
        lambda m: f"{m.group(1)}{items}\n  {m.group(2)}",
        opf,
    )
    # Con una portada de una construcción anterior en la salida, Sphinx la pone dos
    # veces en el orden de lectura: vale la primera.
    seen: set[str] = set()

    def itemref(match: re.Match[str]) -> str:
        idref = match.group(1)
        if idref in seen:
            return ""
        seen.add(idref)
        return match.group(0)

    opf = re.sub(r'\s*<itemref idref="([^"]+)"[^>]*/>', itemref, opf)
    opf_path.write_text(opf, encoding="utf-8")
    builder.files = [*files, "nav.xhtml"]
    builder.build_epub()


def main() -> int:
    root = Path.cwd()
    if not (root / "_toc.yml").is_file():
        sys.exit(f"ejecútalo desde la raíz del repositorio del libro, no desde {root}")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [
        str(jupyter_book), "build", ".", "--builder", "custom", "--custom-builder", "epub",
        "--path-output", str(OUTPUT), "-W", "-n", "--keep-going",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    built = OUTPUT / "_build" / "epub" / BOOK_NAME
    target = OUTPUT / BOOK_NAME
    shutil.copyfile(built, target)
    print(f"EPUB: {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
