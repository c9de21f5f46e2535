"""Descenso por gradiente, su versión estocástica y estrategias evolutivas, desde cero.

Los optimizadores trabajan sobre cualquier problema con la interfaz de
:mod:`libroia.regression` (``loss(θ)`` vectorizada sobre varias θ,
``loss_and_grad(θ, idx)`` y ``n_params``) y devuelven una historia para dibujar:

* :func:`gradient_descent`: θ ← θ − η ∇L(θ), con todos los datos o, con
  ``batch_size``, con un minilote al azar en cada paso (descenso estocástico).
* :func:`evolution_strategies`: estima el gradiente solo con valores de L en
  puntos perturbados por parejas antitéticas θ ± ε; con ``surrogate`` inclina el
  muestreo hacia un gradiente aproximado (Maheswaranathan et al., 2019).

:func:`evals_to_reach` y :func:`compare_methods` cuentan las evaluaciones que
gasta cada método hasta una pérdida objetivo.

Todo se explica en el capítulo 1, «Aprender una función».
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from libroia._checks import check_choice, check_float, check_int
from libroia.regression import CurveFit, FourierFit, _vector

__all__ = [
    "History",
    "compare_methods",
    "evals_to_reach",
    "evolution_strategies",
    "gradient_descent",
    "minibatch_surrogate",
]


@dataclass
class History:
    """Trayectoria de un optimizador, un elemento por paso (más el punto de partida).

    ``loss`` ``(S+1,)``: pérdida con todos los datos (medida para dibujar, no
    contada como gasto). ``theta`` ``(S+1, P)``. ``loss_evals`` y ``grad_evals``
    ``(S+1,)``: evaluaciones acumuladas que el algoritmo gastó, contadas en
    pasadas por todos los datos (un minilote de B de N ejemplos cuenta B/N).
    ``diverged``: la pérdida se hizo no finita o mayor que 10⁶ y se paró.
    """

    loss: np.ndarray
    theta: np.ndarray
    loss_evals: np.ndarray
    grad_evals: np.ndarray
    diverged: bool = False


def _finish(problem, thetas, loss_evals, grad_evals) -> History:
    theta = np.array(thetas)  # (S+1, P)
    loss = problem.loss(theta)  # (S+1,)
    bad = ~np.isfinite(loss) | (loss > 1e6)
    diverged = bool(bad.any())
    if diverged:  # lo que viene después de divergir se marca como nan
        loss[np.argmax(bad) :] = np.nan
    return History(loss, theta, np.array(loss_evals, float), np.array(grad_evals, float), diverged)


def gradient_descent(
    problem: FourierFit | CurveFit,
    theta0: np.ndarray,
    *,
    lr: float,
    steps: int,
    batch_size: int | None = None,
    seed: int = 0,
) -> History:
    """Descenso por gradiente θ ← θ − η ∇L(θ), con todos los datos o por minilotes.

    Parámetros
    ----------
    problem : el ajuste de curva.
    theta0 : punto de partida ``(P,)``.
    lr : tasa de aprendizaje η > 0.
    steps : número de pasos.
    batch_size : ``None`` para usar los N ejemplos en cada paso; un entero B ≤ N
        para el descenso estocástico con B ejemplos elegidos al azar en cada paso.
    seed : semilla de los minilotes.

    Devuelve un :class:`History`; si la pérdida diverge se para antes.
    """
    theta = _vector("theta0", theta0, problem.n_params)
    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    steps = check_int("steps", steps, min_value=1)
    N = problem.x.shape[0]
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, min_value=1, max_value=N)
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))
    thetas, grad_evals = [theta], [0.0]
    for _ in range(steps):
        idx = None if batch_size is None else rng.choice(N, size=batch_size, replace=False)
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = problem.loss_and_grad(theta, idx)
            theta = theta - lr * grad
        thetas.append(theta)
        grad_evals.append(grad_evals[-1] + (1.0 if idx is None else batch_size / N))
        if not np.isfinite(value) or value > 1e6 or not np.isfinite(theta).all():
            break
    return _finish(problem, thetas, np.zeros(len(thetas)), grad_evals)


def evolution_strategies(
    problem: FourierFit | CurveFit,
    theta0: np.ndarray,
    *,
    sigma: float = 0.05,
    lr: float = 0.05,
    pairs: int = 8,
    steps: int = 300,
    surrogate: Callable[[np.ndarray], np.ndarray] | None = None,
    alpha: float = 0.5,
    seed: int = 0,
) -> History:
    """Estrategias evolutivas con muestreo antitético, opcionalmente guiadas.

    En cada paso se sortean ``pairs`` perturbaciones ε_i ~ N(0, σ² C) y se evalúa
    la pérdida en θ + ε_i y en θ − ε_i (solo valores, ningún gradiente). El
    estimador

        g = 1/(2σ² m) Σ_i ε_i · (L(θ + ε_i) − L(θ − ε_i)),      m = ``pairs``,

    tiene media ≈ C ∇L(θ). Sin ``surrogate``, C = I y se avanza θ ← θ − η g (el ES
    clásico: g es un estimador de ∇L suavizado). Con ``surrogate`` (una función
    θ → vector ``(P,)``, por ejemplo un gradiente sesgado), C = α I + (1 − α) P u uᵀ,
    con u el gradiente sustituto normalizado: una fracción 1 − α de la exploración
    se concentra en esa dirección. Como C amplifica la dirección u por
    λ = α + (1 − α) P, el paso se divide por λ: θ ← θ − η g / λ. Es la estrategia
    evolutiva guiada de Maheswaranathan et al. (2019) con un solo gradiente
    sustituto (k = 1) y su escala β igual a P/λ.

    Devuelve un :class:`History`; cada paso gasta 2·``pairs`` evaluaciones de la
    pérdida (y una del sustituto, contada en ``grad_evals``).
    """
    theta = _vector("theta0", theta0, problem.n_params)
    sigma = check_float("sigma", sigma, min_value=0.0, min_inclusive=False)
    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    pairs = check_int("pairs", pairs, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    alpha = check_float("alpha", alpha, min_value=0.0, max_value=1.0)
    if surrogate is not None and not callable(surrogate):
        raise TypeError(f"`surrogate` debe ser una función θ → (P,), pero es {surrogate!r}")
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))
    P = problem.n_params
    gain = 1.0 if surrogate is None else alpha + (1 - alpha) * P  # mayor autovalor de C
    thetas, loss_evals, grad_evals = [theta], [0.0], [0.0]
    for _ in range(steps):
        eps = rng.normal(size=(pairs, P))  # (m, P)
        if surrogate is not None:
            u = _vector("surrogate(theta)", surrogate(theta), P)
            u = u / max(np.linalg.norm(u), 1e-12)  # (P,)
            along = rng.normal(size=(pairs, 1))  # (m, 1)
            eps = np.sqrt(alpha) * eps + np.sqrt((1 - alpha) * P) * along * u  # (m, P)
        eps = sigma * eps
        diff = problem.loss(theta + eps) - problem.loss(theta - eps)  # (m,)
        grad = eps.T @ diff / (2 * sigma**2 * pairs)  # (P,)  media ≈ C ∇L
        theta = theta - lr * grad / gain
        thetas.append(theta)
        loss_evals.append(loss_evals[-1] + 2 * pairs)
        grad_evals.append(grad_evals[-1] + (surrogate is not None))
        if not np.isfinite(theta).all():
            break
    return _finish(problem, thetas, loss_evals, grad_evals)


def minibatch_surrogate(
    problem: FourierFit | CurveFit, batch_size: int, *, seed: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """Un gradiente sustituto barato: el gradiente con ``batch_size`` ejemplos al azar.

    Devuelve una función θ ``(P,)`` → ``(P,)`` para el argumento ``surrogate`` de
    :func:`evolution_strategies`. Cada llamada sortea un minilote nuevo.
    """
    N = problem.x.shape[0]
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=N)
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))

    def surrogate(theta: np.ndarray) -> np.ndarray:
        return problem.loss_and_grad(theta, rng.choice(N, size=batch_size, replace=False))[1]

    return surrogate


def evals_to_reach(history: History, target: float, *, kind: str = "loss") -> float:
    """Evaluaciones gastadas hasta que la pérdida baja de ``target`` (``nan`` si nunca).

    ``kind`` elige el contador: ``"loss"`` (valores de L) o ``"grad"`` (gradientes).
    """
    target = check_float("target", target)
    kind = check_choice("kind", kind, ("loss", "grad"))
    counter = history.loss_evals if kind == "loss" else history.grad_evals
    hit = np.flatnonzero(history.loss <= target)
    return float(counter[hit[0]]) if hit.size else float("nan")


def compare_methods(
    x: np.ndarray,
    y: np.ndarray,
    n_terms: int,
    *,
    tolerance: float = 0.05,
    pairs: int = 4,
    steps: int = 600,
    seed: int = 0,
) -> dict[str, float]:
    """Evaluaciones que necesita cada método para acercarse al mínimo de un :class:`FourierFit`.

    El objetivo es quedar a una fracción ``tolerance`` del camino entre la pérdida
    inicial (θ = 0) y la mínima. Las tasas siguen reglas fijas, no afinadas a mano:

    * descenso por gradiente: η = 1/λ_max;
    * ES con m = ``pairs`` parejas: η = m / (m + P + 1) / λ_max (el ruido del
      estimador crece como (P + 1)/m veces el gradiente, y el paso se encoge igual);
    * ES guiada: una pareja, α = 0.5, η = 0.5/λ_max y como sustituto el gradiente
      con 8 ejemplos (:func:`minibatch_surrogate`).

    Devuelve un diccionario con ``n_params`` (P), ``gd`` (gradientes), ``es`` y
    ``guided_es`` (evaluaciones de la pérdida) y ``guided_es_grads`` (gradientes
    sustitutos); ``nan`` si un método no llega en ``steps`` pasos.
    """
    fit = FourierFit(x, y, n_terms)
    tolerance = check_float("tolerance", tolerance, min_value=0.0, max_value=1.0)
    pairs = check_int("pairs", pairs, min_value=1)
    theta0, lam, P = fit.init(), fit.curvature(), fit.n_params
    l_min = float(fit.loss(fit.solve()))
    target = l_min + tolerance * (float(fit.loss(theta0)) - l_min)
    gd = gradient_descent(fit, theta0, lr=1 / lam, steps=steps)
    es = evolution_strategies(
        fit,
        theta0,
        lr=pairs / (pairs + P + 1) / lam,
        pairs=pairs,
        sigma=0.1,
        steps=steps,
        seed=seed,
    )
    surrogate = minibatch_surrogate(fit, min(8, fit.x.shape[0]), seed=seed)
    guided = evolution_strategies(
        fit,
        theta0,
        lr=0.5 / lam,
        pairs=1,
        alpha=0.5,
        surrogate=surrogate,
        steps=steps,
        seed=seed,
    )
    return {
        "n_params": P,
        "gd": evals_to_reach(gd, target, kind="grad"),
        "es": evals_to_reach(es, target),
        "guided_es": evals_to_reach(guided, target),
        "guided_es_grads": evals_to_reach(guided, target, kind="grad"),
    }
