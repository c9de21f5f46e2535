"""Decodificar secuencias: log-probabilidades, búsqueda en haz, mejor de N, autoconsistencia.

:mod:`libroia.sampling` elige un token; este módulo razona sobre secuencias
enteras:

* :func:`token_log_probs` y :func:`sequence_log_prob`: cuánto cree el modelo en
  una secuencia (la suma de las log-probabilidades de sus tokens). Son la única
  implementación del paquete: las pérdidas del posentrenamiento
  (:mod:`libroia.preference`) también las usan;
* :func:`beam_search`: las ``B`` continuaciones más probables, sobre cualquier
  función de paso ``step(prefixes) -> log-probs``;
* :func:`best_of_n` y :func:`self_consistency` (voto por mayoría, Wang et al.,
  2023): gastar más cómputo al responder;
* :func:`log_prob_step` y :func:`continuation_log_probs`: lo mismo con el GPT del libro.

Las funciones numéricas aceptan arreglos de NumPy o tensores de PyTorch (*array
API*) y devuelven el mismo tipo. Capítulo: «Muestreo» (``book/09_muestreo.md``).
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
    check_bool_array,
    check_class_ids,
    check_int,
    describe_shape,
)
from libroia.functional import log_softmax, softmax

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

# Margen para el redondeo al comprobar que `step` devuelve log-probabilidades (≤ 0):
# log(1.0000001) en float32 ya vale 1.2e-7.
_LOG_PROB_SLACK = 1e-5

# ---------------------------------------------------------------------------
# Log-probabilidad de una secuencia
# ---------------------------------------------------------------------------


def token_log_probs(logits: Any, ids: Any) -> Any:
    r"""Log-probabilidad de cada token elegido: ``log_softmax(logits)[..., t, ids[..., t]]``.

    .. math:: \log P(x_t \mid x_{<t}) = z_{t, x_t} - \log \sum_v e^{z_{t, v}}

    Parámetros: ``logits`` ``(..., T, V)``, las puntuaciones que predicen cada
    posición (valen también log-probabilidades ya normalizadas: normalizarlas otra
    vez no las cambia), e ``ids`` enteros ``(..., T)``, los tokens que de verdad
    vinieron. Devuelve ``(..., T)``; con tensores conserva el gradiente. Es lo que
    ``torch.nn.functional.cross_entropy(..., reduction="none")`` devuelve cambiado
    de signo. Capítulo «Muestreo», ecuación de la log-probabilidad de una secuencia.

    >>> import numpy as np
    >>> log_p = np.log(np.array([[0.5, 0.5], [0.75, 0.25]]))  # (T, V) = (2, 2)
    >>> np.exp(token_log_probs(log_p, np.array([0, 1]))).round(4).tolist()
    [0.5, 0.25]
    """
    logits, ids, xp = check_class_ids("logits", logits, "ids", ids, min_ndim=2)
    log_p = log_softmax(logits, axis=-1)  # (..., T, V)
    picked = xp.take_along_axis(log_p, ids[..., None], axis=-1)  # (..., T, 1)
    return picked[..., 0]  # (..., T)


def sequence_log_prob(logits: Any, ids: Any, mask: Any = None) -> Any:
    r"""Log-probabilidad de una secuencia: la suma de las de sus tokens.

    .. math:: \log P(x_1, \dots, x_T) = \sum_{t=1}^{T} m_t \log P(x_t \mid x_{<t})

    Parámetros como :func:`token_log_probs`, más ``mask`` opcional: booleana
    ``(..., T)`` que dice qué tokens cuentan (``True`` = cuenta; por omisión,
    todos). Los tokens enmascarados no aportan nada aunque su log-probabilidad sea
    ``-inf`` (se eligen con ``where``, no se multiplican por 0: ``-inf · 0`` daría
    ``nan``). Devuelve ``(...)``.

    >>> import numpy as np
    >>> log_p = np.log(np.array([[0.5, 0.5], [0.75, 0.25]]))
    >>> round(float(sequence_log_prob(log_p, np.array([0, 1]))), 4)  # log 0.125
    -2.0794
    >>> round(float(sequence_log_prob(log_p, np.array([0, 1]), np.array([False, True]))), 4)
    -1.3863
    """
    picked = token_log_probs(logits, ids)  # (..., T)
    xp = array_namespace(picked)
    if mask is not None:
        mask = check_bool_array("mask", mask)
        array_namespace(picked, mask)  # mismo tipo: NumPy o PyTorch
        if tuple(mask.shape) != tuple(picked.shape):
            raise ValueError(
                f"`mask` debe tener la forma de `ids` {describe_shape(picked.shape)}, "
                f"pero tiene forma {describe_shape(mask.shape)}"
            )
        picked = xp.where(mask, picked, 0.0)  # (..., T)
    return xp.sum(picked, axis=-1)  # (...)


# ---------------------------------------------------------------------------
# Búsqueda en haz
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BeamResult:
    """Resultado de :func:`beam_search`, de mejor a peor.

    ``sequences``: ``(B', T0 + n)`` con el prefijo incluido, donde ``n`` es la
    continuación más larga devuelta; las terminadas antes se rellenan con
    ``eos_id``. ``scores``: ``(B',)``, log-probabilidad total de lo generado, hasta
    el primer ``eos_id`` incluido. ``finished``: ``(B',)`` booleano, si la secuencia
    terminó con ``eos_id`` (si no, la cortó ``max_new_tokens``). ``B' ≤ B``: menos
    si no hay ``B`` continuaciones con probabilidad mayor que cero.
    """

    sequences: Any
    scores: Any
    finished: Any


def _step_log_probs(step: Callable[[Any], Any], beams: Any, V: int | None) -> Any:
    """Llama a ``step`` y comprueba que devuelve log-probabilidades ``(b, V)``; en float64."""
    out = check_array("step(prefixes)", step(beams))
    xp = array_namespace(beams, out)
    b = beams.shape[0]
    ok = out.ndim == 2 and out.shape[0] == b and out.shape[1] >= 1
    if not ok or (V is not None and out.shape[1] != V):
        expected = f"(B, V) con B = {b}" + ("" if V is None else f" y V = {V}")
        raise ValueError(
            f"`step` debe devolver log-probabilidades {expected}, "
            f"pero devolvió forma {describe_shape(out.shape)}"
        )
    out = xp.astype(out, xp.float64)
    if bool(xp.any(xp.isnan(out))):
        raise ValueError("`step` devolvió log-probabilidades nan")
    top = float(xp.max(out))
    if top > _LOG_PROB_SLACK:
        raise ValueError(
            "`step` debe devolver log-probabilidades (≤ 0), pero devolvió un valor de "
            f"{top:g}; si son logits, aplícales log_softmax"
        )
    return out  # (b, V)


def beam_search(
    step: Callable[[Any], Any],
    prompt: Any,
    *,
    beam_width: int,
    max_new_tokens: int,
    eos_id: int | None = None,
) -> BeamResult:
    r"""Búsqueda en haz: las ``beam_width`` continuaciones más probables que encuentra.

    Cada hipótesis se puntúa con la suma de las log-probabilidades de sus tokens:

    .. math:: \text{puntuación}(x_{1:t}) = \sum_{s \le t} \log P(x_s \mid x_{<s})

    En cada paso se extiende cada hipótesis viva con cada token del vocabulario y
    se ordenan las candidatas (se descartan las de probabilidad cero, ``-inf``):

    1. las que emiten ``eos_id`` y están entre las ``B = beam_width`` mejores pasan
       a la lista de terminadas, que guarda las ``B`` mejores;
    2. siguen vivas las ``B`` mejores que no emiten ``eos_id``;
    3. la búsqueda para cuando hay ``B`` terminadas y ninguna viva las puede
       superar (la puntuación solo baja al alargar), o al llegar a
       ``max_new_tokens``: entonces las ``B`` mejores candidatas del último paso
       cuentan como hipótesis sin terminar.

    Se devuelven las ``B`` mejores hipótesis. Es la búsqueda en haz «canónica»;
    coincide con ``generate(num_beams=B, do_sample=False, length_penalty=0.0,
    early_stopping="never")`` de Hugging Face ``transformers`` (las pruebas lo
    comprueban con un GPT-2 diminuto). Diferencias que quedan: ``transformers`` suma
    en float32 (aquí, en float64); en los empates exactos el orden puede variar; y
    cuando no hay ``B`` hipótesis posibles, ``transformers`` completa el haz con
    hipótesis de puntuación ``-1e9``, mientras que aquí se devuelven menos. Con
    ``B = 1`` y sin ``eos_id`` es la decodificación voraz.

    Parámetros: ``step(prefixes)`` recibe enteros ``(b, T)`` (``b ≤ B`` hipótesis
    vivas) y devuelve log-probabilidades ``(b, V)`` del mismo tipo, ``≤ 0`` y sin
    ``nan``; ``prompt`` enteros ``(T0,)``; ``eos_id`` opcional, en ``[0, V)``.
    Capítulo «Muestreo».

    >>> import numpy as np
    >>> table = np.log(np.array([[0.1, 0.5, 0.4],    # tras el token 0
    ...                          [0.3, 0.36, 0.34],  # tras el token 1
    ...                          [0.1, 0.1, 0.8]]))  # tras el token 2
    >>> step = lambda prefixes: table[prefixes[:, -1]]  # modelo de bigramas
    >>> beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2).sequences.tolist()
    [[0, 1, 1]]
    >>> out = beam_search(step, np.array([0]), beam_width=2, max_new_tokens=2)
    >>> out.sequences.tolist(), np.exp(out.scores).round(3).tolist()
    ([[0, 2, 2], [0, 1, 1]], [0.32, 0.18])
    """
    B = check_int("beam_width", beam_width, min_value=1)
    n_max = check_int("max_new_tokens", max_new_tokens, min_value=1)
    prompt = check_array("prompt", prompt)
    xp = array_namespace(prompt)
    if prompt.ndim != 1 or prompt.shape[0] < 1 or not xp.isdtype(prompt.dtype, "integral"):
        raise ValueError(
            f"`prompt` debe ser un vector de enteros (T0,) con T0 ≥ 1, pero tiene forma "
            f"{describe_shape(prompt.shape)} y tipo {prompt.dtype}"
        )
    if int(xp.min(prompt)) < 0:
        raise ValueError(f"`prompt` debe contener ids ≥ 0, pero contiene {int(xp.min(prompt))}")
    if eos_id is not None:
        eos_id = check_int("eos_id", eos_id, min_value=0)
    T0 = prompt.shape[0]
    beams = xp.astype(prompt, xp.int64)[None, :]  # (b, T0 + t): las hipótesis vivas
    scores = xp.zeros((1,), dtype=xp.float64)  # (b,)
    done: list[tuple[float, Any, bool]] = []  # (puntuación, tokens nuevos, terminó con eos)
    V = None
    for t in range(n_max):
        log_probs = _step_log_probs(step, beams, V)  # (b, V)
        if V is None:
            V = log_probs.shape[1]
            if eos_id is not None and eos_id >= V:
                raise ValueError(
                    f"`eos_id` debe ser un entero ≤ V - 1 = {V - 1}, pero vale {eos_id}"
                )
        flat = xp.reshape(scores[:, None] + log_probs, (-1,))  # (b·V,)
        order = xp.argsort(flat, descending=True, stable=True)  # (b·V,)
        # Sin las imposibles (-inf); con 2B basta: como mucho b ≤ B de ellas emiten eos.
        order = order[: min(int(xp.count_nonzero(flat > -math.inf)), 2 * B)]  # (c,)
        source, token = order // V, order % V  # (c,), (c,)
        candidates = xp.concat([xp.take(beams, source, axis=0), token[:, None]], axis=1)
        cand_scores = xp.take(flat, order)  # (c,)
        ends = token == (-1 if eos_id is None else eos_id)  # (c,)
        last = t == n_max - 1
        # 1. Terminan las que emiten eos entre las B mejores (en el último paso, las B mejores).
        for i in range(min(B, order.shape[0])):
            if last or bool(ends[i]):
                done.append((float(cand_scores[i]), candidates[i, T0:], bool(ends[i])))
        done = sorted(done, key=lambda h: -h[0])[:B]  # orden estable: en empate, la anterior
        if last:
            break
        # 2. Siguen vivas las B mejores que no emiten eos.
        alive = xp.nonzero(~ends)[0][:B]  # (b',)
        if alive.shape[0] == 0:
            break
        beams = xp.take(candidates, alive, axis=0)  # (b', T0 + t + 1)
        scores = xp.take(cand_scores, alive)  # (b',), de mayor a menor
        # 3. Si hay B terminadas y la mejor viva no supera a la peor, ya no hay mejora posible.
        if len(done) == B and float(scores[0]) <= done[-1][0]:
            break
    if not done:
        raise ValueError(
            "`step` no dejó ninguna continuación con probabilidad mayor que cero "
            "(todas sus log-probabilidades son -inf)"
        )
    n = max(h[1].shape[0] for h in done)
    pad = 0 if eos_id is None else eos_id  # solo las terminadas son más cortas que n
    head = xp.astype(prompt, xp.int64)  # (T0,)
    rows = []
    for _, new, _ in done:
        tail = xp.full((n - new.shape[0],), pad, dtype=xp.int64, device=prompt.device)
        rows.append(xp.concat([head, new, tail]))  # (T0 + n,)
    return BeamResult(
        sequences=xp.stack(rows),  # (B', T0 + n)
        scores=xp.asarray([h[0] for h in done], dtype=xp.float64, device=prompt.device),
        finished=xp.asarray([h[2] for h in done], dtype=xp.bool, device=prompt.device),
    )


# ---------------------------------------------------------------------------
# Mejor de N y autoconsistencia
# ---------------------------------------------------------------------------


def best_of_n(candidates: Sequence[Any], scores: Any) -> tuple[Any, int]:
    """Mejor de N: el candidato con la puntuación más alta y su índice.

    ``scores`` tiene forma ``(N,)`` (lista, arreglo o tensor): por ejemplo, la
    log-probabilidad de cada muestra o la nota de un modelo de recompensa. En un
    empate gana el primero. Capítulo «Muestreo».

    >>> best_of_n(["a", "b", "c"], [0.1, 0.7, 0.7])
    ('b', 1)
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

    >>> vote = self_consistency(["4", "5", "4"])
    >>> vote.answer, vote.count, vote.total, round(vote.agreement, 3)
    ('4', 2, 3, 0.667)
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

    >>> import torch
    >>> from libroia.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=5, context=4, d_model=8, n_layers=1, n_heads=2)).eval()
    >>> step = log_prob_step(model)
    >>> lp = step(torch.tensor([[1, 2, 3]]))
    >>> tuple(lp.shape), round(float(lp.exp().sum()), 6)
    ((1, 5), 1.0)
    """
    import torch

    context = model.config.context

    def step(prefixes: Any) -> Any:
        with torch.no_grad():
            logits = model(prefixes[:, -context:])[:, -1]  # (B, V)
        return log_softmax(logits.double(), axis=-1)  # (B, V)

    return step


def continuation_log_probs(model: Any, prompt: Any, continuations: Any) -> Any:
    r"""Log-probabilidad de cada token de varias continuaciones de un mismo prefijo.

    Parámetros: ``prompt`` enteros ``(T0,)``; ``continuations`` enteros ``(N, n)``.
    Devuelve ``(N, n)`` en float64 con :math:`\log P(c_t \mid \text{prompt}, c_{<t})`;
    su suma por filas es la log-probabilidad de cada continuación (la de
    :func:`sequence_log_prob`). Si no cabe todo en el contexto, se recorta el
    principio del prefijo.

    >>> import torch
    >>> from libroia.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=5, context=4, d_model=8, n_layers=1, n_heads=2)).eval()
    >>> tuple(continuation_log_probs(model, [1, 2], [[3, 4], [0, 1], [2, 2]]).shape)
    (3, 2)
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
        logits = model(idx[:, :-1]).double()  # (N, T0' + n - 1, V)
    return token_log_probs(logits[:, -n:], conts)  # (N, n)


