"""Decodificar secuencias: log-probabilidades, búsqueda en haz, mejor de N, autoconsistencia.

:mod:`libroia.sampling` elige un token; este módulo razona sobre secuencias
enteras:

* :func:`token_log_probs` y :func:`sequence_log_prob`: cuánto cree el modelo en
  una secuencia (la suma de las log-probabilidades de sus tokens);
* :func:`beam_search`: las ``B`` continuaciones más probables, sobre cualquier
  función de paso ``step(prefixes) -> log-probs``;
* :func:`best_of_n` y :func:`self_consistency` (voto por mayoría, Wang et al.,
  2023): gastar más cómputo al responder;
* :func:`log_prob_step` y :func:`continuation_log_probs`: lo mismo con el GPT del libro.

Las funciones numéricas aceptan arreglos de NumPy o tensores de PyTorch (*array
API*). Todo se puede importar también desde :mod:`libroia.sampling`.
Capítulo: «Muestreo» (``book/09_muestreo.md``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from libroia._checks import (
    array_namespace,
    check_array,
    check_class_ids,
    check_int,
    describe_shape,
)

__all__ = [
    "BeamResult",
    "Vote",
    "beam_search",
    "best_of_n",
    "continuation_log_probs",
    "log_prob_step",
    "next_token_logits",
    "self_consistency",
    "sequence_log_prob",
    "token_log_probs",
    "top_tokens",
]

# ---------------------------------------------------------------------------
# Secuencias: log-probabilidad, haz, mejor de N, autoconsistencia
# ---------------------------------------------------------------------------


def token_log_probs(log_probs: Any, ids: Any) -> Any:
    r"""Log-probabilidad de cada token elegido: ``log_probs[..., t, ids[..., t]]``.

    Parámetros: ``log_probs`` ``(..., T, V)`` (log-softmax de los logits que
    predicen cada posición) e ``ids`` enteros ``(..., T)``. Devuelve ``(..., T)``.
    """
    log_probs, ids, xp = check_class_ids("log_probs", log_probs, "ids", ids, min_ndim=2)
    picked = xp.take_along_axis(log_probs, ids[..., None], axis=-1)
    return picked[..., 0]  # (..., T)


def sequence_log_prob(log_probs: Any, ids: Any) -> Any:
    r"""Log-probabilidad de una secuencia: la suma de las de sus tokens.

    .. math:: \log P(x_1, \dots, x_T) = \sum_{t=1}^{T} \log P(x_t \mid x_{<t})

    Parámetros como :func:`token_log_probs`; devuelve ``(...)``.
    Ejemplo: dos tokens con probabilidad 0.5 y 0.25 dan ``log 0.125 ≈ -2.08``.
    """
    xp = array_namespace(check_array("log_probs", log_probs))
    return xp.sum(token_log_probs(log_probs, ids), axis=-1)  # (...)


@dataclass(frozen=True)
class BeamResult:
    """Resultado de :func:`beam_search`, de mejor a peor.

    ``sequences``: ``(B, T0 + n)`` con el prefijo incluido; ``scores``: ``(B,)``,
    log-probabilidad total de lo generado; ``finished``: ``(B,)`` booleano, si la
    secuencia terminó con ``eos_id``.
    """

    sequences: Any
    scores: Any
    finished: Any


def beam_search(
    step: Callable[[Any], Any],
    prompt: Any,
    *,
    beam_width: int,
    max_new_tokens: int,
    eos_id: int | None = None,
) -> BeamResult:
    r"""Búsqueda en haz: mantiene las ``beam_width`` continuaciones más probables.

    En cada paso extiende cada hipótesis con cada token del vocabulario, puntúa
    con la suma de log-probabilidades y se queda con las ``B = beam_width`` mejores:

    .. math:: \text{puntuación}(x_{1:t}) = \sum_{s \le t} \log P(x_s \mid x_{<s})

    Parámetros: ``step(prefixes)`` recibe enteros ``(B, T)`` y devuelve
    log-probabilidades ``(B, V)`` del mismo tipo; ``prompt`` enteros ``(T0,)``;
    ``eos_id`` opcional: una hipótesis que lo emite queda terminada y se rellena con
    ``eos_id`` sin coste. Con ``beam_width=1`` coincide con la decodificación voraz.
    Capítulo «Muestreo».
    """
    beam_width = check_int("beam_width", beam_width, min_value=1)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
    prompt = check_array("prompt", prompt)
    xp = array_namespace(prompt)
    if prompt.ndim != 1 or not xp.isdtype(prompt.dtype, "integral"):
        raise ValueError(
            f"`prompt` debe ser un vector de enteros (T0,), pero tiene forma "
            f"{describe_shape(prompt.shape)} y tipo {prompt.dtype}"
        )
    beams = xp.astype(prompt, xp.int64)[None, :]  # (1, T0)
    scores = xp.zeros((1,), dtype=xp.float64)  # (1,)
    finished = xp.zeros((1,), dtype=xp.bool)  # (1,)
    for _ in range(max_new_tokens):
        log_probs = check_array("step(prefixes)", step(beams))
        V = log_probs.shape[-1] if log_probs.ndim == 2 else -1
        if tuple(log_probs.shape) != (beams.shape[0], V) or V < 1:
            raise ValueError(
                f"`step` debe devolver log-probabilidades (B, V) con B = {beams.shape[0]}, "
                f"pero devolvió forma {describe_shape(log_probs.shape)}"
            )
        if eos_id is not None:
            eos_id = check_int("eos_id", eos_id, min_value=0, max_value=V - 1)
            only_eos = xp.where(xp.arange(V) == eos_id, 0.0, -math.inf)  # (V,)
            log_probs = xp.where(finished[:, None], only_eos, log_probs)  # (B, V)
        flat = xp.reshape(scores[:, None] + xp.astype(log_probs, xp.float64), (-1,))  # (B·V,)
        best = xp.argsort(flat, descending=True, stable=True)[: min(beam_width, flat.shape[0])]
        source, token = best // V, best % V  # (B',), (B',)
        beams = xp.concat([xp.take(beams, source, axis=0), token[:, None]], axis=1)  # (B', T+1)
        scores = xp.take(flat, best)  # (B',)
        finished = xp.take(finished, source)
        if eos_id is not None:
            finished = finished | (token == eos_id)
        if bool(xp.all(finished)):
            break
    return BeamResult(sequences=beams, scores=scores, finished=finished)


def best_of_n(candidates: Sequence[Any], scores: Any) -> tuple[Any, int]:
    """Mejor de N: el candidato con la puntuación más alta y su índice.

    ``scores`` tiene forma ``(N,)`` (lista, arreglo o tensor): por ejemplo, la
    log-probabilidad de cada muestra o la nota de un modelo de recompensa. En un
    empate gana el primero. Ejemplo: ``best_of_n(["a", "b"], [0.1, 0.7])`` da
    ``("b", 1)``.
    """
    s = check_array("scores", scores)
    xp = array_namespace(s)
    if s.ndim != 1 or s.shape[0] != len(candidates) or len(candidates) == 0:
        raise ValueError(
            f"`scores` debe tener forma (N,) con N = len(candidates) = {len(candidates)} ≥ 1, "
            f"pero tiene forma {describe_shape(s.shape)}"
        )
    if bool(xp.any(xp.isnan(s))):
        raise ValueError("`scores` contiene valores nan")
    index = int(xp.argmax(s))
    return candidates[index], index


@dataclass(frozen=True)
class Vote:
    """Resultado de :func:`self_consistency`.

    ``answer``: la respuesta más votada; ``count``: sus votos; ``total``: votos
    emitidos; ``agreement``: ``count / total``; ``counts``: votos por respuesta, de
    más a menos votada.
    """

    answer: Hashable
    count: int
    total: int
    agreement: float
    counts: dict[Hashable, int]


def self_consistency(answers: Sequence[Hashable]) -> Vote:
    """Autoconsistencia: la respuesta final es la más repetida entre varias muestras.

    Wang et al. (2023) muestrean varios razonamientos y votan sus respuestas
    finales. En un empate gana la que apareció primero. ``agreement`` (fracción de
    votos de la ganadora) mide cuánto coinciden las muestras: el capítulo
    «Alucinaciones y evaluación» la usa como señal de poca fiabilidad.

    Ejemplo: ``self_consistency(["4", "5", "4"])`` gana ``"4"`` con acuerdo 2/3.
    """
    answers = list(answers)
    if not answers:
        raise ValueError("`answers` debe contener al menos una respuesta, pero está vacía")
    counts = Counter(answers)  # conserva el orden de primera aparición
    ordered = dict(sorted(counts.items(), key=lambda kv: -kv[1]))  # orden estable
    answer, count = next(iter(ordered.items()))
    return Vote(answer, count, len(answers), count / len(answers), ordered)


# ---------------------------------------------------------------------------
# Con el GPT del libro (PyTorch)
# ---------------------------------------------------------------------------


def log_prob_step(model: Any) -> Callable[[Any], Any]:
    """Función de paso para :func:`beam_search` a partir de un GPT.

    Devuelve ``step(prefixes)``: enteros ``(B, T)`` → log-probabilidades del
    siguiente token ``(B, V)`` en float64, mirando los últimos ``context`` tokens.
    ``model(idx)`` debe devolver logits ``(B, T, V)`` y tener ``model.config.context``.
    """
    import torch

    context = model.config.context

    def step(prefixes: Any) -> Any:
        with torch.no_grad():
            logits = model(prefixes[:, -context:])[:, -1]  # (B, V)
        return torch.log_softmax(logits.double(), dim=-1)  # (B, V)

    return step


def continuation_log_probs(model: Any, prompt: Any, continuations: Any) -> Any:
    r"""Log-probabilidad de cada token de varias continuaciones de un mismo prefijo.

    Parámetros: ``prompt`` enteros ``(T0,)``; ``continuations`` enteros ``(N, n)``.
    Devuelve ``(N, n)`` con :math:`\log P(c_t \mid \text{prompt}, c_{<t})`; su suma
    por filas es la log-probabilidad de cada continuación (:func:`sequence_log_prob`).
    Si no cabe todo en el contexto, se recorta el principio del prefijo.
    """
    import torch

    prompt = torch.as_tensor(prompt, dtype=torch.long)
    conts = torch.as_tensor(continuations, dtype=torch.long)
    if prompt.ndim != 1 or conts.ndim != 2 or prompt.shape[0] < 1 or conts.shape[1] < 1:
        raise ValueError(
            "`prompt` debe tener forma (T0,) y `continuations` forma (N, n), pero tienen "
            f"formas {describe_shape(prompt.shape)} y {describe_shape(conts.shape)}"
        )
    N, n = conts.shape
    if n > model.config.context:
        raise ValueError(
            f"`continuations` tiene n = {n} tokens, más que el contexto del modelo "
            f"({model.config.context})"
        )
    keep = max(1, model.config.context + 1 - n)
    idx = torch.cat([prompt[-keep:].expand(N, -1), conts], dim=1)  # (N, T0' + n)
    with torch.no_grad():
        log_p = torch.log_softmax(model(idx[:, :-1]).double(), dim=-1)  # (N, T0' + n - 1, V)
    return token_log_probs(log_p[:, -n:], conts)  # (N, n)


def next_token_logits(model: Any, tokenizer: Any, prompt: str) -> Any:
    """Logits ``(V,)`` del token que sigue a ``prompt`` según ``model`` (sin gradiente).

    Si el prompt no cabe en el contexto, el modelo ve sus últimos ``context`` tokens.
    """
    import torch

    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"`prompt` debe ser un texto no vacío, pero es {prompt!r}")
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)  # (1, T)
    with torch.no_grad():
        return model(idx[:, -model.config.context :])[0, -1]  # (V,)


def top_tokens(logits: Any, tokenizer: Any, k: int = 10) -> list[tuple[str, float]]:
    """Los ``k`` tokens más probables de ``logits`` ``(V,)`` con su probabilidad.

    Ejemplo: con logits ``log([0.5, 0.3, 0.2])`` y ``k = 2`` da los tokens 0 y 1
    con 0.5 y 0.3.
    """
    import numpy as np

    k = check_int("k", k, min_value=1)
    z = np.asarray(logits.detach().cpu() if hasattr(logits, "detach") else logits, float)
    if z.ndim != 1:
        raise ValueError(
            f"`logits` debe tener forma (V,), pero tiene forma {describe_shape(z.shape)}"
        )
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")[:k]
    return [(tokenizer.token_str(int(i)), round(float(p[i]), 4)) for i in order]
