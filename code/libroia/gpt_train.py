"""Entrenar el GPT del libro en la CPU, o cargar sus pesos de una caché.

:func:`train_or_load` tokeniza la prosa del libro (:mod:`libroia.corpus`,
:mod:`libroia.tokenizer`), entrena :class:`libroia.gpt.GPT` con AdamW y guarda el
resultado bajo una clave que resume todo lo que lo determina: el texto, la
configuración, la semilla, la versión de PyTorch y el código fuente de los
módulos que ejecuta el entrenamiento (:func:`training_modules`, sacados del grafo
de importaciones, no de una lista escrita a mano). Si la clave ya está en la
caché, carga los mismos pesos en lugar de volver a entrenar. Así los capítulos 6
a 10 reutilizan el modelo que entrena el capítulo 5.

Este módulo está por encima del modelo: importa :mod:`libroia.gpt`, nunca al revés.
La caché vive en ``$LIBROIA_CACHE/gpt`` (por defecto ``~/.cache/libroia/gpt``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from libroia._checks import check_int, check_text
from libroia.corpus import book_prose, text_fingerprint, train_val_split
from libroia.gpt import GPT, GPTConfig
from libroia.tokenizer import BPETokenizer

__all__ = [
    "MIN_LR_FRACTION",
    "WEIGHT_DECAY",
    "TrainResult",
    "cache_dir",
    "complete",
    "encode_prompt",
    "lr_at",
    "make_optimizer",
    "train_or_load",
    "train_step",
    "training_modules",
    "warmup_steps",
]

#: Hilos de PyTorch durante el entrenamiento. Con matrices tan pequeñas, un segundo hilo
#: apenas acelera y, si otros procesos ocupan la CPU, la espera entre hilos lo hace
#: varias veces más lento. Uno solo, además, da los mismos pesos en cualquier máquina
#: con el mismo juego de instrucciones, tenga los núcleos que tenga.
TRAIN_THREADS = 1
_EVAL_POINTS = 16  # veces que se mide la pérdida durante el entrenamiento
_PRINT_POINTS = 4  # líneas de progreso (además de la final)
_PROBE = 48  # ventanas con las que se mide la pérdida durante el entrenamiento
#: Tasa de aprendizaje final de :func:`lr_at`, como fracción de la máxima ``config.lr``.
MIN_LR_FRACTION = 0.1
#: Decaimiento de pesos de AdamW (:func:`make_optimizer`), el λ de la ecuación ``eq-adamw``.
WEIGHT_DECAY = 0.1


@dataclass
class TrainResult:
    """Lo que devuelve :func:`train_or_load`.

    ``model`` (en modo evaluación), ``tokenizer``, ``history`` (listas ``"step"``,
    ``"train_loss"``, ``"val_loss"``, en nats por token, medidas en una muestra fija de
    ventanas), ``val_loss`` (pérdida final en todo el conjunto de validación),
    ``train_seconds`` (lo que tardó esta llamada: casi 0 si vino de la caché),
    ``from_cache``, ``recorded_train_seconds`` (lo que tardó el entrenamiento cuando se
    hizo de verdad), ``config`` y ``key`` (la clave de la caché).
    """

    model: GPT
    tokenizer: object
    history: dict[str, list]
    val_loss: float
    train_seconds: float
    from_cache: bool
    recorded_train_seconds: float
    config: GPTConfig
    key: str


@contextmanager
def _threads(n: int):
    """Fija ``n`` hilos de PyTorch mientras dura el bloque y restaura los de antes."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cache_dir() -> Path:
    """Carpeta de la caché de modelos: ``$LIBROIA_CACHE/gpt`` o ``~/.cache/libroia/gpt``."""
    root = os.environ.get("LIBROIA_CACHE") or Path.home() / ".cache" / "libroia"
    return Path(root) / "gpt"


