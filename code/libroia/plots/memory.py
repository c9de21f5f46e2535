"""Figuras del capítulo 7, «Memoria».

Calculadoras interactivas sin servidor: cada paso del deslizador muestra trazas
ya calculadas con :mod:`libroia.memory`. Las líneas horizontales marcan la
memoria de tarjetas gráficas habituales (24 GiB de una GPU de consumo, 80 GiB de
una A100 o H100).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from libroia.memory import (
    GIB,
    activation_bytes,
    kv_cache_bytes,
    lora_n_params,
    training_memory_bytes,
    weights_bytes,
)
from libroia.plots._common import COLORS, new_figure, slider_steps
from libroia.quantization import quantization_error
from libroia.scaling import DecoderShape, n_params_decoder

__all__ = [
    "inference_memory_figure",
    "quantization_error_figure",
    "training_memory_figure",
    "training_scenarios",
]

GPUS = {"GPU de 24 GiB": 24.0, "GPU de 80 GiB": 80.0}

_PARTS = {  # clave de training_memory_bytes -> nombre en la leyenda
    "weights": "pesos",
    "gradients": "gradientes",
    "master_weights": "copia maestra FP32",
    "optimizer": "estados de Adam",
    "activations": "activaciones",
}


def _gpu_lines(fig: go.Figure, gpus: Mapping[str, float]) -> None:
    for name, gib in gpus.items():
        fig.add_hline(y=gib, line={"dash": "dash", "color": "#777", "width": 1},
                      annotation_text=name, annotation_position="top left")


def inference_memory_figure(
    shapes: Mapping[str, DecoderShape],
    contexts: Sequence[int],
    *,
    batch_sizes: Sequence[int] = (1, 8, 32),
    dtype: str = "bf16",
    gpus: Mapping[str, float] = GPUS,
) -> go.Figure:
    """Memoria para generar (pesos + caché KV) frente al contexto; un paso por modelo."""
    contexts = np.asarray(contexts)
    fig = new_figure(
        title="Memoria para generar: pesos más caché KV",
        alt=("Calculadora con un deslizador para elegir el modelo. Para cada longitud de "
             "contexto, en ejes logarítmicos, muestra la memoria de los pesos (constante) y "
             "la total con la caché de claves y valores para varios tamaños de lote: la "
             "caché crece en proporción al contexto y al lote y acaba superando a los pesos."),
        x_title="contexto T (tokens, escala log)", y_title="memoria (GiB, escala log)",
    )
    for shape in shapes.values():
        w = weights_bytes(n_params_decoder(shape), dtype) / GIB
        fig.add_trace(go.Scatter(x=contexts, y=np.full(contexts.shape, w), mode="lines",
                                 name="solo pesos", line={"color": "#000", "width": 3},
                                 hovertemplate="pesos: %{y:.1f} GiB<extra></extra>"))
        for i, n in enumerate(batch_sizes):
            kv = np.array([kv_cache_bytes(shape, context=int(t), batch_size=n, dtype=dtype)
                           for t in contexts]) / GIB
            fig.add_trace(go.Scatter(
                x=contexts, y=w + kv, mode="lines+markers", name=f"pesos + caché, N = {n}",
                line_color=COLORS[i % len(COLORS)], customdata=kv,
                hovertemplate="T = %{x}<br>total %{y:.1f} GiB<br>caché %{customdata:.1f} GiB"
                              "<extra></extra>"))
    _gpu_lines(fig, gpus)
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return slider_steps(fig, list(shapes), 1 + len(batch_sizes), prefix="modelo: ")


def training_scenarios(
    shape: DecoderShape,
    *,
    context: int,
    batch_size: int,
    lora_rank: int = 16,
    lora_targets: Sequence[str] = ("q", "k", "v", "o"),
) -> dict[str, dict[str, float]]:
    """Memoria de entrenamiento (bytes por parte) en cinco escenarios habituales.

    FP32 + Adam; precisión mixta + Adam; mixta con recálculo de activaciones;
    LoRA sobre pesos BF16 congelados; y LoRA sobre pesos INT4 (como QLoRA), estos
    dos también con recálculo. Las activaciones se estiman con
    :func:`libroia.memory.activation_bytes` con una atención tipo FlashAttention
    (``attention_matrices=0``), la habitual al entrenar.
    """
    n = n_params_decoder(shape)
    n_lora = lora_n_params(shape, rank=lora_rank, targets=lora_targets)

    def act(dtype: str, checkpointing: bool) -> float:
        return activation_bytes(shape, context=context, batch_size=batch_size, dtype=dtype,
                                checkpointing=checkpointing, attention_matrices=0)

    return {
        "FP32 + Adam": training_memory_bytes(n, precision="fp32",
                                             activations=act("fp32", False)),
        "mixta + Adam": training_memory_bytes(n, activations=act("bf16", False)),
        "mixta + recálculo": training_memory_bytes(n, activations=act("bf16", True)),
        f"LoRA r={lora_rank}": training_memory_bytes(
            n + n_lora, n_trainable=n_lora, activations=act("bf16", True)),
        f"LoRA r={lora_rank}, pesos INT4": training_memory_bytes(
            n + n_lora, n_trainable=n_lora, frozen_dtype="int4",
            activations=act("bf16", True)),
    }


def training_memory_figure(
    shape: DecoderShape,
    *,
    name: str,
    context: int,
    batch_sizes: Sequence[int],
    gpus: Mapping[str, float] = GPUS,
    **lora: Any,
) -> go.Figure:
    """Barras apiladas de :func:`training_scenarios`; un paso del deslizador por tamaño de lote."""
    fig = new_figure(
        title=f"Memoria para entrenar {name}, según la receta",
        alt=(f"Barras apiladas con la memoria de entrenamiento de {name} en cinco recetas "
             "(FP32, precisión mixta, recálculo, LoRA y LoRA con pesos de 4 bits), separada en "
             "pesos, gradientes, copia maestra, estados de Adam y activaciones. Un deslizador "
             "elige el tamaño del lote; solo las recetas con LoRA caben en una GPU de 80 GiB."),
        x_title="receta", y_title="memoria (GiB)", height=480,
    )
    for n in batch_sizes:
        scen = training_scenarios(shape, context=context, batch_size=n, **lora)
        for i, (key, label) in enumerate(_PARTS.items()):
            fig.add_trace(go.Bar(
                x=list(scen), y=[s[key] / GIB for s in scen.values()], name=label,
                marker_color=COLORS[i], customdata=[sum(s.values()) / GIB for s in scen.values()],
                hovertemplate=label + ": %{y:.1f} GiB<br>total %{customdata:.1f} GiB"
                                      "<extra></extra>"))
    _gpu_lines(fig, gpus)
    fig.update_layout(barmode="stack")
    return slider_steps(fig, [str(n) for n in batch_sizes], len(_PARTS),
                        prefix=f"secuencias de {context} tokens por lote: ")


def quantization_error_figure(
    weights: Mapping[str, Any], bits: Sequence[int] = (2, 3, 4, 5, 6, 7, 8)
) -> go.Figure:
    """Error relativo de cuantizar por máximo absoluto, por tensor y por canal, según los bits."""
    fig = new_figure(
        title="Cuantos menos bits, más error",
        alt=("Error cuadrático medio relativo de cuantizar matrices de pesos frente al número "
             "de bits, en escala logarítmica: el error se divide aproximadamente por dos con "
             "cada bit más, y una escala por fila (por canal) da menos error que una sola "
             "escala para toda la matriz."),
        x_title="bits por peso", y_title="error relativo (RMS, escala log)",
    )
    for i, (name, w) in enumerate(weights.items()):
        for axis, dash, mode in ((None, "dash", "por tensor"), (0, "solid", "por canal")):
            err = [quantization_error(w, bits=b, axis=axis)["relative_rms"] for b in bits]
            fig.add_trace(go.Scatter(
                x=list(bits), y=err, mode="lines+markers", name=f"{name}, {mode}",
                line={"dash": dash, "color": COLORS[i % len(COLORS)]},
                hovertemplate="%{x} bits: %{y:.2%}<extra></extra>"))
    fig.update_yaxes(type="log")
    return fig
