"""Entrenamientos pequeños de los capítulos 3 y 4: explosión, recorte, RNN, GRU, LSTM y atención.

- :func:`train_numpy_rnn` entrena la RNN de :mod:`libroia.rnn` (NumPy, ``float32``) con
  descenso de gradiente en la tarea «recuerda el primer número», con o sin recorte del
  gradiente. Sirve para ver un entrenamiento real que acaba en ``inf``/``nan``.
- :class:`RecurrentClassifier` envuelve ``torch.nn.RNN``, ``torch.nn.GRU`` o
  ``torch.nn.LSTM`` con una capa de salida que lee el último estado.
- :class:`AttentionClassifier` resuelve la misma tarea con una capa de
  :class:`~libroia.attention.MultiHeadAttention` sobre incrustaciones más posiciones
  senoidales (:func:`~libroia.positions.sinusoidal_positions`): la última posición lee la
  primera directamente.
- :func:`train_recall` entrena cualquiera de los dos en la tarea «recuerda el primer
  símbolo», :func:`compare_recall` repite el entrenamiento por modelo, longitud y semilla
  (``kind="rnn"``, ``"gru"``, ``"lstm"`` o ``"attention"``) e :func:`input_grad_norms` mide
  cuánto gradiente llega a cada entrada.

Todo cabe en unos segundos de CPU. Lo explican el capítulo 3, «Redes recurrentes y el
problema del gradiente», y el capítulo 4, «Atención».
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from libroia._checks import check_choice, check_float, check_int, check_numpy, describe_shape
from libroia.attention import (
    MultiHeadAttention,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from libroia.positions import sinusoidal_positions
from libroia.rnn import clip_grad_norm, recurrent_matrix, rnn_backward, rnn_forward
from libroia.tasks import first_token_batch, first_value_batch

__all__ = [
    "RECALL_KINDS",
    "AttentionClassifier",
    "RecurrentClassifier",
    "compare_recall",
    "input_grad_norms",
    "recall_model",
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


# --- RNN, GRU, LSTM y atención en la tarea «recuerda el primer símbolo» --------------------

RECURRENT_KINDS = ("rnn", "gru", "lstm")
RECALL_KINDS = (*RECURRENT_KINDS, "attention")


class RecurrentClassifier(nn.Module):
    """Una capa recurrente y una capa lineal final que lee el último estado oculto.

    ``kind`` es ``"rnn"`` (Elman con tanh, ecuación eq-rnn del capítulo 3), ``"gru"``
    (``torch.nn.GRU``, Cho et al., 2014, ecuación eq-gru) o ``"lstm"`` (``torch.nn.LSTM``,
    ecuación eq-lstm). ``forward(x)`` recibe ``x`` (N, T, n_inputs) y devuelve los logits
    (N, n_classes) calculados con h_T.

    ``forget_bias`` fija el sesgo total de la puerta que decide cuánto estado se conserva:
    la de olvido f en la LSTM y la de actualización z en la GRU (en la convención de PyTorch
    y de Cho et al., h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃_t, así que z es lo que se conserva).
    Con sesgo b esa puerta empieza en σ(b). ``None`` deja la inicialización de PyTorch
    (puerta ≈ σ(0) = 0.5). No existe para ``"rnn"``, que no tiene puertas. ``seed`` hace
    reproducible la inicialización sin tocar el estado global de ``torch``.

    Ejemplo::

        >>> model = RecurrentClassifier("gru", n_inputs=8, n_classes=4, d_h=16,
        ...                             forget_bias=2.0, seed=0)
        >>> tuple(model(torch.zeros(3, 10, 8)).shape)                   # (N, n_classes)
        (3, 4)
        >>> b = model.recurrent.bias_ih_l0 + model.recurrent.bias_hh_l0  # (r, z, n)
        >>> b[16:32].tolist() == [2.0] * 16                              # la puerta z
        True
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
        if kind == "attention":
            raise ValueError(
                "`kind` debe ser uno de \"rnn\", \"gru\", \"lstm\", pero vale 'attention': "
                "para la atención usa AttentionClassifier (o compare_recall con "
                "kind='attention')"
            )
        kind = check_choice("kind", kind, RECURRENT_KINDS)
        n_inputs = check_int("n_inputs", n_inputs, min_value=1)
        n_classes = check_int("n_classes", n_classes, min_value=2)
        d_h = check_int("d_h", d_h, min_value=1)
        if forget_bias is not None:
            if kind == "rnn":
                raise ValueError(
                    "`forget_bias` solo tiene sentido con kind='lstm' o kind='gru', "
                    "pero kind vale 'rnn'"
                )
            forget_bias = check_float("forget_bias", forget_bias)
        self.kind, self.n_inputs, self.d_h = kind, n_inputs, d_h
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
            self.recurrent = cell(n_inputs, d_h, batch_first=True)
            self.readout = nn.Linear(d_h, n_classes)
        if forget_bias is not None:
            # PyTorch ordena las puertas como (i, f, g, o) en la LSTM y (r, z, n) en la GRU:
            # en las dos, la que conserva el estado ocupa el segundo bloque de d_h filas.
            with torch.no_grad():
                self.recurrent.bias_ih_l0[d_h : 2 * d_h] = forget_bias
                self.recurrent.bias_hh_l0[d_h : 2 * d_h] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.n_inputs)
        H, _ = self.recurrent(x)  # (N, T, d_h)
        return self.readout(H[:, -1])  # (N, n_classes)


