r"""Decodificación especulativa: un modelo pequeño propone y el grande verifica.

Generar es lento porque cada token necesita una pasada entera del modelo grande
(el *objetivo*, *target*). La decodificación especulativa (Leviathan, Kalman y
Matias, 2023; Chen et al., 2023) deja que un modelo pequeño y barato (el
*borrador*, *draft*) proponga ``γ`` tokens seguidos, y que el objetivo los
compruebe todos en **una sola pasada**. Cada propuesta ``x`` se acepta con
probabilidad

.. math:: \min\left(1, \frac{p(x)}{q(x)}\right)

(``p`` la distribución del objetivo, ``q`` la del borrador). En el primer
rechazo, el token se sortea de la distribución residual

.. math:: p'(x) = \frac{\max(0,\, p(x) - q(x))}{\sum_y \max(0,\, p(y) - q(y))}

y, si se aceptan las ``γ`` propuestas, se sortea un token más de la última fila
del objetivo. El resultado sigue **exactamente** la distribución del objetivo,
por malo que sea el borrador: el borrador solo decide cuántos tokens salen por
cada pasada del objetivo.

Interfaz genérica: una *función de probabilidades* ``f(ids)`` recibe los ids
``(T,)`` de una secuencia y devuelve ``(T, V)``: la fila ``t`` es la distribución
del token que sigue a ``ids[:t+1]``. Es lo que da un modelo causal en una pasada;
:func:`model_probs` la construye a partir del GPT del libro.

* :func:`verify_draft`: aceptar o rechazar las propuestas de un paso.
* :func:`speculative_sample` y :func:`autoregressive_sample` (el muestreo normal,
  para comparar).
* :func:`acceptance_rate`, :func:`expected_tokens_per_step`,
  :func:`expected_speedup`: las fórmulas de Leviathan et al. (2023).

Capítulo 11, «Servir el modelo».
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from libroia._checks import check_float, check_int, check_token_ids, describe_shape
from libroia.functional import softmax
from libroia.sampling import apply_temperature, greedy, sample

__all__ = [
    "ProbFn",
    "SpeculativeResult",
    "acceptance_rate",
    "autoregressive_sample",
    "expected_speedup",
    "expected_tokens_per_step",
    "model_probs",
    "speculative_sample",
    "verify_draft",
]

#: ``f(ids (T,)) -> probabilidades (T, V)``: fila ``t`` = siguiente token tras ``ids[:t+1]``.
ProbFn = Callable[[Sequence[int]], torch.Tensor]


def _check_probs(name: str, p: Any, rows: int | None = None) -> torch.Tensor:
    """Exige un tensor de probabilidades ``(filas, V)`` de PyTorch, sin negativos."""
    if not isinstance(p, torch.Tensor) or not p.is_floating_point():
        kind = p.dtype if isinstance(p, torch.Tensor) else type(p).__name__
        raise TypeError(f"`{name}` debe ser un tensor de PyTorch de números reales, pero es {kind}")
    if p.ndim != 2 or p.shape[1] < 1 or (rows is not None and p.shape[0] != rows):
        expected = f"({rows}, V)" if rows is not None else "(filas, V)"
        raise ValueError(
            f"`{name}` debe tener forma {expected}, pero tiene forma {describe_shape(p.shape)}"
        )
    if bool((p < 0).any()) or not bool(torch.isfinite(p).all()):
        raise ValueError(f"`{name}` debe contener probabilidades finitas y ≥ 0")
    return p


def _draw(p: torch.Tensor, generator: torch.Generator | None) -> int:
    """Sortea un índice con probabilidades ``p`` ``(V,)`` (vía :func:`libroia.sampling.sample`)."""
    with torch.no_grad():
        return int(sample(torch.log(p), generator=generator))


def acceptance_rate(p: Any, q: Any) -> torch.Tensor:
    r"""Probabilidad de aceptar una propuesta del borrador: :math:`\beta = \sum_x \min(p(x), q(x))`.

    Parámetros: ``p`` (objetivo) y ``q`` (borrador), probabilidades ``(..., V)``.
    Devuelve ``(...)``. Es ``1 − TV(p, q)``, uno menos la distancia de variación
    total: vale 1 si las distribuciones coinciden y 0 si no comparten ningún token
    (Leviathan et al. 2023; su media es la ``α`` del capítulo 11).

    >>> acceptance_rate(torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.25, 0.25, 0.5]))
    tensor(0.5000)
    """
    for name, x in (("p", p), ("q", q)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"`{name}` debe ser un tensor de PyTorch, pero es {type(x).__name__}")
    if p.shape != q.shape or p.ndim < 1:
        raise ValueError(
            f"`p` y `q` deben tener la misma forma (..., V), pero tienen formas "
            f"{describe_shape(p.shape)} y {describe_shape(q.shape)}"
        )
    return torch.minimum(p, q).sum(dim=-1)  # (...)


def _check_alpha(alpha: Any) -> float:
    return check_float("alpha", alpha, min_value=0.0, max_value=1.0)


def expected_tokens_per_step(alpha: float, gamma: int) -> float:
    r"""Tokens que produce de media cada pasada del objetivo con ``γ`` propuestas.

    .. math:: \mathbb{E}[\text{tokens}] = \frac{1 - \alpha^{\gamma + 1}}{1 - \alpha}

    (Leviathan et al. 2023), suponiendo que cada propuesta se acepta con
    la misma probabilidad ``α``, independientemente. Con ``α = 1`` vale ``γ + 1``.

    >>> expected_tokens_per_step(0.5, 3)
    1.875
    """
    alpha, gamma = _check_alpha(alpha), check_int("gamma", gamma, min_value=0)
    if alpha == 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def expected_speedup(alpha: float, gamma: int, cost_ratio: float) -> float:
    r"""Aceleración esperada frente al muestreo normal (Leviathan et al. 2023).

    .. math:: S = \frac{1 - \alpha^{\gamma + 1}}{(1 - \alpha)(\gamma c + 1)}

    ``cost_ratio`` es ``c``: lo que cuesta una pasada del borrador dividido entre lo
    que cuesta una del objetivo. Se supone que verificar ``γ + 1`` tokens cuesta lo
    mismo que generar uno, lo que es casi cierto cuando la pasada está limitada por
    la memoria.

    >>> round(expected_speedup(0.8, 4, 0.05), 3)
    2.801
    """
    c = check_float("cost_ratio", cost_ratio, min_value=0.0)
    gamma = check_int("gamma", gamma, min_value=0)
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1.0)


def verify_draft(
    draft_ids: Sequence[int],
    q: torch.Tensor,
    p: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
) -> tuple[list[int], int]:
    r"""Acepta o rechaza las ``γ`` propuestas de un paso y devuelve los tokens que salen.

    Parámetros
    ----------
    draft_ids : los ``γ`` tokens propuestos por el borrador.
    q : ``(γ, V)``, las distribuciones del borrador con las que se sortearon.
    p : ``(γ + 1, V)``, las del objetivo en las mismas posiciones y una más.
    generator : ``torch.Generator`` con semilla, para repetir el resultado.

    Devuelve ``(tokens, n)``: ``n`` propuestas aceptadas (las primeras) y los
    ``n + 1`` tokens que se añaden: las aceptadas más uno sorteado de la residual
    :math:`\max(0, p - q)` normalizada (si hubo rechazo) o de ``p[γ]`` (si no).

    Primero se sortean los ``γ`` números uniformes y se acepta ``x_j`` si
    :math:`u_j < p_j(x_j) / q_j(x_j)`, como en el algoritmo 1 de Leviathan et al.
    (2023) y en ``_speculative_sampling`` de Hugging Face ``transformers``.

    >>> q = torch.tensor([[0.5, 0.5]])
    >>> p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> verify_draft([1], q, p)  # p(1) = 0: se rechaza y la residual solo deja el 0
    ([0], 0)
    """
    gamma = len(draft_ids)
    ids = check_token_ids("draft_ids", draft_ids)
    q = _check_probs("q", q, rows=gamma) if gamma else q
    p = _check_probs("p", p, rows=gamma + 1)
    if gamma and q.shape[1] != p.shape[1]:
        raise ValueError(
            f"`q` y `p` deben tener el mismo vocabulario V, pero tienen {q.shape[1]} y {p.shape[1]}"
        )
    if ids and max(ids) >= p.shape[1]:
        raise ValueError(
            f"`draft_ids` debe contener ids < V = {p.shape[1]}, pero llega a {max(ids)}"
        )
    if gamma == 0:
        return [_draw(p[0], generator)], 0
    rows = torch.arange(gamma)
    chosen = torch.tensor(ids)
    ratio = p[rows, chosen] / q[rows, chosen]  # (γ,), p_j(x_j) / q_j(x_j)
    u = torch.rand(gamma, generator=generator, dtype=p.dtype)  # (γ,)
    rejected = (u >= ratio).nonzero()
    n = int(rejected[0, 0]) if len(rejected) else gamma
    if n == gamma:
        return [*ids, _draw(p[gamma], generator)], gamma
    residual = torch.clamp(p[n] - q[n], min=0.0)  # (V,)
    if float(residual.sum()) <= 0.0:  # p = q salvo redondeo: la residual no existe
        residual = p[n]
    return [*ids[:n], _draw(residual / residual.sum(), generator)], n


@dataclass
class SpeculativeResult:
    """Lo que devuelve :func:`speculative_sample`.

    ``tokens`` (los nuevos, sin el prompt), ``accepted[i]`` y ``drafted[i]``
    (propuestas aceptadas y hechas en el paso ``i``), ``target_calls`` y
    ``draft_calls`` (pasadas de cada modelo) y ``target_seconds``, ``draft_seconds``
    (tiempo medido dentro de cada modelo).
    """

    tokens: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    drafted: list[int] = field(default_factory=list)
    target_calls: int = 0
    draft_calls: int = 0
    target_seconds: float = 0.0
    draft_seconds: float = 0.0

    @property
    def acceptance(self) -> float:
        """Fracción de las propuestas que acabaron en la salida (``nan`` si no hubo ninguna).

        Tras un rechazo, las propuestas siguientes de ese paso se tiran sin mirarlas.
        """
        total = sum(self.drafted)
        return sum(self.accepted) / total if total else math.nan

    @property
    def alpha(self) -> float:
        """Estimación de ``α``: fracción de aceptadas entre las propuestas que se examinaron
        (las aceptadas más el primer rechazo de cada paso)."""
        examined = sum(n + (n < g) for n, g in zip(self.accepted, self.drafted, strict=True))
        return sum(self.accepted) / examined if examined else math.nan

    @property
    def tokens_per_target_call(self) -> float:
        """Tokens generados por cada pasada del objetivo (1 en el muestreo normal)."""
        return len(self.tokens) / self.target_calls if self.target_calls else math.nan


def _check_prompt(prompt: Any, max_new_tokens: Any) -> tuple[list[int], int]:
    ids = check_token_ids("prompt", prompt)
    if not ids:
        raise ValueError("`prompt` debe tener al menos un token para condicionar la generación")
    return ids, check_int("max_new_tokens", max_new_tokens, min_value=0)


def _call(fn: ProbFn, name: str, ids: list[int], rows: int) -> torch.Tensor:
    """Llama a una función de probabilidades y devuelve sus últimas ``rows`` filas."""
    out = fn(ids)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(ids):
        shape = describe_shape(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"`{name}` debe devolver un tensor ({len(ids)}, V) para {len(ids)} tokens, "
            f"pero devolvió {shape}"
        )
    return out[-rows:]


def autoregressive_sample(
    target: ProbFn,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    generator: torch.Generator | None = None,
) -> SpeculativeResult:
    """El muestreo normal: una pasada de ``target`` por token. Sirve de referencia.

    Devuelve un :class:`SpeculativeResult` sin propuestas (``target_calls`` =
    ``max_new_tokens``), para comparar tiempos con :func:`speculative_sample`.

    >>> uniform = lambda ids: torch.full((len(ids), 4), 0.25)
    >>> len(autoregressive_sample(uniform, [0], 5).tokens)
    5
    """
    ids, max_new_tokens = _check_prompt(prompt, max_new_tokens)
    result = SpeculativeResult()
    for _ in range(max_new_tokens):
        start = time.perf_counter()
        p = _call(target, "target", ids, 1)[0]  # (V,)
        result.target_seconds += time.perf_counter() - start
        result.target_calls += 1
        token = _draw(p, generator)
        ids.append(token)
        result.tokens.append(token)
    return result


def speculative_sample(
    target: ProbFn,
    draft: ProbFn,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    gamma: int = 4,
    generator: torch.Generator | None = None,
) -> SpeculativeResult:
    r"""Genera ``max_new_tokens`` tokens con decodificación especulativa.

    En cada paso, ``draft`` propone ``γ`` tokens de uno en uno (``γ`` pasadas
    baratas), ``target`` calcula en una sola pasada sus distribuciones en esas
    ``γ + 1`` posiciones y :func:`verify_draft` decide cuántas propuestas se
    quedan. Cada paso añade entre 1 y ``γ + 1`` tokens; en el último, ``γ`` se
    recorta para no pasarse de ``max_new_tokens``.

    Los tokens siguen exactamente la distribución de ``target`` (Leviathan et al.
    2023; Chen et al. 2023): las pruebas lo comprueban con una prueba χ² frente a
    :func:`autoregressive_sample`.

    >>> target = lambda ids: torch.tensor([[0.1, 0.9]]).repeat(len(ids), 1)
    >>> draft = lambda ids: torch.tensor([[0.5, 0.5]]).repeat(len(ids), 1)
    >>> out = speculative_sample(target, draft, [0], 6, gamma=2,
    ...                          generator=torch.Generator().manual_seed(0))
    >>> len(out.tokens), out.target_calls <= 6
    (6, True)
    """
    ids, max_new_tokens = _check_prompt(prompt, max_new_tokens)
    gamma = check_int("gamma", gamma, min_value=0)
    result = SpeculativeResult()
    while len(result.tokens) < max_new_tokens:
        g = min(gamma, max_new_tokens - len(result.tokens) - 1)
        proposal, q_rows = [], []
        start = time.perf_counter()
        for _ in range(g):
            q = _call(draft, "draft", ids + proposal, 1)[0]  # (V,)
            q_rows.append(q)
            proposal.append(_draw(q, generator))
        result.draft_seconds += time.perf_counter() - start
        result.draft_calls += g
        start = time.perf_counter()
        p = _call(target, "target", ids + proposal, g + 1)  # (g + 1, V)
        result.target_seconds += time.perf_counter() - start
        result.target_calls += 1
        q = torch.stack(q_rows).to(p.dtype) if g else p[:0]  # (g, V)
        new, n = verify_draft(proposal, q, p, generator=generator)
        ids += new
        result.tokens += new
        result.accepted.append(n)
        result.drafted.append(g)
    return result


def _to_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits ``(T, V)`` → probabilidades ``(T, V)`` en float64; ``τ = 0`` da la voraz."""
    logits = logits.double()
    if temperature == 0:
        return torch.nn.functional.one_hot(greedy(logits), logits.shape[-1]).double()
    return softmax(apply_temperature(logits, temperature))  # (T, V)


def model_probs(model: Any, *, temperature: float = 1.0) -> ProbFn:
    """Función de probabilidades a partir de un GPT del libro: una pasada por llamada.

    ``model(idx (1, T))`` debe devolver logits ``(1, T, V)`` y tener
    ``model.config.context``. Devuelve ``f(ids) -> (T, V)`` en float64: la softmax de
    los logits divididos entre la temperatura ``τ`` (con ``τ = 0``, la distribución
    que pone toda la probabilidad en el favorito: decodificación voraz). La
    secuencia debe caber en el contexto: así cada fila ve todo su pasado, como en
    :meth:`GPT.generate` mientras no se llena la ventana.
    """
    temperature = check_float("temperature", temperature, min_value=0.0)
    context = model.config.context

    def probs(ids: Sequence[int]) -> torch.Tensor:
        if len(ids) > context:
            raise ValueError(
                f"la secuencia tiene {len(ids)} tokens y el contexto del modelo es de "
                f"{context}: reduce el prompt o `max_new_tokens`"
            )
        idx = torch.tensor([list(ids)], dtype=torch.long)  # (1, T)
        with torch.no_grad():
            return _to_probs(model(idx)[0], temperature)  # (T, V)

    return probs
