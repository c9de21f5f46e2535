"""Figuras del libro (plotly), una submódulo por capítulo.

Los capítulos las llaman desde celdas ocultas (``tags: [hide-input]``) para que
el lector vea el resultado sin el código de dibujo. Toda figura se crea con
:func:`new_figure`, que fija el título, los ejes en español y el texto
alternativo (``alt``) que el sitio pone como ``aria-label``.
"""

from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = ["COLORS", "new_figure", "slider_steps"]
