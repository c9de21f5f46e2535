"""Leyes de escala: ajustar ``L(P) = a·P^(−α) + c`` y medir una en directo.

* :func:`fit_power_law`: ajusta una ley de potencia (con o sin pérdida irreducible
  ``c``) a pérdidas medidas.
* :func:`chinchilla_loss`: la pérdida que predice el ajuste paramétrico
  ``L(P, D) = E + A/P^α + G/D^β`` publicado por Hoffmann et al. (2022), que llaman
  ``B`` a la constante ``G`` (en el libro, ``B`` es el ancho del haz).
* :func:`tiny_gpt_sweep`: entrena (o carga de la caché) varios tamaños del GPT del
  libro con la misma receta y devuelve parámetros, cómputo y pérdidas.

Todo se explica en el capítulo 6, «Escala».
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from libroia._checks import check_array, check_float, describe_shape
from libroia.scaling import DecoderShape, n_params_decoder, training_flops

__all__ = [
    "CHINCHILLA_FIT",
    "KAPLAN_ALPHA_P",
    "PowerLawFit",
    "chinchilla_loss",
    "fit_power_law",
    "power_law",
    "sweep_configs",
    "tiny_gpt_sweep",
]

#: Exponente de la ley ``L(P) = (P_c / P)^α_P`` de Kaplan et al. (2020), ec. (1.1), donde
#: el artículo lo llama ``α_N`` porque escribe ``N`` para los parámetros.
KAPLAN_ALPHA_P = 0.076

#: Ajuste paramétrico ``L(P, D) = E + A/P^α + G/D^β`` de Hoffmann et al. (2022), enfoque 3.
#: El artículo llama ``B`` a ``G``; aquí ``G`` para no chocar con el ancho del haz.
CHINCHILLA_FIT = {"E": 1.69, "A": 406.4, "G": 410.7, "alpha": 0.34, "beta": 0.28}


def _real_array(name: str, x: Any) -> np.ndarray:
    """Escalar, lista o arreglo de números reales como arreglo de ``float64``."""
    return check_array(name, np.asarray(x)).astype(float)


def chinchilla_loss(n_params: Any, n_tokens: Any) -> np.ndarray:
    """Pérdida predicha ``E + A/P^α + G/D^β`` con el ajuste de Hoffmann et al. (2022).

    Usa :data:`CHINCHILLA_FIT` (enfoque 3 del artículo; nats por token en su corpus).
    Acepta escalares o arreglos que se difunden entre sí (*broadcasting*).

    Ejemplo: Chinchilla (70 000 millones de parámetros, 1.4 billones de tokens) frente a
    Gopher (280 000 millones, 300 000 millones de tokens), con un cómputo parecido::

        >>> chinchilla_loss([70e9, 280e9], [1.4e12, 300e9]).round(3)
        array([1.937, 1.993])
    """
    n = _real_array("n_params", n_params)
    t = _real_array("n_tokens", n_tokens)
    if np.any(~(n > 0)):
        raise ValueError(f"`n_params` debe ser > 0, pero contiene {n.min():g}")
    if np.any(~(t > 0)):
        raise ValueError(f"`n_tokens` debe ser > 0, pero contiene {t.min():g}")
    f = CHINCHILLA_FIT
    return f["E"] + f["A"] / n ** f["alpha"] + f["G"] / t ** f["beta"]


class PowerLawFit(NamedTuple):
    """Resultado de :func:`fit_power_law`: ``L(P) = a·P^(−alpha) + c``."""

    a: float
    alpha: float
    c: float


def power_law(n: Any, a: float, alpha: float, c: float = 0.0) -> np.ndarray:
    """Evalúa ``a·n^(−alpha) + c`` (vectorizada sobre ``n``).

    >>> power_law([1.0, 100.0], a=2.0, alpha=0.5, c=1.0)
    array([3. , 1.2])
    """
    a, alpha, c = (check_float(k, v) for k, v in (("a", a), ("alpha", alpha), ("c", c)))
    return a * _real_array("n", n) ** (-alpha) + c


def _log_linear_fit(log_n: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Recta ``log y = log a − α log P`` por mínimos cuadrados: devuelve (log a, α)."""
    slope, intercept = np.polyfit(log_n, np.log(y), 1)
    return float(intercept), float(-slope)


