"""Figuras del capítulo 2 («Tokens y datos»): tamaño del vocabulario e impuesto del idioma."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from libroia.plots._common import COLORS, new_figure


def vocab_tradeoff(
    vocab_sizes: Sequence[int],
    tokens_per_word: Sequence[float],
    *,
    d_model: int = 4096,
) -> go.Figure:
    """Tokens por palabra (eje izquierdo) y parámetros de la tabla de incrustaciones
    ``V · d`` (eje derecho) según el tamaño del vocabulario ``V``."""
    if len(vocab_sizes) != len(tokens_per_word) or not vocab_sizes:
        raise ValueError(
            "`vocab_sizes` y `tokens_per_word` deben tener la misma longitud (> 0), pero "
            f"tienen {len(vocab_sizes)} y {len(tokens_per_word)}"
        )
    fig = new_figure(
        title="Más vocabulario, menos tokens por palabra… y más parámetros",
        alt=(
            "Gráfico de líneas con el tamaño del vocabulario en el eje horizontal, en escala "
            "logarítmica. La curva azul, los tokens por palabra en un texto no visto, baja "
            "deprisa al principio y cada vez más despacio. La curva naranja, los parámetros "
            "de la tabla de incrustaciones, crece en proporción directa al vocabulario."
        ),
        x_title="tamaño del vocabulario V (escala logarítmica)",
        y_title="tokens por palabra",
    )
    fig.add_scatter(
        x=list(vocab_sizes),
        y=list(tokens_per_word),
        mode="lines+markers",
        name="tokens por palabra",
        marker_color=COLORS[0],
        hovertemplate="V = %{x}<br>%{y:.3f} tokens por palabra<extra></extra>",
    )
    fig.add_scatter(
        x=list(vocab_sizes),
        y=[v * d_model / 1e6 for v in vocab_sizes],
        mode="lines+markers",
        name=f"parámetros de V × d (d = {d_model}), millones",
        marker_color=COLORS[1],
        line_dash="dot",
        yaxis="y2",
        hovertemplate="V = %{x}<br>%{y:.1f} millones de parámetros<extra></extra>",
    )
    fig.update_xaxes(type="log")
    fig.update_layout(
        yaxis2={
            "title": "millones de parámetros (V × d)",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "tickformat": ".1f",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "x": 0.0, "y": -0.25},
        margin={"r": 70, "b": 90},
    )
    return fig


def language_tax(
    taxes: Mapping[str, Mapping[str, float]],
    languages: Mapping[str, str],
    *,
    sort_by: str | None = None,
) -> go.Figure:
    """Barras horizontales del impuesto del idioma, una serie por tokenizador.

    ``taxes[tokenizador][código]`` es el cociente de tokens respecto al inglés;
    ``languages[código]`` es el nombre del idioma. Unos botones muestran todos
    los tokenizadores a la vez o uno solo.
    """
    if not taxes:
        raise ValueError("`taxes` debe tener al menos un tokenizador, pero está vacío")
    names = list(taxes)
    key = sort_by if sort_by is not None else names[0]
    if key not in taxes:
        raise ValueError(f"`sort_by` debe ser uno de {names}, pero vale {key!r}")
    codes = sorted(taxes[key], key=lambda c: taxes[key][c])
    labels = [languages.get(c, c) for c in codes]
    fig = new_figure(
        title="El impuesto del idioma: tokens para decir lo mismo, relativos al inglés",
        alt=(
            "Diagrama de barras horizontales. Cada fila es un idioma y cada color un "
            "tokenizador. La longitud de la barra es cuántos tokens cuesta decir las mismas "
            "ocho frases que en inglés, donde el inglés vale 1. Las lenguas con alfabeto "
            "latino quedan cerca de 1 y las de otras escrituras, como el hindi, el griego "
            "o el amárico, cuestan varias veces más con los tokenizadores antiguos."
        ),
        x_title="tokens relativos al inglés (inglés = 1)",
        height=160 + (12 + 10 * len(taxes)) * len(codes),
    )
    for i, name in enumerate(names):
        values = [taxes[name].get(c, float("nan")) for c in codes]
        fig.add_bar(
            y=labels,
            x=values,
            orientation="h",
            name=name,
            marker_color=COLORS[i % len(COLORS)],
            hovertemplate="%{y}: %{x:.2f} × inglés<extra>" + name + "</extra>",
        )
    fig.add_vline(x=1.0, line_dash="dash", line_color="gray")
    buttons = [{"label": "todos", "method": "update", "args": [{"visible": [True] * len(names)}]}]
    for i, name in enumerate(names):
        visible = [j == i for j in range(len(names))]
        buttons.append({"label": name, "method": "update", "args": [{"visible": visible}]})
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        updatemenus=[
            {"type": "buttons", "direction": "right", "x": 0.0, "xanchor": "left",
             "y": 1.0, "yanchor": "bottom", "pad": {"b": 8}, "buttons": buttons}
        ],
        legend={"traceorder": "reversed"},
        margin={"t": 110},
    )  # fmt: skip
    return fig
