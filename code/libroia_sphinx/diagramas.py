"""Extensión «diagramas»: figuras SVG del libro, escritas dentro de la página.

Los diagramas del libro son ficheros SVG escritos a mano en ``book/_diagramas/``
(véase ``book/_diagramas/README.md``). La directiva ``diagrama`` copia el SVG
*dentro* del HTML, en lugar de enlazarlo con ``<img>``, para que el dibujo herede
los colores del tema: sus piezas no llevan colores fijos, sino clases (``c-q``,
``c-grad``...) que la hoja ``static/diagramas/diagramas.css`` convierte en una
variable CSS por papel (consultas, claves, valores, flujo residual, gradiente...),
con un valor para el tema claro y otro para el oscuro. El texto usa
``currentColor``, el color del texto de la página.

Uso en un capítulo (MyST)::

    ```{diagrama} _diagramas/bloque_transformer.svg
    :alt: Un bloque del transformer: el flujo residual sube por la izquierda...
    :name: fig-bloque-transformer

    El bloque del transformer. Cada subcapa suma su resultado al flujo residual.
    ```

- El argumento es la ruta del SVG, relativa al capítulo (o absoluta desde la raíz
  del proyecto si empieza por ``/``).
- ``:alt:`` es obligatorio: se convierte en ``role="img"``, ``aria-label`` y un
  ``<title>`` dentro del SVG, que es lo que lee un lector de pantalla.
- ``:name:`` es la etiqueta para ``{numref}`` (``{numref}`fig-bloque-transformer```).
- El contenido es el pie de la figura. Con ``numfig`` activado, el diagrama es una
  figura numerada más (``Figura N``).

Fuera de la web: el EPUB es HTML, así que lleva el SVG igual que la página, y
el PDF impreso con Chromium también. Un constructor que no es HTML (LaTeX,
texto) recibe el texto alternativo como párrafo en lugar del dibujo.

Se activa con ``libroia_sphinx.diagramas`` en ``_config.yml``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from libroia_sphinx import add_static_path

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
CSS_FILE = "diagramas/diagramas.css"

ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


class diagrama_svg(nodes.General, nodes.Element):
    """El dibujo de un diagrama: el SVG ya preparado y su texto alternativo."""


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "diagrama"


def prepare_svg(source: str, alt: str, prefix: str) -> str:
    """Devuelve el SVG listo para ir dentro del HTML.

    Comprueba que es un SVG con ``viewBox``; le pone ``role="img"``,
    ``aria-label`` y un ``<title>`` con ``alt``, ``width="100%"`` y un ancho
    máximo (el de su ``viewBox`` por 1,5, para que en una pantalla ancha no
    crezca sin medida); y antepone ``prefix`` a cada ``id`` (y a sus usos
    ``url(#...)`` y ``href="#..."``) para que dos diagramas de la misma página no
    compartan identificadores.

    >>> svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50"><g id="a"/></svg>'
    >>> out = prepare_svg(svg, "Un ejemplo", "d1")
    >>> 'role="img"' in out and 'aria-label="Un ejemplo"' in out and 'id="d1-a"' in out
    True
    >>> prepare_svg('<svg xmlns="http://www.w3.org/2000/svg"/>', "x", "d")
    Traceback (most recent call last):
    ...
    ValueError: el SVG del diagrama no tiene viewBox; sin él no se adapta al ancho de la pantalla
    """
    try:
        root = ET.fromstring(source)
    except ET.ParseError as err:
        raise ValueError(f"el SVG del diagrama no es XML válido: {err}") from err
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError(
            f"el diagrama debe ser un <svg> con xmlns={SVG_NS!r}, pero su raíz es {root.tag!r}"
        )
    view_box = root.get("viewBox")
    if not view_box:
        raise ValueError(
            "el SVG del diagrama no tiene viewBox; sin él no se adapta al ancho de la pantalla"
        )
    width = float(view_box.split()[2])
    # Identificadores únicos en la página.
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for el in root.iter():
        for key, value in list(el.attrib.items()):
            if key == "id":
                el.set(key, f"{prefix}-{value}")
            elif key in ("href", f"{{{XLINK_NS}}}href") and value[1:] in ids:
                el.set(key, f"#{prefix}-{value[1:]}")
            elif "url(#" in value:
                el.set(
                    key,
                    re.sub(
                        r"url\(#([^)]+)\)",
                        lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids else m[0],
                        value,
                    ),
                )
    # Accesibilidad: el dibujo es una sola imagen con nombre.
    for old in root.findall(f"{{{SVG_NS}}}title"):
        root.remove(old)
    title = ET.Element(f"{{{SVG_NS}}}title")
    title.text = alt
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-label", alt)
    root.set("focusable", "false")
    root.set("width", "100%")
    root.attrib.pop("height", None)
    root.set("style", f"max-width: {round(width * 1.5)}px")
    classes = root.get("class", "").split()
    root.set("class", " ".join(["diagrama-svg", *classes]))
    text = ET.tostring(root, encoding="unicode")
    return text


class DiagramaDirective(SphinxDirective):
    """La directiva ``{diagrama}``: un SVG dentro de una figura numerada."""

    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = {
        "alt": directives.unchanged_required,
        "name": directives.unchanged,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        alt = " ".join(self.options.get("alt", "").split())
        if not alt:
            raise self.error(
                "La directiva «diagrama» necesita la opción :alt: con una frase que diga "
                "qué muestra el dibujo (es lo que lee un lector de pantalla)."
            )
        if not self.content:
            raise self.error(
                "La directiva «diagrama» necesita un pie (el texto bajo la directiva): "
                "sin pie, la figura no se numera."
            )
        relpath, abspath = self.env.relfn2path(self.arguments[0])
        path = Path(abspath)
        if path.suffix.lower() != ".svg" or not path.is_file():
            raise self.error(
                f"La directiva «diagrama» necesita un fichero .svg que exista, pero recibió "
                f"{self.arguments[0]!r} (buscado en {path})."
            )
        self.env.note_dependency(relpath)
        name = self.options.get("name", "")
        prefix = "dg-" + _slug(name or path.stem)
        try:
            svg = prepare_svg(path.read_text(encoding="utf-8"), alt, prefix)
        except ValueError as err:
            raise self.error(f"{path.name}: {err}") from err

        figure = nodes.figure("", classes=["diagrama", *self.options.get("class", [])])
        figure += diagrama_svg("", svg=svg, alt=alt)
        caption_text = "\n".join(self.content)
        parsed, messages = self.state.inline_text(caption_text, self.content_offset)
        caption = nodes.caption(caption_text, "", *parsed)
        caption.source, caption.line = self.get_source_info()
        figure += caption
        self.set_source_info(figure)
        if name:
            self.options["name"] = name
            self.add_name(figure)
        return [figure, *messages]


def _visit_html(self: Any, node: diagrama_svg) -> None:
    self.body.append(f'<div class="diagrama-dibujo">{node["svg"]}</div>\n')
    raise nodes.SkipNode


def _visit_latex(self: Any, node: diagrama_svg) -> None:
    # Sin HTML no hay SVG en línea: queda el texto alternativo como descripción.
    self.body.append("\n" + self.encode(f"[Diagrama: {node['alt']}]") + "\n")
    raise nodes.SkipNode


def _visit_text(self: Any, node: diagrama_svg) -> None:
    self.add_text(f"[Diagrama: {node['alt']}]")
    raise nodes.SkipNode


def _visit_plain(self: Any, node: diagrama_svg) -> None:
    self.body.append(f"[Diagrama: {node['alt']}]")
    raise nodes.SkipNode


# Colores del tema (pydata-sphinx-theme) para la vista previa fuera del libro.
_PREVIEW_THEME = {
    "light": {"background": "#ffffff", "text": "#222832"},
    "dark": {"background": "#14181e", "text": "#ced6dd"},
}


def preview_html(paths: list[Path], theme: str = "light", width: int = 375) -> str:
    """Una página HTML con los diagramas de ``paths``, para verlos sin construir el libro.

    Usa la misma hoja de estilo que el libro y los colores de fondo y de texto
    del tema (``"light"`` u ``"dark"``). ``width`` es el ancho de la columna en
    píxeles (375: un teléfono).

    >>> "<svg" in preview_html([], "dark")
    False
    """
    if theme not in _PREVIEW_THEME:
        raise ValueError(f"`theme` debe ser 'light' o 'dark', pero vale {theme!r}")
    colors = _PREVIEW_THEME[theme]
    from libroia_sphinx import STATIC_DIR

    css = (STATIC_DIR / CSS_FILE).read_text(encoding="utf-8")
    figures = []
    for i, path in enumerate(paths):
        svg = prepare_svg(path.read_text(encoding="utf-8"), path.stem, f"v{i}")
        figures.append(
            f'<figure class="diagrama"><div class="diagrama-dibujo">{svg}</div>'
            f"<figcaption>{path.name}</figcaption></figure>"
        )
    body = "\n".join(figures)
    return (
        f'<!DOCTYPE html><html lang="es" data-theme="{theme}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Diagramas</title><style>{css}\n"
        f"html {{ --pst-color-background: {colors['background']}; "
        f"--pst-color-text-base: {colors['text']}; }}\n"
        f"body {{ background: {colors['background']}; color: {colors['text']}; margin: 0; "
        f"padding: 0 16px; max-width: {width}px; box-sizing: border-box; "
        f"font-family: system-ui, sans-serif; }}</style></head><body>{body}</body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m libroia_sphinx.diagramas [SVG...] -o vista.html [--oscuro]``."""
    import argparse

    parser = argparse.ArgumentParser(
        description="Vista previa de los diagramas del libro, sin construir el libro."
    )
    parser.add_argument("svg", nargs="*", type=Path, help="ficheros SVG (por defecto, todos)")
    parser.add_argument("-o", "--salida", type=Path, default=Path("diagramas.html"))
    parser.add_argument("--oscuro", action="store_true", help="tema oscuro")
    parser.add_argument("--ancho", type=int, default=375, help="ancho de la página en píxeles")
    args = parser.parse_args(argv)
    paths = args.svg or sorted((Path.cwd() / "book" / "_diagramas").glob("*.svg"))
    page = preview_html(paths, "dark" if args.oscuro else "light", args.ancho)
    args.salida.write_text(page, encoding="utf-8")
    print(f"{len(paths)} diagramas en {args.salida}")
    return 0


def setup(app: Sphinx) -> dict[str, Any]:
    add_static_path(app)
    app.add_css_file(CSS_FILE)
    app.add_node(
        diagrama_svg,
        html=(_visit_html, None),
        latex=(_visit_latex, None),
        text=(_visit_text, None),
        man=(_visit_plain, None),
        texinfo=(_visit_plain, None),
    )
    app.add_directive("diagrama", DiagramaDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}


if __name__ == "__main__":
    raise SystemExit(main())