def _imported_libroia_modules(path: Path) -> set[str]:
    """Módulos ``libroia.*`` que importa el archivo ``path`` al ejecutarse.

    Cuentan las importaciones de cualquier nivel (también dentro de funciones, que
    se ejecutan al llamarlas), salvo las de un bloque ``if TYPE_CHECKING:``, que
    solo leen los comprobadores de tipos.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == "libroia" or n.startswith("libroia."))
    return found


def training_modules(root: str | Path | None = None) -> list[str]:
    """Archivos de :mod:`libroia` que ejecuta el entrenamiento, relativos al paquete.

    Recorre el grafo de importaciones desde este módulo (:mod:`libroia.gpt_train`):
    el modelo, sus piezas (atención, máscaras, posiciones, activaciones,
    comprobaciones...), el tokenizador y el corpus, y lo que importen ellos. Lo que
    está por encima del entrenamiento, como :mod:`libroia.gpt_analysis`, queda
    fuera: no puede cambiar los pesos. ``root`` es la carpeta del paquete (la de
    este archivo si se omite).

    >>> mods = training_modules()
    >>> "masks.py" in mods, "attention.py" in mods, "gpt_analysis.py" in mods
    (True, True, False)
    """
    root = Path(__file__).parent if root is None else Path(root)
    seen: dict[str, Path] = {}
    pending = ["libroia", "libroia.gpt_train"]
    while pending:
        name = pending.pop()
        parts = name.split(".")[1:]
        candidates = [root.joinpath(*parts).with_suffix(".py") if parts else None,
                      root.joinpath(*parts, "__init__.py")]
        path = next((c for c in candidates if c is not None and c.is_file()), None)
        if path is None:  # un nombre importado de un módulo, no un módulo
            continue
        rel = path.relative_to(root).as_posix()
        if rel in seen:
            continue
        seen[rel] = path
        pending.extend(_imported_libroia_modules(path))
        if path.name == "__init__.py" and parts:  # importar a.b ejecuta también a/__init__
            pending.append(".".join(name.split(".")[:-1]))
    return sorted(seen)


def _sources_digest(root: Path | None = None) -> str:
    """Huella (SHA-256) del código de :func:`training_modules`."""
    root = Path(__file__).parent if root is None else root
    digest = hashlib.sha256()
    for rel in training_modules(root):
        digest.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def _cache_key(text: str, config: GPTConfig) -> str:
    payload = {
        "text": text_fingerprint(text),
        "config": asdict(config),
        "sources": _sources_digest(),
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _windows(ids: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Parte ``ids`` en ventanas consecutivas sin solaparse: ``x, y`` de forma ``(M, T)``."""
    M = (len(ids) - 1) // T
    x = ids[: M * T].view(M, T)  # (M, T)
    y = ids[1 : M * T + 1].view(M, T)  # (M, T), desplazada un token
    return x, y


@torch.no_grad()
def _loss(model: GPT, x: torch.Tensor, y: torch.Tensor, batch: int = 64) -> float:
    """Entropía cruzada media (nats/token) de ``model`` sobre las ventanas ``x, y``.

    Mide en modo evaluación (sin *dropout*) y deja el modelo en el modo en que estaba.
    """
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for i in range(0, len(x), batch):
            logits = model(x[i : i + batch])  # (N, T, V)
            total += F.cross_entropy(
                logits.flatten(0, 1), y[i : i + batch].flatten(), reduction="sum"
            )
    finally:
        model.train(was_training)
    return float(total) / y.numel()


def _check_config(config: GPTConfig) -> GPTConfig:
    if not isinstance(config, GPTConfig):
        raise TypeError(f"`config` debe ser un GPTConfig, pero es {type(config).__name__}")
    return config


