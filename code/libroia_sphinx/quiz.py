"""Directiva ``quiz``: preguntas de autoevaluación con respuesta por opción, sin servidor.

Cada opción es un ``<details>``: al pulsarla se despliega si es correcta y por
qué. No hace falta JavaScript ni conexión. Se escribe así en MyST::

    ```{quiz} ¿Por qué se divide entre √d_k en la atención?
    - Para ahorrar memoria.
      > No: la división no cambia el tamaño de nada.
    + Para que los productos escalares no saturen la softmax.
      > Correcto: su varianza crece con d_k.
    - Porque lo exige PyTorch.
      > No: es una decisión de diseño del artículo original.
    ```

``+`` marca la opción correcta (exactamente una), ``-`` las demás, y la línea
``>`` que sigue a cada opción es su explicación. El texto admite marcado en
línea (código, énfasis, fórmulas ``$...$``). Si la pregunta lleva código entre
acentos graves, usa la valla ``:::{quiz}`` … ``:::``: en Markdown, la primera
línea de una valla de acentos graves no puede contenerlos.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class quiz(nodes.General, nodes.Element):
    """Una pregunta: ``<div class="quiz">``."""


class quiz_option(nodes.General, nodes.Element):
    """Una opción desplegable: ``<details class="quiz-option">``."""


class quiz_summary(nodes.General, nodes.TextElement):
    """El texto visible de la opción: ``<summary>``."""


def parse_options(lines: list[str]) -> list[tuple[bool, str, str]]:
    """Convierte las líneas de la directiva en ``(correcta, opción, explicación)``.

    >>> parse_options(["+ Sí", "  > Bien.", "- No", "  > Mal."])
    [(True, 'Sí', 'Bien.'), (False, 'No', 'Mal.')]
    """
    options: list[list[Any]] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line[:2] in ("+ ", "- "):
            options.append([line[0] == "+", line[2:].strip(), ""])
        elif line.startswith(">") and options:
            options[-1][2] = (options[-1][2] + " " + line[1:].strip()).strip()
        elif options:
            target = 2 if options[-1][2] else 1
            options[-1][target] += " " + line
        else:
            raise ValueError(f"línea inesperada antes de la primera opción: {line!r}")
    return [(bool(c), str(o), str(f)) for c, o, f in options]


class QuizDirective(SphinxDirective):
    has_content = True
    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        try:
            options = parse_options(list(self.content))
        except ValueError as err:
            raise self.error(f"quiz: {err}") from err
        n_right = sum(correct for correct, _, _ in options)
        if len(options) < 2 or n_right != 1:
            raise self.error(
                "quiz: hacen falta al menos dos opciones y exactamente una correcta (+), "
                f"pero hay {len(options)} opciones y {n_right} correctas"
            )
        if any(not feedback for _, _, feedback in options):
            raise self.error("quiz: cada opción necesita su explicación en una línea «> ...»")
        node = quiz(classes=["quiz"])
        question, messages = self.state.inline_text(self.arguments[0], self.lineno)
        node += nodes.paragraph("", "", *question, classes=["quiz-question"])
        node += messages
        for i, (correct, text, feedback) in enumerate(options):
            option = quiz_option(classes=["quiz-option", "correcta" if correct else "incorrecta"])
            summary = quiz_summary()
            summary += nodes.inline("", f"{chr(ord('a') + i)}) ", classes=["quiz-letter"])
            inline, messages = self.state.inline_text(text, self.lineno)
            summary += inline
            option += summary
            verdict = "Correcto. " if correct else "No. "
            inline, more = self.state.inline_text(feedback, self.lineno)
            option += nodes.paragraph(
                "", "", nodes.strong("", verdict), *inline, classes=["quiz-feedback"]
            )
            node += option
            node += messages + more
        return [node]


def _visit_quiz(self, node):
    self.body.append(self.starttag(node, "div", role="group"))


def _depart_quiz(self, node):
    self.body.append("</div>\n")


def _visit_option(self, node):
    self.body.append(self.starttag(node, "details"))


def _depart_option(self, node):
    self.body.append("</details>\n")


def _visit_summary(self, node):
    self.body.append(self.starttag(node, "summary"))


def _depart_summary(self, node):
    self.body.append("</summary>\n")


def _skip(self, node):
    raise nodes.SkipNode


def setup(app: Sphinx) -> None:
    app.add_node(quiz, html=(_visit_quiz, _depart_quiz), latex=(_skip, None), text=(_skip, None))
    app.add_node(
        quiz_option, html=(_visit_option, _depart_option), latex=(_skip, None), text=(_skip, None)
    )
    app.add_node(
        quiz_summary,
        html=(_visit_summary, _depart_summary),
        latex=(_skip, None),
        text=(_skip, None),
    )
    app.add_directive("quiz", QuizDirective)
