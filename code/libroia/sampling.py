r"""Muestreo: de los logits del modelo al siguiente token.

Un modelo de lenguaje devuelve, para cada posición, un vector de puntuaciones
(*logits*) ``z`` de forma ``(V,)``: una por token del vocabulario. Este módulo
decide qué token escribir a partir de ellas:

* filtros que devuelven logits nuevos, con ``-inf`` en los tokens descartados:
  :func:`apply_temperature`, :func:`top_k_filter`, :func:`top_p_filter`,
  :func:`min_p_filter`;
* :func:`sample` (temperatura → top-k → top-p → min-p → sorteo con un
  generador explícito), :func:`sampler`, :func:`greedy` y :func:`entropy`.

Lo que razona sobre secuencias enteras (búsqueda en haz, log-probabilidad de
una secuencia, mejor de N, autoconsistencia) está en :mod:`libroia.decoding`.

Los filtros están escritos una sola vez sobre el *array API*: aceptan logits de
forma ``(V,)`` o ``(..., V)`` como arreglos de NumPy o tensores de PyTorch,
devuelven el mismo tipo y nunca modifican la entrada. Su semántica es la de los
``LogitsWarper`` de Hugging Face ``transformers`` (``TemperatureLogitsWarper``,
``TopKLogitsWarper``, ``TopPLogitsWarper`` y ``MinPLogitsWarper`` con
``min_tokens_to_keep=1``), con una única diferencia documentada: si varios
tokens empatan en el borde del corte de top-p, aquí se conservan todos (como
hace top-k), en lugar de un subconjunto que depende del orden del algoritmo de
ordenación.

Las probabilidades que hacen falta enteras salen de
:func:`libroia.functional.softmax` y :func:`libroia.functional.log_softmax`;
top-p y min-p solo necesitan cocientes :math:`p_i / p_{\max} = e^{z_i - \max z}`,
que calculan sin normalizar.

Capítulo: «Muestreo» (``book/09_muestreo.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from libroia._checks import (
    array_namespace,
    check_array,
    check_float,
    check_int,
    check_probability,
    describe_shape,
    is_torch,
)
from libroia.functional import log_softmax

__all__ = [
    "apply_temperature",
    "entropy",
    "greedy",
    "min_p_filter",
    "sample",
    "sampler",
    "top_k_filter",
    "top_p_filter",
]

# Top-p prueba primero con los _FAST_K tokens más probables de cada fila; solo si
# en alguna fila no bastan para reunir la masa p ordena la fila entera.
_FAST_K = 1024


# ---------------------------------------------------------------------------
# Comprobaciones y utilidades privadas
# ---------------------------------------------------------------------------


def _prepare(logits: Any, name: str = "logits") -> tuple[Any, Any, Any]:
    """Valida ``logits`` y devuelve ``(x, xp, m)`` con ``m`` el máximo por fila ``(..., 1)``.

    Se aceptan ``-inf`` (tokens ya descartados por otro filtro), pero no ``nan``,
    ni ``+inf``, ni una fila entera de ``-inf``. Los enteros se convierten a reales.
    Una sola pasada (el máximo) detecta los tres casos, porque ``max`` propaga ``nan``.
    """
    x = check_array(name, logits)
    xp = array_namespace(x)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"`{name}` debe tener forma (V,) o (..., V) con V ≥ 1, "
            f"pero tiene forma {describe_shape(x.shape)}"
        )
    if not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, xp.float64)
    m = xp.max(x, axis=-1, keepdims=True)  # (..., 1)
    if bool(xp.any(xp.isnan(m))):
        raise ValueError(f"`{name}` contiene valores nan")
    if bool(xp.any(m == math.inf)):
        raise ValueError(f"`{name}` contiene +inf; usa -inf para descartar un token")
    if bool(xp.any(m == -math.inf)):
        raise ValueError(
            f"cada fila de `{name}` necesita al menos un valor finito, "
            "pero alguna fila es toda -inf"
        )
    return x, xp, m


def _largest(x: Any, k: int) -> Any:
    """Los ``k`` valores mayores de cada fila, en orden descendente: forma ``(..., k)``.

    El *array API* no tiene todavía ``topk``; este es el único punto del módulo
    que distingue NumPy de PyTorch.

    >>> _largest(np.array([1.0, 3.0, 2.0]), 2).tolist()
    [3.0, 2.0]
    """
    V = x.shape[-1]
    if is_torch(x):
        import torch

        if k < V:
            return torch.topk(x, k, dim=-1).values  # (..., k)
        if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
            # torch.sort calcula siempre también los índices (casi el doble de
            # trabajo); aquí solo hacen falta los valores, y NumPy los ordena sin ellos.
            return torch.from_numpy(-np.sort(-x.detach().numpy(), axis=-1))  # (..., V)
        return torch.sort(x, dim=-1, descending=True).values  # (..., V)
    if k < V:
        part = -np.partition(-x, k - 1, axis=-1)[..., :k]  # (..., k), sin ordenar
        return -np.sort(-part, axis=-1)  # (..., k)
    return -np.sort(-x, axis=-1)  # (..., V)


def _masked(x: Any, xp: Any, keep: Any) -> Any:
    """Copia de ``x`` con ``-inf`` donde ``keep`` es falso."""
    return xp.where(keep, x, -math.inf)


def _check_temperature(temperature: Any, *, allow_zero: bool) -> float:
    t = check_float("temperature", temperature)
    if t < 0:
        raise ValueError(f"`temperature` debe ser ≥ 0, pero vale {t:g}")
    if t == 0 and not allow_zero:
        raise ValueError(
            "`temperature` debe ser > 0 para dividir los logits, pero vale 0; "
            "para decodificación voraz usa `greedy(logits)` o `sample(logits, temperature=0)`"
        )
    return t


# ---------------------------------------------------------------------------
# Filtros
# ---------------------------------------------------------------------------


def apply_temperature(logits: Any, temperature: float) -> Any:
    r"""Divide los logits entre la temperatura ``T``.

    .. math:: p_i(T) = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}

    ``T < 1`` afila la distribución (más voraz), ``T > 1`` la aplana.

    Parámetros: ``logits`` de forma ``(V,)`` o ``(..., V)``; ``temperature`` real
    ``> 0`` (``1`` entero vale). Devuelve logits de la misma forma y tipo.

    Si ``T`` es tan pequeña que ``z / T`` desborda a ``+inf``, se divide ``z - max(z)``
    (la misma distribución). Capítulo «Muestreo».

    >>> apply_temperature(np.array([2.0, 1.0]), 0.5).tolist()
    [4.0, 2.0]
    """
    t = _check_temperature(temperature, allow_zero=False)
    x, xp, m = _prepare(logits)
    if bool(xp.any(xp.abs(m) > float(xp.finfo(x.dtype).max) * t)):  # z / T desbordaría
        with np.errstate(over="ignore"):  # los muy negativos pasan a -inf: descartados
            return (x - m) / t  # (..., V)
    return x / t  # (..., V)


def top_k_filter(logits: Any, k: int) -> Any:
    """Conserva los ``k`` tokens de logit más alto y pone ``-inf`` en el resto.

    Los empates con el ``k``-ésimo valor se conservan (como ``TopKLogitsWarper``):
    pueden sobrevivir más de ``k`` tokens. Si ``k ≥ V`` no se descarta nada.

    Capítulo «Muestreo».

    >>> top_k_filter(np.array([1.0, 3.0, 2.0, 3.0]), 2).tolist()
    [-inf, 3.0, -inf, 3.0]
    >>> top_k_filter(np.array([1.0, 3.0, 2.0, 3.0]), 1).tolist()  # empate: sobreviven los dos
    [-inf, 3.0, -inf, 3.0]
    """
    k = check_int("k", k, min_value=1)
    x, xp, _ = _prepare(logits)
    k = min(k, x.shape[-1])
    threshold = _largest(x, k)[..., -1:]  # (..., 1)
    return _masked(x, xp, x >= threshold)


def top_p_filter(logits: Any, p: float) -> Any:
    r"""Muestreo de núcleo (*nucleus sampling*): el conjunto mínimo de tokens con masa ≥ ``p``.

    Se ordenan los tokens de más a menos probable y se conservan mientras la
    probabilidad acumulada de los anteriores sea menor que ``p``:

    .. math:: \text{se conserva } i \iff \sum_{j:\, z_j > z_i} p_j < p

    Siempre sobrevive al menos el token más probable; ``p = 1`` solo descarta
    tokens de probabilidad cero. Los empates con el último token conservado se
    conservan todos. En el borde exacto, cuando los tokens conservados suman
    justo ``p``, el siguiente ya no entra (su condición es ``< p``, no ``≤ p``).
    Capítulo «Muestreo» (Holtzman et al., 2020).

    Con probabilidades ``[0.5, 0.3, 0.15, 0.05]`` y ``p = 0.7`` sobreviven los dos
    primeros (0.5 < 0.7 y 0.5 + 0.3 ≥ 0.7):

    >>> np.isfinite(top_p_filter(np.log(np.array([0.5, 0.3, 0.15, 0.05])), 0.7)).tolist()
    [True, True, False, False]

    Con ``[0.5, 0.25, 0.125, 0.125]`` y ``p = 0.75`` los dos primeros suman justo
    0.75: los dos de 0.125 (empatados) quedan fuera.

    >>> np.isfinite(top_p_filter(np.log(np.array([0.5, 0.25, 0.125, 0.125])), 0.75)).tolist()
    [True, True, False, False]
    """
    p = check_probability("p", p)
    x, xp, m = _prepare(logits)
    V = x.shape[-1]
    e = xp.exp(x - m)  # (..., V), probabilidades sin normalizar; el máximo vale 1
    target = p * xp.sum(e, axis=-1, keepdims=True, dtype=xp.float64)  # (..., 1)
    k = min(_FAST_K, V)
    # Cada e_i ≤ 1, así que k tokens reúnen como mucho una masa k: si alguna fila
    # necesita más, el intento corto no puede bastar y se ordena ya la fila entera.
    if bool(xp.any(target > k)):
        k = V
    while True:
        top = _largest(x, k)  # (..., k), descendente
        e_top = xp.exp(top - m)  # (..., k)
        mass = xp.cumulative_sum(e_top, axis=-1, dtype=xp.float64)  # (..., k), acumulada
        short = xp.count_nonzero(mass < target, axis=-1, keepdims=True)  # (..., 1)
        positive = xp.count_nonzero(e_top > 0, axis=-1, keepdims=True)  # (..., 1), ≥ 1
        if k == V or bool(xp.all((short < k) | (positive < k))):
            break
        k = V  # alguna fila necesita más de _FAST_K tokens: ordenar entera
    # `short` tokens no alcanzan aún la masa p; el siguiente sí: es el último que se queda.
    # Nunca se llega a los de probabilidad cero (con p = 1, el redondeo podría arrastrarlos).
    last = xp.minimum(short, positive - 1)  # (..., 1)
    threshold = xp.take_along_axis(top, last, axis=-1)  # (..., 1)
    return _masked(x, xp, x >= threshold)


def min_p_filter(logits: Any, p: float) -> Any:
    r"""Conserva los tokens cuya probabilidad es al menos ``p`` por la del más probable.

    .. math:: \text{se conserva } i \iff p_i \ge p \cdot \max_j p_j
              \iff z_i \ge \max_j z_j + \ln p

    El corte se adapta a la confianza del modelo: si el favorito es muy probable
    descarta casi todo; si la distribución es plana, conserva muchos tokens.

    Capítulo «Muestreo» (Nguyen et al., 2024). Con probabilidades
    ``[0.5, 0.3, 0.15, 0.05]`` y ``p = 0.2`` el umbral es 0.1 y sobreviven los tres
    primeros:

    >>> np.isfinite(min_p_filter(np.log(np.array([0.5, 0.3, 0.15, 0.05])), 0.2)).tolist()
    [True, True, True, False]
    """
    p = check_probability("p", p)
    x, xp, m = _prepare(logits)
    return _masked(x, xp, xp.exp(x - m) >= p)  # p_i / p_max = e^{z_i - max z}


# ---------------------------------------------------------------------------
# Decodificación de un paso
# ---------------------------------------------------------------------------


def greedy(logits: Any) -> Any:
    """Decodificación voraz: el índice del logit máximo de cada fila.

    ``logits`` ``(..., V)`` → índices enteros ``(...)`` del mismo tipo (NumPy o
    PyTorch); en un empate gana el primero.

    >>> int(greedy(np.array([0.1, 2.0, 2.0])))
    1
    >>> greedy(np.array([[0.0, 1.0], [3.0, 2.0]])).tolist()
    [1, 0]
    """
    x, xp, _ = _prepare(logits)
    return xp.argmax(x, axis=-1)  # (...)


def _check_generator(x: Any, generator: Any) -> Any:
    kind = f"{type(generator).__module__}.{type(generator).__qualname__}"
    if is_torch(x):
        import torch

        if generator is None:
            return None
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                "`generator` debe ser un torch.Generator para logits de PyTorch, "
                f"pero es de tipo {kind}"
            )
        return generator
    if generator is None:
        return np.random.default_rng()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            "`generator` debe ser un numpy.random.Generator (np.random.default_rng(semilla)) "
            f"para logits de NumPy, pero es de tipo {kind}"
        )
    return generator


def _uniform(x: Any, generator: Any) -> Any:
    """Números uniformes en [0, 1) con la forma de ``x``, en float64."""
    if is_torch(x):
        import torch

        return torch.rand(x.shape, generator=generator, dtype=torch.float64, device=x.device)
    return generator.random(x.shape)


def _check_options(temperature, top_k, top_p, min_p) -> dict[str, Any]:
    return {
        "temperature": _check_temperature(temperature, allow_zero=True),
        "top_k": None if top_k is None else check_int("top_k", top_k, min_value=1),
        "top_p": None if top_p is None else check_probability("top_p", top_p),
        "min_p": None if min_p is None else check_probability("min_p", min_p),
    }


def sample(
    logits: Any,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: Any = None,
) -> Any:
    r"""Sortea un token por fila: temperatura → top-k → top-p → min-p → sorteo.

    Parámetros: ``logits`` ``(V,)`` o ``(..., V)``; ``temperature ≥ 0`` (``0`` =
    voraz, sin azar); ``top_k``, ``top_p``, ``min_p`` opcionales; ``generator``:
    un ``numpy.random.Generator`` para NumPy o un ``torch.Generator`` para PyTorch,
    con semilla fija para que el resultado sea reproducible (si es ``None`` se usa
    uno sin semilla). Devuelve índices ``(...)`` del mismo tipo que ``logits``.

    El sorteo usa el truco de Gumbel-max: si :math:`g_i` son independientes con
    distribución de Gumbel, :math:`\arg\max_i (z_i + g_i)` sigue exactamente
    :math:`\mathrm{softmax}(z)`: es girar la ruleta de una vez para toda la fila.

    Capítulo «Muestreo».

    >>> logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    >>> sample(logits, top_k=1, generator=np.random.default_rng(0)).tolist()  # solo queda 1
    [0, 2]
    >>> draws = sample(np.tile(logits[0], (10_000, 1)), generator=np.random.default_rng(0))
    >>> bool(abs((draws == 0).mean() - 0.7) < 0.02)  # sale el 0 un 70 % de las veces
    True
    """
    opts = _check_options(temperature, top_k, top_p, min_p)
    x, xp, _ = _prepare(logits)
    generator = _check_generator(x, generator)
    if opts["temperature"] == 0:
        return xp.argmax(x, axis=-1)  # (...)
    z = apply_temperature(x, opts["temperature"])
    if opts["top_k"] is not None:
        z = top_k_filter(z, opts["top_k"])
    if opts["top_p"] is not None:
        z = top_p_filter(z, opts["top_p"])
    if opts["min_p"] is not None:
        z = min_p_filter(z, opts["min_p"])
    gumbel = -xp.log(-xp.log(_uniform(z, generator)))  # (..., V), float64
    return xp.argmax(xp.astype(z, xp.float64) + gumbel, axis=-1)  # (...)


def sampler(
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: Any = None,
) -> Callable[[Any], Any]:
    """Devuelve una función ``logits (N, V) -> ids (N,)`` que llama a :func:`sample`.

    Valida las opciones al crearla, no en cada paso. Sirve como ``next_token`` de
    ``GPT.generate``: ``model.generate(idx, 20, next_token=sampler(top_p=0.9,
    generator=torch.Generator().manual_seed(0)))``.

    >>> import torch
    >>> pick = sampler(top_k=1, generator=torch.Generator().manual_seed(0))
    >>> pick(torch.tensor([[0.0, 3.0, 1.0], [5.0, 0.0, 1.0]])).tolist()
    [1, 0]
    """
    opts = _check_options(temperature, top_k, top_p, min_p)

    def next_token(logits: Any) -> Any:
        return sample(logits, generator=generator, **opts)

    return next_token


def entropy(logits: Any, *, base: float = 2.0) -> Any:
    r"""Entropía de softmax(logits) por fila, en bits (``base=2``) o nats (``base=e``).

    .. math:: H = -\sum_i p_i \log p_i

    Los tokens con ``-inf`` no aportan. Cuatro logits iguales dan 2 bits:

    >>> float(entropy(np.zeros(4)))
    2.0
    >>> float(entropy(np.array([0.0, -np.inf]))) == 0  # un solo token posible: ninguna duda
    True
    """
    base = check_float("base", base, min_value=1.0, min_inclusive=False)
    x, xp, _ = _prepare(logits)
    log_p = log_softmax(xp.astype(x, xp.float64), axis=-1)  # (..., V)
    terms = xp.exp(log_p) * xp.where(xp.isinf(log_p), 0.0, log_p)  # 0 · log 0 = 0
    return -xp.sum(terms, axis=-1) / math.log(base)  # (...)
