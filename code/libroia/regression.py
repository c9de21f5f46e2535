"""Dos problemas de ajuste de curvas y su gradiente, a mano y con ``torch.autograd``.

Los dos ajustan ejemplos ``(x_i, y_i)`` minimizando el error cuadrático medio

    L(θ) = (1/N) Σ_i (ŷ(x_i) − y_i)²,

con todos los parámetros en un solo vector θ ``(P,)``:

* :class:`FourierFit`: una suma de ondas ŷ(x) = c + Σ_k a_k cos(kx) + b_k sin(kx),
  lineal en θ (P = 2K + 1). Su gradiente es (2/N) Φᵀ(Φθ − y).
* :class:`CurveFit`: una red diminuta con una capa oculta de ``d_h`` neuronas
  ``tanh``, ŷ(x) = Σ_j w2_j · tanh(W1_j · x + b1_j) + b2 (P = 3·d_h + 1).
  :meth:`CurveFit.loss_and_grad` escribe la retropropagación a mano (y, con
  ``feedback``, la alineación por retroalimentación directa de Nøkland, 2016).

:func:`autograd_gradient` calcula el gradiente de la red con PyTorch para
compararlo, y :func:`parameter_report` muestra qué toca el entrenamiento cuando
hay parámetros congelados. Los optimizadores están en :mod:`libroia.optim`.

Todo se explica en el capítulo 1, «Aprender una función».
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from libroia._checks import (
    check_choice,
    check_finite,
    check_float,
    check_int,
    check_numpy,
    check_shape,
    describe_shape,
)

__all__ = [
    "CurveFit",
    "FourierFit",
    "autograd_gradient",
    "make_data",
    "parameter_report",
    "to_torch",
]


def _vector(name: str, x: Any, size: int | None = None) -> np.ndarray:
    """Exige un vector 1-D de NumPy, finito, de tamaño ``size`` si se da."""
    x = check_numpy(name, x)
    check_shape(name, x, (size,), f"({size},)" if size is not None else "(N,)")
    check_finite(name, x)
    return x.astype(float)


class _Fit:
    """Lo común a los dos problemas: datos ``x``, ``y`` ``(N,)`` y la pérdida cuadrática."""

    x: np.ndarray
    y: np.ndarray
    n_params: int

    def _check_data(self) -> None:
        x = _vector("x", self.x)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", _vector("y", self.y, x.shape[0]))

    def _theta(self, theta: Any) -> np.ndarray:
        theta = check_numpy("theta", theta).astype(float)
        if theta.ndim == 0 or theta.shape[-1] != self.n_params:
            raise ValueError(
                f"`theta` debe tener forma (..., {self.n_params}), "
                f"pero tiene forma {describe_shape(theta.shape)}"
            )
        return theta

    def predict(self, theta: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def loss(self, theta: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Error cuadrático medio L(θ); θ ``(..., P)`` → ``(...,)``. ``idx`` elige un minilote."""
        x, y = (self.x, self.y) if idx is None else (self.x[idx], self.y[idx])
        with np.errstate(over="ignore", invalid="ignore"):
            return np.mean((self.predict(theta, x) - y) ** 2, axis=-1)