def next_token_logits(model: Any, tokenizer: Any, prompt: str) -> Any:
    """Logits ``(V,)`` del token que sigue a ``prompt`` según ``model`` (sin gradiente).

    Si el prompt no cabe en el contexto, el modelo ve sus últimos ``context`` tokens.

    >>> from libroia.gpt import GPT, GPTConfig
    >>> from libroia.tokenizer import BPETokenizer
    >>> tok = BPETokenizer.train("hola mundo " * 20, 260)
    >>> model = GPT(GPTConfig(vocab_size=260, context=8, d_model=8, n_layers=1, n_heads=2))
    >>> tuple(next_token_logits(model, tok, "hola").shape)
    (260,)
    """
    import torch

    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"`prompt` debe ser un texto no vacío, pero es {prompt!r}")
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)  # (1, T)
    with torch.no_grad():
        return model(idx[:, -model.config.context :])[0, -1]  # (V,)


def top_tokens(logits: Any, tokenizer: Any, k: int = 10) -> list[tuple[str, float]]:
    """Los ``k`` tokens más probables de ``logits`` ``(V,)`` con su probabilidad (softmax).

    ``tokenizer`` necesita ``token_str(id)``. En un empate gana el de menor índice.

    >>> import numpy as np
    >>> class Letters:
    ...     def token_str(self, i):
    ...         return "abc"[i]
    >>> top_tokens(np.log(np.array([0.2, 0.5, 0.3])), Letters(), k=2)
    [('b', 0.5), ('c', 0.3)]
    """
    import numpy as np

    k = check_int("k", k, min_value=1)
    z = np.asarray(logits.detach().cpu() if hasattr(logits, "detach") else logits, float)
    if z.ndim != 1:
        raise ValueError(
            f"`logits` debe tener forma (V,), pero tiene forma {describe_shape(z.shape)}"
        )
    p = softmax(z)  # (V,)
    order = np.argsort(-p, kind="stable")[:k]
    return [(tokenizer.token_str(int(i)), round(float(p[i]), 4)) for i in order]