def fit_power_law(n: Any, loss: Any, *, with_offset: bool = True) -> PowerLawFit:
    """Ajusta ``L(P) = a·P^(−α) + c`` a pérdidas medidas (``c`` = pérdida irreducible).

    Parámetros
    ----------
    n : ``(M,)`` tamaños (parámetros), todos > 0; M ≥ 2 sin desplazamiento, ≥ 3 con él.
    loss : ``(M,)`` pérdidas medidas, todas > 0.
    with_offset : si ``False``, fija ``c = 0`` y el ajuste es una recta en ejes
        logarítmicos (``np.polyfit`` sobre ``log P`` y ``log L``).

    Con desplazamiento, se recorre una rejilla de valores de ``c`` en [0, min L),
    se ajusta la recta a ``log(L − c)`` para cada uno, y el mejor punto de partida
    se refina con ``scipy.optimize.curve_fit`` con ``a > 0``, ``α ≥ 0`` y
    ``0 ≤ c ≤ min L``. Se minimiza el error en escala logarítmica,
    Σ_i (log L̂(P_i) − log L_i)², como en el ajuste de Hoffmann et al. (2022): así
    cuenta igual un error del 1 % en la pérdida más grande que en la más pequeña
    (con el error absoluto, las pérdidas pequeñas apenas pesan y se ajustaban peor).

    Si ``loss`` sigue exactamente una ley ``a·P^(−α) + c``, el ajuste la reproduce en
    esos puntos con error relativo ≲ 1e-6; los parámetros pueden diferir cuando la curva
    apenas depende de alguno de ellos (``c`` muy pequeño frente a ``min L``, o ``α``
    casi 0).

    Devuelve un :class:`PowerLawFit` ``(a, alpha, c)``.

    Ejemplo: puntos exactos de 2·P^(−0.5) + 1::

        >>> n = np.array([1e2, 1e3, 1e4, 1e5])
        >>> fit = fit_power_law(n, 2 * n**-0.5 + 1)
        >>> round(fit.a, 6), round(fit.alpha, 6), round(fit.c, 6)
        (2.0, 0.5, 1.0)
    """
    n = _real_array("n", n)
    loss = _real_array("loss", loss)
    if n.ndim != 1 or loss.shape != n.shape:
        raise ValueError(
            f"`n` y `loss` deben ser vectores (M,) de la misma forma, pero tienen formas "
            f"{describe_shape(n.shape)} y {describe_shape(loss.shape)}"
        )
    min_points = 3 if with_offset else 2
    if n.size < min_points:
        raise ValueError(f"`n` debe tener al menos {min_points} puntos, pero tiene {n.size}")
    if not np.all(np.isfinite(n) & (n > 0)):
        raise ValueError(f"`n` debe contener solo valores finitos > 0, pero contiene {n}")
    if not np.all(np.isfinite(loss) & (loss > 0)):
        raise ValueError(f"`loss` debe contener solo valores finitos > 0, pero contiene {loss}")
    log_n = np.log(n)
    if not with_offset:
        log_a, alpha = _log_linear_fit(log_n, loss)
        return PowerLawFit(math.exp(log_a), alpha, 0.0)

    from scipy.optimize import OptimizeWarning, curve_fit

    log_loss = np.log(loss)

    def log_model(x: np.ndarray, log_a: float, alpha: float, c: float) -> np.ndarray:
        """log L̂ = log(a·P^(−α) + c), con x = log P (1e10 donde se desborda)."""
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            out = np.log(np.exp(log_a - alpha * x) + c)
        return np.where(np.isfinite(out), out, 1e10)

    def sse(params: tuple[float, float, float]) -> float:
        return float(np.sum((log_model(log_n, *params) - log_loss) ** 2))

    top = float(loss.min())
    profile = []
    for c in top * np.linspace(0.0, 0.999, 200):  # perfil sobre c: una recta por valor
        log_a, alpha = _log_linear_fit(log_n, loss - c)
        profile.append((log_a, max(alpha, 0.0), float(c)))
    log_a0, alpha0, c0 = min(profile, key=sse)

    start = (log_a0, alpha0, min(c0, top * 0.999))
    try:
        with warnings.catch_warnings():  # no usamos la covarianza: su aviso sobra
            warnings.simplefilter("ignore", OptimizeWarning)
            refined, _ = curve_fit(
                log_model, log_n, log_loss, p0=start, x_scale="jac", max_nfev=2000,
                bounds=([-np.inf, 0.0, 0.0], [np.inf, np.inf, top]),
                xtol=1e-15, ftol=1e-15, gtol=1e-15,
            )  # fmt: skip
        refined = tuple(float(v) for v in refined)
    except RuntimeError:  # sin convergencia: el perfil ya es un buen ajuste
        refined = start
    log_a, alpha, c = min(start, refined, key=sse)
    return PowerLawFit(float(math.exp(log_a)), float(alpha), float(c))


