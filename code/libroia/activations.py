"""Funciones de activación de la red MLP del transformer y su coste.

La red de dos capas de cada bloque (capítulo 5, «El transformer por dentro»)
aplica, posición a posición::

    MLP(x) = W_2 · σ(W_1 x + b_1) + b_2                      (ReLU, GELU, SiLU)
    MLP(x) = W_2 · (SiLU(W_1 x) ⊙ (W_3 x))                    (SwiGLU)

Este módulo reúne las activaciones σ (:data:`ACTIVATIONS`), mide cuánto cuesta
cada una (:func:`time_activations`) y comprueba con un ajuste de curva pequeño
que cualquier no linealidad basta y que sin ella la red se queda en una recta
(:func:`fit_curve`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from libroia._checks import check_choice, check_int

__all__ = ["ACTIVATIONS", "GATED", "MLP", "MLP_ACTIVATIONS", "fit_curve", "time_activations"]

#: Activaciones elemento a elemento: nombre -> función de tensor a tensor.
#: ``"identity"`` (ninguna) sirve para el contraejemplo lineal.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "relu": F.relu,  # max(0, x)
    "gelu": F.gelu,  # x · Φ(x), Φ = función de distribución de la normal estándar
    "silu": F.silu,  # x · sigmoide(x)  (también llamada *swish*)
}

#: Variantes con compuerta: la activación multiplica a una segunda proyección.
GATED = {"swiglu": "silu"}

#: Activaciones que admite la MLP (y ``GPTConfig.activation``).
MLP_ACTIVATIONS = ("relu", "gelu", "silu", "swiglu")


class MLP(nn.Module):
    """Red de dos capas posición a posición: ``(N, T, d) -> (N, T, d)``.

    Con ``activation="swiglu"`` usa tres matrices (compuerta, subida y bajada);
    con las demás, dos. ``hidden`` es el ancho intermedio (4·d en GPT-2).

    Ejemplo::

        >>> mlp = MLP(8, 32, "swiglu")
        >>> tuple(mlp(torch.zeros(2, 5, 8)).shape)       # (N, T, d)
        (2, 5, 8)
        >>> sum(p.numel() for p in mlp.parameters())     # 3·d·H + 2H + d
        840
    """

    def __init__(self, d: int, hidden: int, activation: str = "gelu", *, bias: bool = True):
        super().__init__()
        d = check_int("d", d, min_value=1)
        hidden = check_int("hidden", hidden, min_value=1)
        self.activation = check_choice("activation", activation, MLP_ACTIVATIONS)
        self.gated = activation in GATED
        self.up = nn.Linear(d, hidden, bias=bias)
        if self.gated:
            self.gate = nn.Linear(d, hidden, bias=bias)
        self.down = nn.Linear(hidden, d, bias=bias)
        self._act = ACTIVATIONS[GATED.get(activation, activation)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gated:
            h = self._act(self.gate(x)) * self.up(x)  # (N, T, hidden)
        else:
            h = self._act(self.up(x))  # (N, T, hidden)
        return self.down(h)  # (N, T, d)


def time_activations(
    *, d: int = 128, tokens: int = 4096, repeats: int = 20, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Mide el coste de cada activación sola y de la MLP completa (adelante y atrás).

    Parámetros
    ----------
    d : ancho del modelo; la capa oculta mide 4·d.
    tokens : número de posiciones N·T procesadas a la vez.
    repeats : repeticiones; se devuelve la más rápida, la menos afectada por otros
        procesos que compartan la CPU (como hace ``timeit``).

    Devuelve
    --------
    ``{nombre: {"activation_ms": …, "mlp_ms": …, "params": …}}`` para ``relu``,
    ``gelu``, ``silu`` y ``swiglu``. Los tiempos dependen de la máquina: sirven
    para comparar entre sí, no como valores absolutos.
    """
    d = check_int("d", d, min_value=1)
    tokens = check_int("tokens", tokens, min_value=1)
    repeats = check_int("repeats", repeats, min_value=1)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(tokens, d, generator=gen)  # (N·T, d)
    h = torch.randn(tokens, 4 * d, generator=gen)  # (N·T, 4d)
    results = {}
    for name in MLP_ACTIVATIONS:
        act = ACTIVATIONS[GATED.get(name, name)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mlp = MLP(d, 4 * d, name)
        results[name] = {
            "activation_ms": _best_ms(lambda act=act: act(h), repeats),
            "mlp_ms": _best_ms(lambda mlp=mlp: mlp(x).sum().backward(), repeats),
            "params": sum(p.numel() for p in mlp.parameters()),
        }
    return results


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # calentamiento
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * min(times)


def fit_curve(
    x: torch.Tensor,
    y: torch.Tensor,
    activation: str,
    *,
    hidden: int = 32,
    steps: int = 800,
    lr: float = 1e-2,
    seed: int = 0,
) -> tuple[torch.Tensor, float]:
    """Ajusta ``y ≈ MLP(x)`` con una capa oculta y devuelve ``(predicción, ECM final)``.

    Sirve para ver que con cualquier activación no lineal la red dobla la curva
    y con ``"identity"`` solo consigue una recta, por ancha que sea.

    Parámetros
    ----------
    x, y : tensores ``(M,)`` con las abscisas y los valores que se quieren imitar.
    activation : ``"identity"``, ``"relu"``, ``"gelu"``, ``"silu"`` o ``"swiglu"``.
    """
    check_choice("activation", activation, ("identity", *MLP_ACTIVATIONS))
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"`x` e `y` deben ser vectores (M,) de la misma forma, pero tienen formas "
            f"{tuple(x.shape)} y {tuple(y.shape)}"
        )
    hidden = check_int("hidden", hidden, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if activation == "identity":
            net = nn.Sequential(nn.Linear(1, hidden), nn.Linear(hidden, 1))
        else:
            net = MLP(1, hidden, activation)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    inputs, target = x[:, None].float(), y[:, None].float()  # (M, 1)
    for _ in range(steps):
        loss = F.mse_loss(net(inputs), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(inputs)[:, 0]  # (M,)
    return pred, float(F.mse_loss(pred, y.float()))