def warmup_steps(config: GPTConfig) -> int:
    """Pasos de calentamiento de :func:`lr_at`: el 10 % de ``config.steps``, al menos 1.

    Es :math:`S_w` en la ecuación ``eq-tasa-coseno`` del capítulo 5.

    >>> warmup_steps(GPTConfig(steps=300)), warmup_steps(GPTConfig(steps=5))
    (30, 1)
    """
    return max(1, _check_config(config).steps // 10)


def lr_at(step: int, config: GPTConfig) -> float:
    """Tasa de aprendizaje del paso ``step`` (contando desde 0) al entrenar con ``config``.

    Calentamiento lineal durante :func:`warmup_steps` pasos (:math:`S_w`) hasta
    ``config.lr`` (:math:`\\eta_{\\max}`) y después medio coseno que baja hasta
    :math:`\\eta_{\\min} = \\eta_{\\max}/10` en el paso ``config.steps`` (:math:`S`).
    Es la ecuación ``eq-tasa-coseno`` del capítulo 5:

    .. math::

        \\eta(s) = \\eta_{\\max} \\frac{s + 1}{S_w} \\quad (s < S_w), \\qquad
        \\eta(s) = \\eta_{\\min} + \\tfrac{1}{2}(\\eta_{\\max} - \\eta_{\\min})
        \\Big(1 + \\cos \\frac{\\pi (s - S_w)}{S - S_w}\\Big) \\quad (s \\ge S_w).

    ``step`` es un entero entre 0 y ``config.steps``; el bucle de entrenamiento usa
    los pasos 0 a ``config.steps - 1``.

    >>> config = GPTConfig(steps=300, lr=0.01)
    >>> [round(lr_at(s, config), 5) for s in (0, 29, 165, 300)]
    [0.00033, 0.01, 0.0055, 0.001]
    """
    config = _check_config(config)
    step = check_int("step", step, min_value=0, max_value=config.steps)
    warmup = warmup_steps(config)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    lr_min = config.lr * MIN_LR_FRACTION
    return lr_min + 0.5 * (config.lr - lr_min) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: GPT, lr: float, weight_decay: float = WEIGHT_DECAY) -> torch.optim.AdamW:
    """AdamW con decaimiento de pesos solo en las matrices (no en sesgos ni normas).

    Es la actualización de la ecuación ``eq-adamw`` del capítulo 5, con
    :math:`\\lambda` = ``weight_decay`` y :math:`(\\beta_1, \\beta_2) = (0.9, 0.95)`.
    """
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.95),
    )  # fmt: skip


