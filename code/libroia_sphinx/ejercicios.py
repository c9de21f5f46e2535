"""Títulos de las soluciones en español natural: «Solución del ejercicio 9.2».

sphinx-exercise escribe «Solución a Ejercicio 9.2». Este módulo, una extensión de
Sphinx, reescribe el título cuando el documento ya está resuelto (después de que
sphinx-exercise haya puesto el número del ejercicio).
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

_PREFIX = re.compile(r"^Solución a\s*$")
_EXERCISE = re.compile(r"^(\s*)Ejercicio(\s)")


def spanish_title(texts: list[str]) -> list[str]:
    """Reescribe los trozos de texto de un título de solución.

    >>> spanish_title(["Solución a", " ", "Ejercicio 9.2"])
    ['Solución del', ' ', 'ejercicio 9.2']
    >>> spanish_title(["Solución"])
    ['Solución']
    """
    if not texts or not _PREFIX.match(texts[0]):
        return list(texts)
    out = [texts[0].replace("Solución a", "Solución del")]
    for text in texts[1:]:
        out.append(_EXERCISE.sub(r"\1ejercicio\2", text))
    return out


def _on_doctree_resolved(app: Any, doctree: nodes.document, docname: str) -> None:
    from sphinx_exercise.nodes import solution_node

    # sphinx-exercise sustituye el título por un ``nodes.title`` nuevo al resolverlo.
    for solution in doctree.findall(solution_node):
        title = solution.children[0] if solution.children else None
        if not isinstance(title, nodes.title | nodes.TextElement):
            continue
        texts = list(title.findall(nodes.Text))
        new = spanish_title([str(t) for t in texts])
        for old_node, text in zip(texts, new, strict=True):
            if str(old_node) != text:
                old_node.parent.replace(old_node, nodes.Text(text))


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
