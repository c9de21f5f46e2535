"""Figuras del capítulo 11, «Servir el modelo».

* :func:`roofline_figure`: el «tejado» de una GPU y dónde caen el prellenado y la
  decodificación; un deslizador cambia el número de secuencias por lote.
* :func:`measured_roofline_figure`: lo mismo medido en esta CPU.
* :func:`batching_timeline_figure`: cuándo espera y cuándo se atiende cada petición
  con lotes estáticos y continuos.
* :func:`latency_figure`: latencias p50 y p95 según el ritmo de peticiones.
* :func:`speculative_figure`: tokens por pasada del modelo grande según el número
  de propuestas, medidos y predichos.

Los deslizadores cambian la visibilidad de trazas ya calculadas: la página
estática no necesita servidor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from libroia.batching import ServingResult
from libroia.inference import Accelerator, forward_cost
from libroia.plots._common import COLORS, new_figure, slider_steps
from libroia.scaling import DecoderShape
from libroia.speculative import expected_tokens_per_step

__all__ = [
    "batching_timeline_figure",
    "latency_figure",
    "measured_roofline_figure",
    "roofline_figure",
    "speculative_figure",
]


def _roof(gpu: Accelerator, lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Puntos del tejado ``min(P, I·B)`` entre las intensidades ``lo`` y ``hi``."""
    xs = [lo, gpu.ridge, hi] if lo < gpu.ridge < hi else [lo, hi]
    return xs, [gpu.attainable(x) / 1e12 for x in xs]


def roofline_figure(
    shape: DecoderShape,
    gpu: Accelerator,
    *,
    name: str,
    batch_sizes: Sequence[int],
    context: int = 1000,
    prompt: int = 1000,
    dtype: str = "bf16",
) -> go.Figure:
    """Tejado de ``gpu`` con el prellenado de ``prompt`` tokens y la decodificación de un
    lote de N secuencias con ``context`` tokens en la caché; un paso por cada N."""
    prefill = forward_cost(shape, new_tokens=prompt, dtype=dtype)
    lo, hi = 0.1, 10 * max(gpu.ridge, prefill.intensity)
    fig = new_figure(
        title=f"{name} en una {gpu.name}: ¿memoria o cómputo?",
        alt=("Gráfico en ejes logarítmicos del rendimiento alcanzable frente a la intensidad "
             "aritmética: una rampa limitada por el ancho de banda que se convierte en un techo "
             "plano en el punto de equilibrio. El prellenado de un prompt cae en el techo; la "
             "decodificación de una sola secuencia cae muy abajo en la rampa y, al mover el "
             "deslizador del número de secuencias por lote, sube por ella hacia el techo."),
        x_title="intensidad aritmética (FLOP por byte, escala log)",
        y_title="billones de FLOP/s (escala log)", height=460,
    )
    xs, ys = _roof(gpu, lo, hi)
    for n in batch_sizes:
        decode = forward_cost(shape, new_tokens=1, cached_tokens=context, batch_size=n,
                              dtype=dtype)
        seconds = gpu.seconds(decode.flops, decode.n_bytes)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="tejado (máximo alcanzable)",
                                 line={"color": "#555", "width": 2}, hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=[prefill.intensity], y=[gpu.attainable(prefill.intensity) / 1e12],
            mode="markers", name=f"prellenado de {prompt} tokens",
            marker={"size": 13, "color": COLORS[1], "symbol": "square"},
            hovertemplate="prellenado<br>I = %{x:.0f} FLOP/byte<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[decode.intensity], y=[gpu.attainable(decode.intensity) / 1e12],
            mode="markers", name=f"decodificar {n} secuencia{'s' if n > 1 else ''}",
            marker={"size": 13, "color": COLORS[0]},
            customdata=[[1000 * seconds, n / seconds]],
            hovertemplate=("decodificación<br>I = %{x:.1f} FLOP/byte<br>"
                           "%{customdata[0]:.1f} ms por pasada<br>"
                           "%{customdata[1]:.0f} tokens/s en total<extra></extra>")))
    fig.add_vline(x=gpu.ridge, line={"dash": "dot", "color": "#777", "width": 1},
                  annotation_text=f"equilibrio: {gpu.ridge:.0f} FLOP/byte",
                  annotation_position="bottom right")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return slider_steps(fig, [str(n) for n in batch_sizes], 3,
                        prefix="secuencias por lote: N = ")


