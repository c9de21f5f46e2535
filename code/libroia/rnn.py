"""Red recurrente simple (Elman) en NumPy: propagación hacia delante y hacia atrás a mano.

La recurrencia, con vectores fila como en el resto del libro, es

    a_t = x_t W_xh + h_{t-1} W_hh + b,        h_t = tanh(a_t),        t = 1, …, T.

:func:`rnn_backward` escribe la retropropagación a través del tiempo (*backpropagation
through time*, BPTT) paso a paso, y las funciones de diagnóstico miden cuánto gradiente
llega a cada paso anterior: el producto de jacobianos ∂h_t/∂h_{t-1} = diag(1 - h_t²) W_hhᵀ
se encoge o crece como una potencia del radio espectral de ``W_hh``. :func:`clip_grad_norm`
recorta la norma global del gradiente con la misma regla que
``torch.nn.utils.clip_grad_norm_``.

Todo se explica en el capítulo 3, «Redes recurrentes y el problema del gradiente».
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from libroia._checks import (
    check_choice,
    check_float,
    check_int,
    check_numpy,
    check_shape,
    describe_shape,
)

__all__ = [
    "clip_grad_norm",
    "gradient_norms_by_distance",
    "hidden_grads",
    "jacobian_product_norms",
    "recurrent_matrix",
    "rnn_backward",
    "rnn_forward",
    "spectral_radius",
]


# --- comprobaciones privadas ---------------------------------------------------------------


def _check_rnn_args(x, h0, W_xh, W_hh, b):
    """Valida y convierte los argumentos de la recurrencia; devuelve arreglos del mismo tipo."""
    x, h0, W_xh, W_hh, b = (
        check_numpy(n, a)
        for n, a in zip(("x", "h0", "W_xh", "W_hh", "b"), (x, h0, W_xh, W_hh, b), strict=True)
    )
    check_shape("x", x, (None, None, None), "(N, T, d_in)")
    N, T, d_in = x.shape
    if N == 0 or T == 0:
        raise ValueError(
            "`x` debe tener al menos un ejemplo y un paso, "
            f"pero tiene forma {describe_shape(x.shape)}"
        )
    check_shape("W_xh", W_xh, (d_in, None), f"(d_in, d_h) con d_in = {d_in} (como `x`)")
    d_h = W_xh.shape[1]
    check_shape("W_hh", W_hh, (d_h, d_h), f"(d_h, d_h) con d_h = {d_h} (como `W_xh`)")
    check_shape("h0", h0, (N, d_h), f"(N, d_h) = ({N}, {d_h})")
    check_shape("b", b, (d_h,), f"(d_h,) = ({d_h},)")
    dtype = np.result_type(x, h0, W_xh, W_hh, b, np.float32)
    return tuple(np.asarray(a, dtype=dtype) for a in (x, h0, W_xh, W_hh, b))


def _check_H(name: str, H: Any, shape: tuple, dtype) -> np.ndarray:
    H = check_numpy(name, H)
    check_shape(name, H, shape, f"(N, T, d_h) = {describe_shape(shape)}")
    return np.asarray(H, dtype=dtype)


# --- la recurrencia ------------------------------------------------------------------------


def rnn_forward(x, h0, W_xh, W_hh, b) -> np.ndarray:
    """Aplica la recurrencia ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b)`` a toda la secuencia.

    Parámetros
    ----------
    x : (N, T, d_in)   entradas.
    h0 : (N, d_h)      estado inicial.
    W_xh : (d_in, d_h) pesos de entrada.
    W_hh : (d_h, d_h)  pesos recurrentes.
    b : (d_h,)         sesgo.

    Devuelve
    --------
    H : (N, T, d_h), con ``H[:, t - 1] = h_t`` (``h0`` no se incluye).

    Ejemplo a mano: con d_in = d_h = 1, ``W_xh = [[1]]``, ``W_hh = [[0]]`` y ``b = [0]``,
    cada estado es la tangente hiperbólica de su entrada, ``H = [[[tanh 0], [tanh 1]]]``::

        >>> rnn_forward([[[0.0], [1.0]]], [[0.0]], [[1.0]], [[0.0]], [0.0]).round(4)
        array([[[0.    ],
                [0.7616]]])
    """
    x, h0, W_xh, W_hh, b = _check_rnn_args(x, h0, W_xh, W_hh, b)
    N, T, _ = x.shape
    A_in = x @ W_xh + b  # (N, T, d_h): la parte que no depende del pasado, de una vez
    H = np.empty((N, T, W_hh.shape[0]), dtype=x.dtype)  # (N, T, d_h)
    h = h0  # (N, d_h)
    for t in range(T):
        h = np.tanh(A_in[:, t] + h @ W_hh)  # (N, d_h)
        H[:, t] = h
    return H


def hidden_grads(H, W_hh, dH):
    """Gradiente total ∂L/∂h_t en cada paso, y ∂L/∂h_0, recorriendo el tiempo hacia atrás.

    El gradiente que llega a ``h_t`` es el que recibe directamente (``dH[:, t]``) más el que
    le devuelve el paso siguiente:

        g_t = dH_t + (g_{t+1} ⊙ (1 - h_{t+1}²)) W_hhᵀ.

    Parámetros
    ----------
    H : (N, T, d_h)   estados de :func:`rnn_forward`.
    W_hh : (d_h, d_h) pesos recurrentes.
    dH : (N, T, d_h)  ∂L/∂H, el gradiente que la pérdida envía a cada estado.

    Devuelve
    --------
    G : (N, T, d_h) con ``G[:, t - 1] = ∂L/∂h_t``, y g0 : (N, d_h) = ∂L/∂h_0.
    """
    H = check_numpy("H", H)
    W_hh = check_numpy("W_hh", W_hh)
    check_shape("H", H, (None, None, None), "(N, T, d_h)")
    N, T, d_h = H.shape
    check_shape("W_hh", W_hh, (d_h, d_h), f"(d_h, d_h) con d_h = {d_h} (como `H`)")
    dtype = np.result_type(H, W_hh, np.float32)
    dH = _check_H("dH", dH, H.shape, dtype)
    H = np.asarray(H, dtype=dtype)
    G = np.empty_like(H)  # (N, T, d_h)
    g_next = np.zeros((N, d_h), dtype=dtype)  # gradiente que devuelve el paso t + 1
    for t in range(T - 1, -1, -1):
        G[:, t] = dH[:, t] + g_next  # (N, d_h)
        g_next = (G[:, t] * (1.0 - H[:, t] ** 2)) @ W_hh.T  # (N, d_h)
    return G, g_next


def rnn_backward(x, h0, W_xh, W_hh, b, H, dH) -> dict[str, np.ndarray]:
    """Retropropagación a través del tiempo (BPTT), escrita a mano.

    Parámetros
    ----------
    x, h0, W_xh, W_hh, b : como en :func:`rnn_forward`.
    H : (N, T, d_h)  la salida de :func:`rnn_forward` con esos mismos argumentos.
    dH : (N, T, d_h) ∂L/∂H.

    Devuelve
    --------
    Un diccionario con los gradientes ∂L/∂· de cada argumento y su misma forma:
    ``"x"`` (N, T, d_in), ``"h0"`` (N, d_h), ``"W_xh"`` (d_in, d_h), ``"W_hh"`` (d_h, d_h) y
    ``"b"`` (d_h,).

    Con ``δ_t = ∂L/∂a_t = g_t ⊙ (1 - h_t²)`` (ver :func:`hidden_grads`):

        ∂L/∂W_xh = Σ_t x_tᵀ δ_t,   ∂L/∂W_hh = Σ_t h_{t-1}ᵀ δ_t,   ∂L/∂b = Σ_t δ_t,
        ∂L/∂x_t = δ_t W_xhᵀ,       ∂L/∂h_0 = δ_1 W_hhᵀ.
    """
    x, h0, W_xh, W_hh, b = _check_rnn_args(x, h0, W_xh, W_hh, b)
    N, T, _ = x.shape
    shape = (N, T, W_hh.shape[0])
    H = _check_H("H", H, shape, x.dtype)
    dH = _check_H("dH", dH, shape, x.dtype)
    G, g0 = hidden_grads(H, W_hh, dH)
    delta = G * (1.0 - H**2)  # (N, T, d_h): ∂L/∂a_t
    H_prev = np.concatenate([h0[:, None], H[:, :-1]], axis=1)  # (N, T, d_h): h_{t-1}
    return {
        "x": delta @ W_xh.T,  # (N, T, d_in)
        "h0": g0,  # (N, d_h)
        "W_xh": np.einsum("nti,ntj->ij", x, delta),  # (d_in, d_h)
        "W_hh": np.einsum("nti,ntj->ij", H_prev, delta),  # (d_h, d_h)
        "b": delta.sum(axis=(0, 1)),  # (d_h,)
    }


# --- diagnósticos: cuánto gradiente llega atrás ----------------------------------------------


def gradient_norms_by_distance(H, W_hh, g_last=None) -> np.ndarray:
    """Norma del gradiente que llega a ``h_{T-k}`` cuando la pérdida solo mira el último estado.

    Se toma ``L = Σ_i g_last[i] · h_T[i]`` (por defecto ``g_last`` es un vector unitario con
    todas sus componentes iguales), de modo que ``∂L/∂h_T = g_last`` y

        ∂L/∂h_{T-k} = g_lastᵀ ∂h_T/∂h_{T-k},   k = 0, 1, …, T   (h_0 es el estado inicial).

    Parámetros
    ----------
    H : (N, T, d_h)   estados de :func:`rnn_forward`.
    W_hh : (d_h, d_h) pesos recurrentes.
    g_last : (N, d_h) o (d_h,), opcional; el gradiente que recibe h_T.

    Devuelve
    --------
    norms : (N, T + 1) con ``norms[:, k] = ‖∂L/∂h_{T-k}‖``; ``norms[:, 0] = ‖g_last‖``.
    """
    H = check_numpy("H", H)
    check_shape("H", H, (None, None, None), "(N, T, d_h)")
    N, _, d_h = H.shape
    if g_last is None:
        g_last = np.full((N, d_h), 1.0 / np.sqrt(d_h))
    g_last = check_numpy("g_last", g_last)
    if g_last.ndim == 1:
        check_shape("g_last", g_last, (d_h,), f"(d_h,) = ({d_h},) o (N, d_h)")
        g_last = np.broadcast_to(g_last, (N, d_h))
    check_shape("g_last", g_last, (N, d_h), f"(N, d_h) = ({N}, {d_h}) o (d_h,)")
    dH = np.zeros(H.shape, dtype=np.result_type(H, g_last, np.float32))  # (N, T, d_h)
    dH[:, -1] = g_last
    G, g0 = hidden_grads(H, W_hh, dH)
    norms = np.linalg.norm(G, axis=-1)[:, ::-1]  # (N, T): k = 0, …, T - 1
    return np.concatenate([norms, np.linalg.norm(g0, axis=-1)[:, None]], axis=1)  # (N, T + 1)


def jacobian_product_norms(H, W_hh) -> np.ndarray:
    """Norma espectral del producto de jacobianos ∂h_T/∂h_{T-k} = ∏ ∂h_t/∂h_{t-1}.

    Cada factor es ``J_t = ∂h_t/∂h_{t-1} = diag(1 - h_t²) W_hhᵀ`` y

        ∂h_T/∂h_{T-k} = J_T J_{T-1} ⋯ J_{T-k+1},   ‖∂h_T/∂h_{T-k}‖₂ ≤ ‖W_hh‖₂ᵏ,

    porque ``|tanh'| ≤ 1``. Cuando los estados están cerca de 0 (tanh casi lineal), el
    producto se comporta como ``W_hhᵀᵏ``, cuya norma crece o decrece como ρ(W_hh)ᵏ, donde ρ
    es el radio espectral (:func:`spectral_radius`).

    Parámetros
    ----------
    H : (N, T, d_h)   estados de :func:`rnn_forward`.
    W_hh : (d_h, d_h) pesos recurrentes.

    Devuelve
    --------
    norms : (N, T + 1) con ``norms[:, k] = ‖∂h_T/∂h_{T-k}‖₂``; ``norms[:, 0] = 1`` (identidad).
    """
    H = check_numpy("H", H)
    W_hh = check_numpy("W_hh", W_hh)
    check_shape("H", H, (None, None, None), "(N, T, d_h)")
    N, T, d_h = H.shape
    check_shape("W_hh", W_hh, (d_h, d_h), f"(d_h, d_h) con d_h = {d_h} (como `H`)")
    dtype = np.result_type(H, W_hh, np.float32)
    P = np.broadcast_to(np.eye(d_h, dtype=dtype), (N, d_h, d_h)).copy()  # (N, d_h, d_h)
    norms = np.ones((N, T + 1), dtype=dtype)
    for k in range(1, T + 1):
        slope = 1.0 - H[:, T - k] ** 2  # (N, d_h): tanh'(a_t) con t = T - k + 1
        P = (P * slope[:, None, :]) @ W_hh.T  # (N, d_h, d_h): P ← P · diag(1 - h_t²) · W_hhᵀ
        norms[:, k] = np.linalg.svd(P, compute_uv=False)[:, 0]
    return norms


def spectral_radius(W) -> float:
    """Radio espectral ρ(W) = max |λ_i|, el mayor módulo de los valores propios de ``W`` (d, d).

    Ejemplo a mano: ``W = [[0, 2], [0.5, 0]]`` tiene valores propios ±1, así que ρ = 1
    (aunque su norma espectral ‖W‖₂ valga 2)::

        >>> spectral_radius([[0.0, 2.0], [0.5, 0.0]])
        1.0
    """
    W = check_numpy("W", W)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValueError(f"`W` debe ser una matriz cuadrada (d, d), pero tiene forma "
                         f"{describe_shape(W.shape)}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def recurrent_matrix(d_h: int, radius: float, *, kind: str = "gaussian", rng=None) -> np.ndarray:
    """Matriz recurrente (d_h, d_h) aleatoria con radio espectral exactamente ``radius``.

    - ``kind="gaussian"``: entradas normales reescaladas; es lo que da una inicialización
      habitual (ρ ≈ σ√d_h). Su norma espectral es mayor que ``radius`` (≈ 2·radius).
    - ``kind="orthogonal"``: ``radius`` por una matriz ortogonal; aquí norma espectral y
      radio coinciden, y ‖W^k‖₂ = radiusᵏ exactamente.

    ``rng`` es un ``numpy.random.Generator`` o una semilla entera.
    """
    d_h = check_int("d_h", d_h, min_value=1)
    radius = check_float("radius", radius, min_value=0.0)
    kind = check_choice("kind", kind, ("gaussian", "orthogonal"))
    rng = np.random.default_rng(rng)
    M = rng.standard_normal((d_h, d_h))
    if kind == "orthogonal":
        Q, R = np.linalg.qr(M)
        return radius * Q * np.sign(np.diag(R))  # signos fijados: Q uniforme (Haar)
    return M * (radius / spectral_radius(M))


# --- recorte del gradiente -----------------------------------------------------------------


def clip_grad_norm(grads, max_norm: float):
    """Recorta la norma L2 global de un conjunto de gradientes, como ``clip_grad_norm_``.

    Con ``total = sqrt(Σ_p ‖g_p‖²)`` (todas las matrices juntas, como un solo vector),

        g_p ← g_p · min(1, max_norm / (total + 1e-6)).

    La dirección del gradiente no cambia; solo su longitud, y solo si supera ``max_norm``.
    Si ``total`` es ``inf`` o ``nan`` el resultado contiene ``nan``, igual que en PyTorch:
    recortar no arregla un gradiente que ya se desbordó.

    Parámetros
    ----------
    grads : dict de nombre → arreglo, o lista/tupla de arreglos de NumPy.
    max_norm : número real > 0.

    Devuelve
    --------
    ``(clipped, total)``: copias recortadas en un contenedor del mismo tipo (la entrada no se
    modifica) y la norma global antes de recortar (``float``).

    Ejemplo a mano: el vector (3, 4) mide 5 y se recorta a (0.6, 0.8) (salvo el 1e-6)::

        >>> clipped, total = clip_grad_norm([np.array([3.0, 4.0])], 1.0)
        >>> total, clipped[0].round(6)
        (5.0, array([0.6, 0.8]))
    """
    max_norm = check_float("max_norm", max_norm, min_value=0.0, min_inclusive=False)
    if isinstance(grads, Mapping):
        names = list(grads)
        arrays = [check_numpy(f"grads[{n!r}]", grads[n]) for n in names]
    elif isinstance(grads, Sequence) and not isinstance(grads, (str, bytes)):
        arrays = [check_numpy(f"grads[{i}]", g) for i, g in enumerate(grads)]
    else:
        raise TypeError(
            "`grads` debe ser un diccionario o una lista de arreglos de NumPy, "
            f"pero es de tipo {type(grads).__name__}"
        )
    if not arrays:
        raise ValueError("`grads` debe contener al menos un gradiente, pero está vacío")
    arrays = [np.asarray(g, dtype=np.result_type(g, np.float32)) for g in arrays]
    norms = np.array([np.linalg.norm(g.ravel()) for g in arrays], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        total = float(np.linalg.norm(norms))
        scale = min(max_norm / (total + 1e-6), 1.0)  # nan si total es nan, 0 si es inf
        clipped = [g * np.asarray(scale, dtype=g.dtype) for g in arrays]
    if isinstance(grads, Mapping):
        return dict(zip(names, clipped, strict=True)), total
    return type(grads)(clipped) if isinstance(grads, tuple) else clipped, total