class AttentionClassifier(nn.Module):
    """Una capa de atención multicabeza cuya última posición decide la clase (capítulo 4).

    Con ``x`` (N, T, n_inputs) en *one-hot*: incrustación ``E = x W_E`` (una fila de
    ``W_E`` por símbolo, como ``nn.Embedding``), más las posiciones senoidales
    ``P`` (T, d_h); después ``MultiHeadAttention`` causal (ecuación eq-multicabeza del
    capítulo 4) y una capa lineal sobre la salida de la última posición, (N, n_classes).
    Como solo importa la última posición, se calcula solo su fila de la atención: su
    consulta contra las claves de las T posiciones (las pruebas comprueban que coincide
    con la última fila de ``self.attention(E + P, causal=True)``).
    No hay recurrencia: la última posición puede dar peso a la posición 0 en un solo paso,
    sea cual sea T. ``d_h`` es el ancho d (par, por las posiciones senoidales) y
    ``n_heads`` debe dividirlo. ``seed`` fija la inicialización sin tocar el estado global.

    Ejemplo::

        >>> model = AttentionClassifier(n_inputs=8, n_classes=4, d_h=16, seed=0)
        >>> x = torch.nn.functional.one_hot(torch.tensor([[1, 5, 6, 4]]), 8).float()
        >>> tuple(model(x).shape)                              # (N, n_classes)
        (1, 4)
        >>> w = model.last_weights(x)                          # (N, h, T)
        >>> tuple(w.shape), round(w.sum().item(), 4)
        ((1, 1, 4), 1.0)
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        d_h: int = 32,
        *,
        n_heads: int = 1,
        seed: int | None = None,
    ):
        super().__init__()
        n_inputs = check_int("n_inputs", n_inputs, min_value=1)
        n_classes = check_int("n_classes", n_classes, min_value=2)
        d_h = check_int("d_h", d_h, min_value=2)
        if d_h % 2:
            raise ValueError(
                f"`d_h` debe ser par (las posiciones senoidales van por pares), pero vale {d_h}"
            )
        n_heads = check_int("n_heads", n_heads, min_value=1)
        if d_h % n_heads:
            raise ValueError(
                f"`d_h` debe ser divisible por `n_heads`, pero d_h = {d_h} y n_heads = {n_heads}"
            )
        self.kind, self.n_inputs, self.d_h = "attention", n_inputs, d_h
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.embed = nn.Linear(n_inputs, d_h, bias=False)
            self.attention = MultiHeadAttention(d_h, n_heads)
            self.readout = nn.Linear(d_h, n_classes)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.n_inputs)
        return self.embed(x) + sinusoidal_positions(x.shape[1], self.d_h)  # (N, T, d_h)

    def _last_position(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Solo la última posición pregunta: su consulta contra las claves de todas. Es la
        # última fila de MultiHeadAttention con máscara causal, sin calcular las demás.
        e, att = self._embed(x), self.attention  # (N, T, d_h)
        q = split_heads(att.q_proj(e[:, -1:]), att.n_heads)  # (N, h, 1, d_h/h)
        k = split_heads(att.k_proj(e), att.n_heads)  # (N, h, T, d_h/h)
        v = split_heads(att.v_proj(e), att.n_heads)  # (N, h, T, d_h/h)
        out, weights = scaled_dot_product_attention(q, k, v)  # (N, h, 1, d_h/h), (N, h, 1, T)
        return att.out_proj(merge_heads(out))[:, -1], weights[..., 0, :]  # (N, d_h), (N, h, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self._last_position(x)  # (N, d_h): lo que la última posición leyó
        return self.readout(out)  # (N, n_classes)

    def last_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Pesos de atención de la última posición, (N, h, T): a qué posición mira al decidir."""
        with torch.no_grad():
            return self._last_position(x)[1]