def measured_roofline_figure(cpu: Accelerator, points: Sequence[Mapping[str, float]],
                             labels: Sequence[str]) -> go.Figure:
    """Tejado medido de esta CPU y el rendimiento medido de varios productos de matrices.

    ``points``: resultados de :func:`libroia.inference.measure_matmul`; ``labels``, su
    nombre en la leyenda (por ejemplo, el número de filas ``m``).
    """
    intensities = [p["intensity"] for p in points]
    lo, hi = min(intensities) / 2, max(max(intensities), cpu.ridge) * 2
    fig = new_figure(
        title="Medido en esta CPU: productos de matrices con más y más filas",
        alt=("Rendimiento medido en esta CPU frente a la intensidad aritmética, en ejes "
             "logarítmicos, sobre su tejado medido. Con pocas filas los puntos quedan en la "
             "rampa limitada por la memoria; con muchas filas se acercan al techo de cómputo."),
        x_title="intensidad aritmética (FLOP por byte, escala log)",
        y_title="miles de millones de FLOP/s (escala log)",
    )
    xs, ys = _roof(cpu, lo, hi)
    fig.add_trace(go.Scatter(x=xs, y=[1000 * y for y in ys], mode="lines",
                             name="tejado medido", line={"color": "#555", "width": 2},
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=intensities, y=[p["flops_per_second"] / 1e9 for p in points], mode="markers+text",
        text=list(labels), textposition="top center", name="producto medido",
        marker={"size": 10, "color": COLORS[0]},
        hovertemplate="%{text}<br>I = %{x:.1f} FLOP/byte<br>%{y:.1f} GFLOP/s<extra></extra>"))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def batching_timeline_figure(results: Mapping[str, ServingResult]) -> go.Figure:
    """Una fila por petición y política: espera (claro) y atención (color) en el tiempo."""
    fig = new_figure(
        title="Las mismas peticiones con lotes estáticos y continuos",
        alt=("Diagrama de Gantt con una fila por petición para cada forma de formar lotes. "
             "Cada barra muestra la espera en gris y el tiempo en el lote en color. Con lotes "
             "estáticos las peticiones que llegan esperan a que termine el lote entero, y las "
             "cortas salen a la vez que la más larga; con lotes continuos entran en cuanto "
             "hay sitio y salen en cuanto terminan."),
        x_title="tiempo (s)", height=140 + 28 * sum(len(r.requests) for r in results.values()),
    )
    for i, (policy, res) in enumerate(results.items()):
        rows = [f"{policy} · {r.id + 1}" for r in res.requests]
        arrival = np.array([r.arrival for r in res.requests])
        admitted = np.array([res.admitted[r.id] for r in res.requests])
        finish = np.array([res.finish[r.id] for r in res.requests])
        fig.add_trace(go.Bar(
            y=rows, x=admitted - arrival, base=arrival, orientation="h", name="esperando",
            marker_color="#bbbbbb", showlegend=i == 0, legendgroup="espera",
            hovertemplate="espera %{x:.2f} s<extra></extra>"))
        fig.add_trace(go.Bar(
            y=rows, x=finish - admitted, base=admitted, orientation="h",
            name=f"en el lote ({policy})", marker_color=COLORS[i % len(COLORS)],
            hovertemplate="en el lote %{x:.2f} s<extra></extra>"))
    fig.update_layout(barmode="overlay", bargap=0.25)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def latency_figure(
    rates: Sequence[float], results: Mapping[str, Sequence[ServingResult]]
) -> go.Figure:
    """Latencia p50 (continua) y p95 (discontinua) frente al ritmo de peticiones."""
    fig = new_figure(
        title="Latencia según el ritmo de peticiones",
        alt=("Latencia mediana y del percentil 95, en escala logarítmica, frente al número "
             "de peticiones por segundo, para lotes estáticos, lotes continuos con memoria "
             "reservada y lotes continuos con memoria por bloques. Los lotes estáticos se "
             "saturan enseguida; la memoria por bloques aguanta el ritmo más alto."),
        x_title="peticiones por segundo", y_title="latencia (s, escala log)",
    )
    for i, (name, runs) in enumerate(results.items()):
        for q, dash in ((50, "solid"), (95, "dash")):
            fig.add_trace(go.Scatter(
                x=list(rates), y=[r.percentile(q) for r in runs], mode="lines+markers",
                name=f"{name}, p{q}", line={"color": COLORS[i % len(COLORS)], "dash": dash},
                hovertemplate=f"{name}<br>%{{x}} peticiones/s<br>p{q}: %{{y:.1f}} s"
                              "<extra></extra>"))
    fig.update_yaxes(type="log")
    return fig


def speculative_figure(gammas: Sequence[int], measured: Sequence[float], alpha: float,
                       speedups: Sequence[float] | None = None) -> go.Figure:
    """Tokens por pasada del objetivo según ``γ``: medidos y predichos con ``α``.

    ``speedups`` (opcional): aceleración medida en tiempo de reloj para cada ``γ``.
    """
    grid = np.arange(0, max(gammas) + 1)
    fig = new_figure(
        title="Decodificación especulativa: tokens por pasada del modelo grande",
        alt=("Tokens generados por cada pasada del modelo objetivo frente al número de "
             "propuestas del borrador. Los puntos medidos siguen la curva predicha, que crece "
             "cada vez más despacio y se acerca a 1/(1 − α)."),
        x_title="propuestas por paso (γ)", y_title="tokens por pasada del objetivo",
    )
    fig.add_trace(go.Scatter(
        x=grid, y=[expected_tokens_per_step(alpha, int(g)) for g in grid], mode="lines",
        name=f"predicho con α = {alpha:.2f}", line={"color": "#555"},
        hovertemplate="γ = %{x}: %{y:.2f} predichos<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=list(gammas), y=list(measured), mode="markers", name="medido",
        marker={"size": 11, "color": COLORS[0]},
        hovertemplate="γ = %{x}: %{y:.2f} medidos<extra></extra>"))
    if speedups is not None:
        fig.add_trace(go.Scatter(
            x=list(gammas), y=list(speedups), mode="lines+markers",
            name="aceleración medida (tiempo)", line={"color": COLORS[1], "dash": "dot"},
            hovertemplate="γ = %{x}: ×%{y:.2f}<extra></extra>"))
    return fig