def train_step(
    model: GPT, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> float:
    """Un paso de descenso: pérdida de ``x`` ``(N, T)`` frente a ``y`` ``(N, T)``, gradiente,
    recorte de su norma a 1 y actualización. Devuelve la pérdida (nats/token) antes del paso.

    ``y`` es ``x`` desplazada un token: ``y[:, t]`` es el token que sigue a ``x[:, t]``.
    """
    logits = model(x)  # (N, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach())


def _train(model, train_ids, val_ids, config, progress):
    """Bucle de entrenamiento: AdamW, recorte de gradiente y evaluación periódica."""
    T, N = config.context, config.batch_size
    gen = torch.Generator().manual_seed(config.seed)
    opt = make_optimizer(model, config.lr)
    val_x, val_y = _windows(val_ids, T)
    train_x, train_y = _windows(train_ids, T)
    # Ventanas fijas, repartidas por todo el texto, para seguir la pérdida por el camino.
    pick = torch.randperm(len(train_x), generator=gen)[:_PROBE]
    probe = (train_x[pick], train_y[pick])
    spread = torch.linspace(0, len(val_x) - 1, min(_PROBE, len(val_x))).round().long()
    val_probe = (val_x[spread], val_y[spread])
    eval_steps = sorted({round(i * config.steps / _EVAL_POINTS) for i in range(_EVAL_POINTS + 1)})
    print_steps = {eval_steps[round(i * (len(eval_steps) - 1) / _PRINT_POINTS)]
                   for i in range(1, _PRINT_POINTS + 1)}
    history = {"step": [], "train_loss": [], "val_loss": []}
    offsets = torch.arange(T + 1)  # (T + 1,)
    start = time.perf_counter()
    model.train()
    for step in range(config.steps + 1):
        if step in eval_steps:
            history["step"].append(step)
            history["train_loss"].append(_loss(model, *probe))
            history["val_loss"].append(_loss(model, *val_probe))
            if progress and step in print_steps:
                print(
                    f"paso {step:>5}/{config.steps} · pérdida: entrenamiento "
                    f"{history['train_loss'][-1]:.3f}, validación {history['val_loss'][-1]:.3f}"
                    f" · {time.perf_counter() - start:.1f} s",
                    flush=True,
                )
        if step == config.steps:
            break
        starts = torch.randint(len(train_ids) - T, (N,), generator=gen)  # (N,)
        chunk = train_ids[starts[:, None] + offsets]  # (N, T + 1)
        x, y = chunk[:, :-1], chunk[:, 1:]  # (N, T)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, config)
        train_step(model, opt, x, y)
    model.eval()
    return history, _loss(model, val_x, val_y)


def train_or_load(
    config: GPTConfig | None = None,
    *,
    text: str | None = None,
    progress: bool = True,
    use_cache: bool = True,
) -> TrainResult:
    """Entrena el GPT (tokenizador incluido) o carga el mismo resultado de la caché.

    Parámetros
    ----------
    config : forma y receta (por defecto ``GPTConfig()``, el modelo del libro).
    text : texto de entrenamiento; por defecto la prosa del libro
        (:func:`libroia.corpus.book_prose`). Se divide en entrenamiento y validación con
        :func:`libroia.corpus.train_val_split`.
    progress : imprime unas pocas líneas de progreso.
    use_cache : busca y guarda el resultado en :func:`cache_dir`.

    Devuelve
    --------
    :class:`TrainResult`. El entrenamiento es determinista en la CPU: misma clave,
    mismos pesos.
    """
    config = GPTConfig() if config is None else config
    if not isinstance(config, GPTConfig):
        raise TypeError(f"`config` debe ser un GPTConfig, pero es {type(config).__name__}")
    if config.vocab_size < 256:
        raise ValueError(
            "`vocab_size` debe ser ≥ 256 (el tokenizador parte de los 256 bytes), "
            f"pero vale {config.vocab_size}"
        )
    text = book_prose() if text is None else check_text("text", text)
    key = _cache_key(text, config)
    weights_path = cache_dir() / f"{key}.pt"
    tok_path = cache_dir() / f"{key}.tokenizer"
    start = time.perf_counter()
    if use_cache and weights_path.exists() and tok_path.exists():
        saved = torch.load(weights_path, weights_only=True)
        model = GPT(config)
        model.load_state_dict(saved["state_dict"])
        model.eval()
        return TrainResult(
            model=model, tokenizer=BPETokenizer.load(tok_path), history=saved["history"],
            val_loss=saved["val_loss"], train_seconds=time.perf_counter() - start,
            from_cache=True, recorded_train_seconds=saved["train_seconds"], config=config,
            key=key,
        )
    train_text, val_text = train_val_split(text)
    tokenizer = BPETokenizer.train(train_text, config.vocab_size)
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    for name, ids in (("entrenamiento", train_ids), ("validación", val_ids)):
        if len(ids) < config.context + 1:
            raise ValueError(
                f"`text` es demasiado corto: la parte de {name} tiene {len(ids)} tokens y "
                f"hacen falta al menos context + 1 = {config.context + 1}"
            )
    with torch.random.fork_rng(devices=[]), _threads(TRAIN_THREADS):
        torch.manual_seed(config.seed)
        model = GPT(config)
        history, val_loss = _train(model, train_ids, val_ids, config, progress)
    model.eval()  # se devuelve listo para usar: sin dropout, como el de la caché
    seconds = time.perf_counter() - start
    if progress:
        print(f"listo en {seconds:.1f} s · pérdida de validación final {val_loss:.3f}", flush=True)
    if use_cache:
        cache_dir().mkdir(parents=True, exist_ok=True)
        payload = {"state_dict": model.state_dict(), "history": history,
                   "val_loss": val_loss, "train_seconds": seconds}
        tmp_tok = tok_path.with_suffix(f".tmp{os.getpid()}")
        tokenizer.save(tmp_tok)
        os.replace(tmp_tok, tok_path)
        tmp = weights_path.with_suffix(f".tmp{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, weights_path)  # la caché solo «existe» cuando todo está escrito
    return TrainResult(
        model=model, tokenizer=tokenizer, history=history, val_loss=val_loss,
        train_seconds=seconds, from_cache=False, recorded_train_seconds=seconds,
        config=config, key=key,
    )


def encode_prompt(tokenizer, text: str) -> torch.Tensor:
    """Convierte ``text`` en el tensor ``(1, T)`` de ids que espera :meth:`GPT.generate`."""
    text = check_text("text", text, allow_empty=False)
    return torch.tensor([tokenizer.encode(text)], dtype=torch.long)  # (1, T)


def complete(
    result: TrainResult,
    prompt: str,
    max_new_tokens: int,
    next_token: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> str:
    """Continúa ``prompt`` con el modelo de ``result`` y devuelve el texto completo.

    ``next_token`` elige el siguiente id a partir de los logits ``(1, V)``; por defecto,
    el más probable. El resultado empieza por ``prompt``.
    """
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=0)
    idx = encode_prompt(result.tokenizer, prompt)  # (1, T)
    out = result.model.generate(idx, max_new_tokens, next_token=next_token)  # (1, T + nuevos)
    return result.tokenizer.decode(out[0].tolist())
