"""Definiciones del glosario al pasar el ratón por un término, sin salir de la página.

Al leer ``book/glosario.md`` se guarda el texto de cada definición. Después, en
cada página, los enlaces ``{term}`` que apuntan al glosario reciben ese texto
como ``title`` (la ayuda emergente del navegador, también accesible con el
teclado y los lectores de pantalla) y la clase ``glosario-termino``. No hace
falta ninguna biblioteca de JavaScript.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

GLOSSARY_DOC = "book/glosario"
MAX_CHARS = 280


def _definitions(doctree: nodes.document) -> dict[str, str]:
    """``{id del término: definición en texto plano}`` de los glosarios de un documento."""
    found: dict[str, str] = {}
    for glossary in doctree.findall(addnodes.glossary):
        for item in glossary.findall(nodes.definition_list_item):
            definition = item.next_node(nodes.definition)
            if definition is None:
                continue
            text = " ".join(definition.astext().split())
            if len(text) > MAX_CHARS:
                text = text[: MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
            for term in item.findall(nodes.term):
                for node_id in term["ids"]:
                    found[node_id] = text
    return found


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    env = app.env
    if not hasattr(env, "libroia_glossary"):
        env.libroia_glossary = {}
    if env.docname == GLOSSARY_DOC:
        env.libroia_glossary = _definitions(doctree)


def _on_merge(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    if GLOSSARY_DOC in docnames:
        env.libroia_glossary = getattr(other, "libroia_glossary", {})


def _on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    definitions = getattr(app.env, "libroia_glossary", {})
    for ref in doctree.findall(nodes.reference):
        uri = ref.get("refuri", "")
        if "#term-" not in uri and not ref.get("refid", "").startswith("term-"):
            continue
        anchor = uri.split("#", 1)[1] if "#" in uri else ref["refid"]
        text = definitions.get(anchor)
        if text:
            ref["reftitle"] = text
            ref["classes"].append("glosario-termino")


def setup(app: Sphinx) -> None:
    app.connect("doctree-read", _on_doctree_read)
    app.connect("env-merge-info", _on_merge)
    app.connect("doctree-resolved", _on_doctree_resolved)