def sweep_configs(sizes: Sequence[tuple[int, int, int]], base: Any = None) -> list[Any]:
    """Configuraciones del GPT del libro que solo cambian de tamaño.

    ``sizes`` es una lista de ``(d_model, n_layers, n_heads)``; todo lo demás
    (vocabulario, contexto, pasos, lote, tasa de aprendizaje, semilla) se copia de
    ``base`` (por defecto ``GPTConfig()``, el modelo del capítulo 5), así que los
    tamaños se comparan con la misma receta y el modelo por defecto sale de la caché.
    """
    from libroia.gpt import GPTConfig

    base = GPTConfig() if base is None else base
    if not isinstance(base, GPTConfig):
        raise TypeError(f"`base` debe ser un GPTConfig, pero es {type(base).__name__}")
    if len(sizes) == 0:
        raise ValueError("`sizes` debe tener al menos un tamaño (d_model, n_layers, n_heads)")
    return [replace(base, d_model=d, n_layers=L, n_heads=h) for d, L, h in sizes]


def tiny_gpt_sweep(
    configs: Sequence[Any], *, text: str | None = None, progress: bool = False
) -> dict[str, Any]:
    """Entrena (o carga de la caché) cada configuración y reúne sus números.

    Devuelve un diccionario de arreglos ``(M,)``, uno por configuración:
    ``n_params`` (todos), ``n_params_non_embedding`` (sin incrustaciones ni cabeza,
    la P del capítulo 6, que Kaplan et al. 2020 llaman N), ``n_tokens`` (tokens
    vistos: pasos × lote × contexto),
    ``compute_flops`` (≈ 6·P·D), ``val_loss`` (pérdida final de validación, nats por
    token), ``best_val_loss`` (la menor medida durante el entrenamiento, como con
    parada temprana), ``train_seconds`` (lo que tardó el entrenamiento cuando se hizo)
    y ``from_cache``; además ``histories``, la lista de historiales de pérdida.
    ``text`` se pasa a :func:`libroia.gpt_train.train_or_load` (por omisión, la prosa del libro).
    """
    from libroia.gpt_train import train_or_load

    if len(configs) == 0:
        raise ValueError("`configs` debe tener al menos una configuración")
    rows = []
    for config in configs:
        result = train_or_load(config, text=text, progress=progress)
        shape = DecoderShape.from_gpt_config(config)
        n_tokens = config.steps * config.batch_size * config.context
        rows.append({
            "n_params": n_params_decoder(shape),
            "n_params_non_embedding": n_params_decoder(shape, include_embeddings=False),
            "n_tokens": n_tokens,
            "compute_flops": training_flops(n_params_decoder(shape), n_tokens),
            "val_loss": result.val_loss,
            "best_val_loss": min(result.history["val_loss"]),
            "train_seconds": result.recorded_train_seconds,
            "from_cache": result.from_cache,
            "history": result.history,
        })
    out = {k: np.array([r[k] for r in rows]) for k in rows[0] if k != "history"}
    out["histories"] = [r["history"] for r in rows]
    return out