@dataclass(frozen=True)
class FourierFit(_Fit):
    """Regresión lineal sobre rasgos de Fourier: ŷ(x) = c + Σ_k a_k cos(kx) + b_k sin(kx).

    θ = [c, a_1, b_1, …, a_K, b_K] tiene P = 2K + 1 números (K = ``n_terms``). Es
    la suma parcial del apartado de Fourier, pero con los coeficientes
    aprendidos a partir de ejemplos en lugar de calculados con una integral.
    """

    x: np.ndarray
    y: np.ndarray
    n_terms: int = 8

    def __post_init__(self) -> None:
        self._check_data()
        object.__setattr__(self, "n_terms", check_int("n_terms", self.n_terms, min_value=1))
        object.__setattr__(self, "_phi", self.features())  # (N, P), se calcula una vez

    @property
    def n_params(self) -> int:
        """Número de parámetros P = 2K + 1."""
        return 2 * self.n_terms + 1

    def init(self, seed: int = 0) -> np.ndarray:
        """Parámetros iniciales ``(P,)``: todos cero (la pérdida es convexa)."""
        check_int("seed", seed, min_value=0)
        return np.zeros(self.n_params)

    def features(self, x: np.ndarray | None = None) -> np.ndarray:
        """Matriz de rasgos Φ ``(M, P)``: columnas 1, cos x, sin x, cos 2x, sin 2x, …"""
        x = self.x if x is None else _vector("x", x)
        kx = np.outer(x, np.arange(1, self.n_terms + 1))  # (M, K)
        pairs = np.stack([np.cos(kx), np.sin(kx)], axis=-1).reshape(x.shape[0], -1)  # (M, 2K)
        return np.concatenate([np.ones((x.shape[0], 1)), pairs], axis=1)  # (M, P)

    def predict(self, theta: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Salida del modelo: θ ``(..., P)`` y x ``(M,)`` → ``(..., M)``."""
        phi = self._phi if x is None else self.features(x)  # (M, P)
        return self._theta(theta) @ phi.T  # (..., M)

    def loss(self, theta: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """Error cuadrático medio L(θ); θ ``(..., P)`` → ``(...,)``. ``idx`` elige un minilote."""
        phi, y = (self._phi, self.y) if idx is None else (self._phi[idx], self.y[idx])
        with np.errstate(over="ignore", invalid="ignore"):
            return np.mean((self._theta(theta) @ phi.T - y) ** 2, axis=-1)

    def loss_and_grad(
        self, theta: np.ndarray, idx: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """Pérdida y gradiente ``(P,)``: ∇L = (2/N) Φᵀ (Φθ − y)."""
        theta = self._theta(theta)
        if theta.ndim != 1:
            raise ValueError(f"`theta` debe tener forma ({self.n_params},) para el gradiente")
        phi = self._phi if idx is None else self._phi[idx]  # (N, P)
        r = phi @ theta - (self.y if idx is None else self.y[idx])  # (N,)
        return float(np.mean(r**2)), 2.0 * phi.T @ r / r.shape[0]

    def curvature(self) -> float:
        """Mayor autovalor λ_max de la hessiana 2ΦᵀΦ/N: el descenso diverge si η > 2/λ_max."""
        phi = self._phi  # (N, P)
        return float(np.linalg.eigvalsh(2.0 * phi.T @ phi / phi.shape[0])[-1])

    def solve(self) -> np.ndarray:
        """El mínimo exacto ``(P,)`` por mínimos cuadrados (para comparar)."""
        return np.linalg.lstsq(self._phi, self.y, rcond=None)[0]


@dataclass(frozen=True)
class CurveFit(_Fit):
    """Datos ``x``, ``y`` (forma ``(N,)``) y una red ``tanh`` con ``hidden`` neuronas.

    θ = [W1, b1, w2, b2], con P = 3·d_h + 1 números.
    """

    x: np.ndarray
    y: np.ndarray
    hidden: int = 16

    def __post_init__(self) -> None:
        self._check_data()
        object.__setattr__(self, "hidden", check_int("hidden", self.hidden, min_value=1))

    @property
    def n_params(self) -> int:
        """Número de parámetros P = 3·d_h + 1."""
        return 3 * self.hidden + 1

    def init(self, seed: int = 0) -> np.ndarray:
        """Parámetros iniciales ``(P,)``: pesos gaussianos, sesgos de la capa oculta en [−π, π]."""
        rng = np.random.default_rng(check_int("seed", seed, min_value=0))
        H = self.hidden
        W1 = rng.normal(0.0, 1.0, H)
        b1 = rng.uniform(-np.pi, np.pi, H)
        w2 = rng.normal(0.0, 1.0 / np.sqrt(H), H)
        return np.concatenate([W1, b1, w2, [0.0]])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        """Separa θ ``(..., P)`` en ``W1, b1, w2`` ``(..., d_h)`` y ``b2`` ``(...,)``."""
        theta = self._theta(theta)
        H = self.hidden
        return theta[..., :H], theta[..., H : 2 * H], theta[..., 2 * H : 3 * H], theta[..., -1]

    def predict(self, theta: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Salida de la red: θ ``(..., P)``, x ``(M,)`` (por defecto ``self.x``) → ``(..., M)``."""
        W1, b1, w2, b2 = self.unpack(theta)
        x = self.x if x is None else _vector("x", x)
        h = np.tanh(x[:, None] * W1[..., None, :] + b1[..., None, :])  # (..., M, d_h)
        return np.einsum("...mh,...h->...m", h, w2) + b2[..., None]  # (..., M)

    def loss_and_grad(
        self,
        theta: np.ndarray,
        idx: np.ndarray | None = None,
        *,
        feedback: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """Pérdida y gradiente ``(P,)`` por retropropagación escrita a mano.

        Regla de la cadena, de la salida hacia atrás (a = W1·x + b1, h = tanh a, r = ŷ − y)::

            ∂L/∂ŷ = 2r/N,   ∂L/∂w2 = hᵀ ∂L/∂ŷ,   ∂L/∂b2 = Σ ∂L/∂ŷ,
            ∂L/∂a = (∂L/∂ŷ ⊗ w2) ⊙ (1 − h²),   ∂L/∂W1 = ∂L/∂aᵀ x,   ∂L/∂b1 = Σ ∂L/∂a.

        Con ``feedback`` (un vector fijo ``(d_h,)``) el error llega a la capa oculta
        a través de ``feedback`` en lugar de ``w2``: es la alineación por
        retroalimentación directa (Nøkland, 2016), un gradiente sesgado que no
        necesita conocer los pesos de la capa de salida.
        """
        W1, b1, w2, b2 = self.unpack(theta)
        if W1.ndim != 1:
            raise ValueError(f"`theta` debe tener forma ({self.n_params},) para el gradiente")
        x, y = (self.x, self.y) if idx is None else (self.x[idx], self.y[idx])
        back = w2 if feedback is None else _vector("feedback", feedback, self.hidden)
        h = np.tanh(np.outer(x, W1) + b1)  # (N, d_h)
        r = h @ w2 + b2 - y  # (N,)
        dy = 2.0 * r / x.shape[0]  # (N,)  ∂L/∂ŷ
        dpre = np.outer(dy, back) * (1.0 - h**2)  # (N, d_h)  ∂L/∂a
        grad = np.concatenate([dpre.T @ x, dpre.sum(axis=0), h.T @ dy, [dy.sum()]])
        return float(np.mean(r**2)), grad


def make_data(
    n: int = 64, *, kind: str = "square", noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ejemplos ruidosos de una señal: x ``(n,)`` ordenados en [−π, π] e y ``(n,)``.

    ``kind`` es ``"square"``, ``"sawtooth"`` o ``"triangle"`` (ver :mod:`libroia.fourier`)
    o ``"smooth"`` (sin x + 0.3·sin 3x). Con ``noise=0`` los ``y`` son exactos.

    Ejemplo: sin ruido, los ``y`` de la onda cuadrada son los signos de sin x, ±1::

        >>> x, y = make_data(4, noise=0)
        >>> bool(np.all(y == np.sign(np.sin(x))))
        True
    """
    from libroia.fourier import SIGNALS, signal

    n = check_int("n", n, min_value=2)
    noise = check_float("noise", noise, min_value=0.0)
    kind = check_choice("kind", kind, (*SIGNALS, "smooth"))
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))
    x = np.sort(rng.uniform(-np.pi, np.pi, n))
    clean = np.sin(x) + 0.3 * np.sin(3 * x) if kind == "smooth" else signal(kind, x)
    return x, clean + noise * rng.normal(size=n)


# --- la misma red en PyTorch -----------------------------------------------------------------


def to_torch(problem: CurveFit, theta: np.ndarray):
    """La red de ``problem`` como ``torch.nn.Sequential`` (en ``float64``) con los pesos θ.

    Capas: ``Linear(1, d_h)`` → ``Tanh`` → ``Linear(d_h, 1)``.
    """
    import torch

    W1, b1, w2, b2 = (np.asarray(p, float) for p in problem.unpack(_vector("theta", theta)))
    net = torch.nn.Sequential(
        torch.nn.Linear(1, problem.hidden), torch.nn.Tanh(), torch.nn.Linear(problem.hidden, 1)
    ).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(W1)[:, None])  # (d_h, 1)
        net[0].bias.copy_(torch.from_numpy(b1))  # (d_h,)
        net[2].weight.copy_(torch.from_numpy(w2)[None, :])  # (1, d_h)
        net[2].bias.fill_(float(b2))
    return net


def autograd_gradient(problem: CurveFit, theta: np.ndarray) -> np.ndarray:
    """El gradiente ``(P,)`` de la pérdida calculado por ``torch.autograd``."""
    import torch

    net = to_torch(problem, theta)
    x = torch.from_numpy(problem.x)[:, None]  # (N, 1)
    y = torch.from_numpy(problem.y)  # (N,)
    loss = ((net(x)[:, 0] - y) ** 2).mean()
    loss.backward()
    parts = [net[0].weight.grad[:, 0], net[0].bias.grad, net[2].weight.grad[0], net[2].bias.grad]
    return torch.cat(parts).numpy()


def parameter_report(net, x, y, *, lr: float = 0.1, steps: int = 5) -> dict[str, dict]:
    """Entrena ``net`` unos pasos con SGD y cuenta qué tensores de parámetros tocó.

    Solo los parámetros con ``requires_grad=True`` entran en el optimizador. Devuelve,
    por nombre de parámetro: ``numel`` (cuántos números), ``requires_grad``,
    ``has_grad`` (si recibió gradiente) y ``changed`` (si cambió su valor).
    """
    import torch

    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    steps = check_int("steps", steps, min_value=1)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("`net` no tiene ningún parámetro con requires_grad=True")
    for _ in range(steps):  # SGD a mano: lo mismo que torch.optim.SGD sin momento
        for p in trainable:
            p.grad = None
        loss = ((net(x).squeeze(-1) - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for p in trainable:
                p -= lr * p.grad
    return {
        n: {
            "numel": p.numel(),
            "requires_grad": p.requires_grad,
            "has_grad": p.grad is not None,
            "changed": not torch.equal(p.detach(), before[n]),
        }
        for n, p in net.named_parameters()
    }