def _check_input(x: torch.Tensor, n_inputs: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` debe ser un tensor de PyTorch, pero es {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != n_inputs or x.shape[1] < 1:
        raise ValueError(
            f"`x` debe tener forma (N, T, n_inputs) con n_inputs = {n_inputs}, "
            f"pero tiene forma {describe_shape(x.shape)}"
        )


def recall_model(
    kind: str, n_inputs: int, n_classes: int, d_h: int = 32, **kwargs
) -> RecurrentClassifier | AttentionClassifier:
    """El modelo de la tarea de recuerdo según ``kind`` (uno de :data:`RECALL_KINDS`).

    ``"attention"`` da un :class:`AttentionClassifier`; el resto, un
    :class:`RecurrentClassifier`. ``kwargs`` pasa al constructor (``seed``,
    ``forget_bias``, ``n_heads``…).

    Ejemplo::

        >>> type(recall_model("attention", 8, 4, d_h=16)).__name__
        'AttentionClassifier'
        >>> recall_model("gru", 8, 4, d_h=16).kind
        'gru'
    """
    kind = check_choice("kind", kind, RECALL_KINDS)
    if kind == "attention":
        return AttentionClassifier(n_inputs, n_classes, d_h, **kwargs)
    return RecurrentClassifier(kind, n_inputs, n_classes, d_h, **kwargs)


RecallModel = RecurrentClassifier | AttentionClassifier


def _check_model(model: object) -> RecallModel:
    if not isinstance(model, (RecurrentClassifier, AttentionClassifier)):
        raise TypeError(
            "`model` debe ser un RecurrentClassifier o un AttentionClassifier, "
            f"pero es {type(model).__name__}"
        )
    return model


def _one_hot(model: RecallModel, tokens: np.ndarray) -> torch.Tensor:
    if tokens.size and (tokens.min() < 0 or tokens.max() >= model.n_inputs):
        raise ValueError(
            f"`tokens` debe contener símbolos entre 0 y `n_inputs` - 1 = {model.n_inputs - 1}, "
            f"pero va de {int(tokens.min())} a {int(tokens.max())}"
        )
    ids = torch.as_tensor(tokens, dtype=torch.int64)
    return nn.functional.one_hot(ids, model.n_inputs).float()  # (N, T, V)


def train_recall(
    model: RecallModel,
    *,
    T: int,
    steps: int = 300,
    lr: float = 5e-3,
    batch: int = 64,
    n_symbols: int = 4,
    seed: int = 0,
    max_norm: float | None = None,
    n_test: int = 1000,
    optimizer: str = "adam",
) -> dict:
    """Entrena ``model`` en «recuerda el primer símbolo» (:func:`first_token_batch`).

    ``model`` es un :class:`RecurrentClassifier` o un :class:`AttentionClassifier`. Cada
    paso toma un lote nuevo de ``batch`` secuencias de longitud ``T`` y mueve los pesos con
    ``torch.optim.Adam`` (ecuación eq-adam del capítulo 3) o, con ``optimizer="sgd"``, con
    descenso por gradiente simple (``torch.optim.SGD``, θ ← θ − lr · g). Los distractores
    ocupan el resto de las entradas: ``n_distractors = n_inputs - n_symbols``. Con
    ``max_norm`` se recorta la norma global del gradiente antes de cada paso
    (``torch.nn.utils.clip_grad_norm_``). Devuelve ``{"loss": (steps,), "accuracy":
    float}``, con la exactitud medida sobre ``n_test`` secuencias nuevas (el azar da
    ``1 / n_symbols``).

    Ejemplo::

        >>> model = RecurrentClassifier("gru", n_inputs=8, n_classes=4, d_h=8, seed=0)
        >>> result = train_recall(model, T=3, steps=5, n_test=10)
        >>> result["loss"].shape, 0.0 <= result["accuracy"] <= 1.0
        ((5,), True)
    """
    model = _check_model(model)
    T = check_int("T", T, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    batch = check_int("batch", batch, min_value=1)
    n_test = check_int("n_test", n_test, min_value=1)
    n_symbols = check_int("n_symbols", n_symbols, min_value=2, max_value=model.n_inputs - 1)
    lr = check_float("lr", lr, min_value=0.0, min_inclusive=False)
    if max_norm is not None:
        max_norm = check_float("max_norm", max_norm, min_value=0.0, min_inclusive=False)
    optimizer = check_choice("optimizer", optimizer, ("adam", "sgd"))
    n_distractors = model.n_inputs - n_symbols
    rng = np.random.default_rng(seed)
    make_opt = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    opt = make_opt(model.parameters(), lr=lr)
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


def input_grad_norms(model: RecallModel, tokens, y) -> np.ndarray:
    """Norma media del gradiente de la pérdida respecto a cada entrada, ‖∂L/∂x_t‖.

    Parámetros: ``model`` un :class:`RecurrentClassifier` o un :class:`AttentionClassifier`,
    ``tokens`` (N, T) enteros, ``y`` (N,) las clases correctas.
    Devuelve un arreglo (T,) con la media sobre el lote; la posición 0 es la primera.
    No modifica los gradientes guardados en los parámetros del modelo.

    Ejemplo::

        >>> model = RecurrentClassifier("rnn", n_inputs=8, n_classes=4, d_h=8, seed=0)
        >>> tokens, y = first_token_batch(16, 5, rng=0)     # (16, 5), (16,)
        >>> input_grad_norms(model, tokens, y).shape
        (5,)
    """
    model = _check_model(model)
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

    ``models`` asocia una etiqueta a los argumentos de :func:`recall_model` salvo las
    dimensiones: ``kind`` (``"rnn"``, ``"gru"``, ``"lstm"`` o ``"attention"``) y sus
    opciones, por ejemplo ``{"RNN": {"kind": "rnn"}, "LSTM": {"kind": "lstm",
    "forget_bias": 3.0}, "atención": {"kind": "attention"}}``. La semilla fija a la vez la
    inicialización y los datos, así que todos los modelos ven los mismos lotes.
    ``train_kwargs`` pasa a :func:`train_recall` (``steps``, ``lr``, ``max_norm``…).

    Devuelve ``{"accuracy": {etiqueta: (len(lengths), len(seeds))}, "models": {etiqueta:
    {(T, semilla): modelo entrenado}}}``.

    Ejemplo::

        >>> out = compare_recall({"GRU": {"kind": "gru"}}, [3], [0], d_h=8, steps=5,
        ...                      n_test=10)
        >>> out["accuracy"]["GRU"].shape
        (1, 1)
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"`models` debe ser un diccionario no vacío, pero vale {models!r:.80}")
    for name, kwargs in models.items():
        if not isinstance(kwargs, dict) or "kind" not in kwargs:
            raise ValueError(
                f"`models[{name!r}]` debe ser un diccionario con la clave 'kind', "
                f"pero vale {kwargs!r:.80}"
            )
        check_choice(f"models[{name!r}]['kind']", kwargs["kind"], RECALL_KINDS)
    lengths = [check_int("lengths", T, min_value=1) for T in lengths]
    seeds = [check_int("seeds", s) for s in seeds]
    accuracy = {name: np.zeros((len(lengths), len(seeds))) for name in models}
    trained: dict[str, dict] = {name: {} for name in models}
    for i, T in enumerate(lengths):
        for j, seed in enumerate(seeds):
            for name, kwargs in models.items():
                model = recall_model(
                    n_inputs=n_symbols + n_distractors, n_classes=n_symbols, d_h=d_h,
                    seed=seed, **kwargs,
                )
                result = train_recall(model, T=T, seed=seed, n_symbols=n_symbols, **train_kwargs)
                accuracy[name][i, j] = result["accuracy"]
                trained[name][(T, seed)] = model
    return {"accuracy": accuracy, "models": trained}
