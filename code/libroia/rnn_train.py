"""Entrenamientos pequeños del capítulo 3: explosión del gradiente, recorte, RNN frente a LSTM.

- :func:`train_numpy_rnn` entrena la RNN de :mod:`libroia.rnn` (NumPy, ``float32``) con
  descenso de gradiente en la tarea «recuerda el primer número», con o sin recorte del
  gradiente. Sirve para ver un entrenamiento real que acaba en ``inf``/``nan``.
- :class:`RecurrentClassifier` envuelve ``torch.nn.RNN`` o ``torch.nn.LSTM`` con una capa de
  salida que lee el último estado; :func:`train_recall` lo entrena en la tarea «recuerda el
  primer símbolo» y :func:`input_grad_norms` mide cuánto gradiente llega a cada entrada.

Todo cabe en unos segundos de CPU. Lo explica el capítulo 3, «Redes recurrentes y el
problema del gradiente».
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from libroia._checks import check_choice, check_float, check_int, check_numpy, describe_shape
from libroia.rnn import clip_grad_norm, recurrent_matrix, rnn_backward, rnn_forward
from libroia.tasks import first_token_batch, first_value_batch

__all__ = [
    "RecurrentClassifier",
    "compare_recall",
    "input_grad_norms",
    "train_numpy_rnn",
    "train_recall",
]


# --- la RNN de NumPy, con y sin recorte -----------------------------------------------------


def train_numpy_rnn(
    *,
    T: int = 30,
    steps: int = 200,
    d_h: int = 32,
    radius: float = 2.0,
    lr: float = 0.2,
    max_norm: float | None = None,
    batch: int = 64,
    seed: int = 0,
) -> dict:
    """Descenso de gradiente sobre la RNN de NumPy en la tarea «recuerda el primer número».

    El modelo es ``ŷ = h_T · w_out + c`` con ``H = rnn_forward(x, 0, W_xh, W_hh, b)`` y la
    pérdida es el error cuadrático medio; todo en ``float32``, como en la práctica. ``W_hh``
    empieza con radio espectral ``radius`` (:func:`~libroia.rnn.recurrent_matrix`). Si
    ``max_norm`` no es ``None``, cada gradiente pasa por
    :func:`~libroia.rnn.clip_grad_norm` antes del paso ``θ ← θ - lr · g``.

    Devuelve un diccionario con
    ``"loss"`` (steps,): la pérdida de cada paso (``nan`` tras el primer valor no finito);
    ``"grad_norm"`` (steps,): la norma global del gradiente *antes* de recortar;
    ``"first_nonfinite"``: el primer paso con pérdida ``inf`` o ``nan`` (o ``None``);
    ``"params"``: los parámetros finales (diccionario de arreglos).
    """
    T = check_int("T", T, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    d_h = check_int("d_h", d_h, min_value=1)
    batch = check_int("batch", batch, min_value=1)
    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    if max_norm is not None:
        max_norm = check_float("max_norm", max_norm, min_value=0.0, min_inclusive=False)
    rng = np.random.default_rng(seed)
    f32 = np.float32
    params = {
        "W_xh": rng.standard_normal((1, d_h)).astype(f32),  # (1, d_h)
        "W_hh": recurrent_matrix(d_h, radius, rng=rng).astype(f32),  # (d_h, d_h)
        "b": np.zeros(d_h, dtype=f32),  # (d_h,)
        "w_out": (rng.standard_normal(d_h) / np.sqrt(d_h)).astype(f32),  # (d_h,)
        "c": np.zeros(1, dtype=f32),  # (1,)
    }
    losses = np.full(steps, np.nan)
    grad_norms = np.full(steps, np.nan)
    first_nonfinite = None
    h0 = np.zeros((batch, d_h), dtype=f32)  # (N, d_h)
    # Los desbordamientos son justo lo que se quiere observar: no se avisa de ellos.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            x, y = first_value_batch(batch, T, rng)  # (N, T, 1), (N,)
            p = params
            H = rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b"])  # (N, T, d_h)
            err = H[:, -1] @ p["w_out"] + p["c"] - y  # (N,)
            losses[step] = float(np.mean(err.astype(np.float64) ** 2))
            if not np.isfinite(losses[step]):
                first_nonfinite = step
                break
            d_pred = (2.0 / batch) * err  # (N,): ∂L/∂ŷ
            dH = np.zeros_like(H)  # (N, T, d_h): la pérdida solo mira h_T
            dH[:, -1] = d_pred[:, None] * p["w_out"]
            grads = rnn_backward(x, h0, p["W_xh"], p["W_hh"], p["b"], H, dH)
            grads = {
                "W_xh": grads["W_xh"],
                "W_hh": grads["W_hh"],
                "b": grads["b"],
                "w_out": H[:, -1].T @ d_pred,  # (d_h,)
                "c": d_pred.sum(keepdims=True),  # (1,)
            }
            if max_norm is None:
                norms = [np.linalg.norm(g.astype(np.float64)) for g in grads.values()]
                grad_norms[step] = float(np.linalg.norm(norms))
            else:
                grads, grad_norms[step] = clip_grad_norm(grads, max_norm)
            params = {k: (v - f32(lr) * grads[k]).astype(f32) for k, v in p.items()}
    return {
        "loss": losses,
        "grad_norm": grad_norms,
        "first_nonfinite": first_nonfinite,
        "params": params,
    }


# --- RNN y LSTM de PyTorch en la tarea «recuerda el primer símbolo» ------------------------


class RecurrentClassifier(nn.Module):
    """Una capa recurrente (``"rnn"`` = Elman con tanh, o ``"lstm"``) y una capa lineal final.

    ``forward(x)`` recibe ``x`` (N, T, n_inputs) y devuelve los logits (N, n_classes)
    calculados con el último estado oculto h_T.

    ``forget_bias`` (solo LSTM) fija el sesgo total de la puerta de olvido: con sesgo b la
    puerta empieza en f ≈ σ(b), y el gradiente por la celda se multiplica por f en cada paso.
    ``None`` deja la inicialización de PyTorch (f ≈ σ(0) = 0.5). ``seed`` hace reproducible
    la inicialización sin tocar el estado global de ``torch``.
    """

    def __init__(
        self,
        kind: str,
        n_inputs: int,
        n_classes: int,
        d_h: int = 32,
        *,
        forget_bias: float | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        kind = check_choice("kind", kind, ("rnn", "lstm"))
        n_inputs = check_int("n_inputs", n_inputs, min_value=1)
        n_classes = check_int("n_classes", n_classes, min_value=2)
        d_h = check_int("d_h", d_h, min_value=1)
        if forget_bias is not None:
            if kind != "lstm":
                raise ValueError(
                    "`forget_bias` solo tiene sentido con kind='lstm', pero kind vale 'rnn'"
                )
            forget_bias = check_float("forget_bias", forget_bias)
        self.kind, self.n_inputs, self.d_h = kind, n_inputs, d_h
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            cell = nn.LSTM if kind == "lstm" else nn.RNN
            self.recurrent = cell(n_inputs, d_h, batch_first=True)
            self.readout = nn.Linear(d_h, n_classes)
        if forget_bias is not None:
            with torch.no_grad():  # PyTorch ordena las puertas como (i, f, g, o)
                self.recurrent.bias_ih_l0[d_h : 2 * d_h] = forget_bias
                self.recurrent.bias_hh_l0[d_h : 2 * d_h] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.n_inputs:
            raise ValueError(
                f"`x` debe tener forma (N, T, n_inputs) con n_inputs = {self.n_inputs}, "
                f"pero tiene forma {describe_shape(x.shape)}"
            )
        H, _ = self.recurrent(x)  # (N, T, d_h)
        return self.readout(H[:, -1])  # (N, n_classes)


def _one_hot(model: RecurrentClassifier, tokens: np.ndarray) -> torch.Tensor:
    if tokens.size and (tokens.min() < 0 or tokens.max() >= model.n_inputs):
        raise ValueError(
            f"`tokens` debe contener símbolos entre 0 y `n_inputs` - 1 = {model.n_inputs - 1}, "
            f"pero va de {int(tokens.min())} a {int(tokens.max())}"
        )
    ids = torch.as_tensor(tokens, dtype=torch.int64)
    return nn.functional.one_hot(ids, model.n_inputs).float()  # (N, T, V)


def train_recall(
    model: RecurrentClassifier,
    *,
    T: int,
    steps: int = 300,
    lr: float = 5e-3,
    batch: int = 64,
    n_symbols: int = 4,
    seed: int = 0,
    max_norm: float | None = None,
    n_test: int = 1000,
) -> dict:
    """Entrena ``model`` con Adam en «recuerda el primer símbolo» (:func:`first_token_batch`).

    Los distractores ocupan el resto de las entradas: ``n_distractors = n_inputs -
    n_symbols``. Con ``max_norm`` se recorta la norma global del gradiente antes de cada paso
    (``torch.nn.utils.clip_grad_norm_``). Devuelve ``{"loss": (steps,), "accuracy": float}``,
    con la exactitud medida sobre ``n_test`` secuencias nuevas (el azar da ``1 / n_symbols``).
    """
    T = check_int("T", T, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    n_symbols = check_int("n_symbols", n_symbols, min_value=2, max_value=model.n_inputs - 1)
    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    if max_norm is not None:
        max_norm = check_float("max_norm", max_norm, min_value=0.0, min_inclusive=False)
    n_distractors = model.n_inputs - n_symbols
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.empty(steps)
    model.train()
    for step in range(steps):
        tokens, y = first_token_batch(
            batch, T, n_symbols=n_symbols, n_distractors=n_distractors, rng=rng
        )
        loss = nn.functional.cross_entropy(model(_one_hot(model, tokens)), torch.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        if max_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
        losses[step] = loss.item()
    tokens, y = first_token_batch(
        n_test, T, n_symbols=n_symbols, n_distractors=n_distractors, rng=rng
    )
    model.eval()
    with torch.no_grad():
        pred = model(_one_hot(model, tokens)).argmax(-1).numpy()  # (n_test,)
    return {"loss": losses, "accuracy": float(np.mean(pred == y))}


def input_grad_norms(model: RecurrentClassifier, tokens, y) -> np.ndarray:
    """Norma media del gradiente de la pérdida respecto a cada entrada, ‖∂L/∂x_t‖.

    Parámetros: ``tokens`` (N, T) enteros, ``y`` (N,) las clases correctas.
    Devuelve un arreglo (T,) con la media sobre el lote; la posición 0 es la primera.
    No modifica los gradientes guardados en los parámetros del modelo.
    """
    tokens = check_numpy("tokens", tokens)
    y = check_numpy("y", y)
    if tokens.ndim != 2 or y.shape != (tokens.shape[0],):
        raise ValueError(
            "`tokens` debe tener forma (N, T) e `y` forma (N,), pero tienen formas "
            f"{describe_shape(tokens.shape)} y {describe_shape(y.shape)}"
        )
    for name, ids in (("tokens", tokens), ("y", y)):
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"`{name}` debe contener enteros, pero su tipo es {ids.dtype}")
    if y.size and (y.min() < 0 or y.max() >= model.readout.out_features):
        raise ValueError(
            f"`y` debe contener clases entre 0 y {model.readout.out_features - 1}, "
            f"pero va de {int(y.min())} a {int(y.max())}"
        )
    x = _one_hot(model, tokens).requires_grad_(True)  # (N, T, V)
    loss = nn.functional.cross_entropy(model(x), torch.as_tensor(y, dtype=torch.int64))
    (dx,) = torch.autograd.grad(loss, x)  # (N, T, V)
    return dx.norm(dim=-1).mean(0).numpy()  # (T,)


def compare_recall(
    models: dict[str, dict],
    lengths: list[int],
    seeds: list[int],
    *,
    n_symbols: int = 4,
    n_distractors: int = 4,
    d_h: int = 32,
    **train_kwargs,
) -> dict:
    """Entrena cada modelo en cada longitud ``T`` y con cada semilla; mide la exactitud.

    ``models`` asocia una etiqueta a los argumentos de :class:`RecurrentClassifier` salvo las
    dimensiones, por ejemplo ``{"RNN": {"kind": "rnn"}, "LSTM": {"kind": "lstm",
    "forget_bias": 3.0}}``. La semilla fija a la vez la inicialización y los datos.
    ``train_kwargs`` pasa a :func:`train_recall` (``steps``, ``lr``, ``max_norm``…).

    Devuelve ``{"accuracy": {etiqueta: (len(lengths), len(seeds))}, "models": {etiqueta:
    {(T, semilla): modelo entrenado}}}``.
    """
    accuracy = {name: np.zeros((len(lengths), len(seeds))) for name in models}
    trained: dict[str, dict] = {name: {} for name in models}
    for i, T in enumerate(lengths):
        for j, seed in enumerate(seeds):
            for name, kwargs in models.items():
                model = RecurrentClassifier(
                    n_inputs=n_symbols + n_distractors, n_classes=n_symbols, d_h=d_h,
                    seed=seed, **kwargs,
                )
                result = train_recall(model, T=T, seed=seed, n_symbols=n_symbols, **train_kwargs)
                accuracy[name][i, j] = result["accuracy"]
                trained[name][(T, seed)] = model
    return {"accuracy": accuracy, "models": trained}
