"""Un GPT diminuto: transformer solo decodificador en PyTorch.

Cada bloque es *pre-norm* (Radford et al., 2019)::

    x ← x + Atención(Norm(x))        atención causal de h cabezas
    x ← x + MLP(Norm(x))             red de dos capas con activación elegible

y el modelo completo es::

    incrustación de la ficha (+ posición)  ->  L bloques  ->  Norm  ->  cabeza lineal  ->  logits

Formas: ``N`` lote, ``T`` tiempo, ``d`` ancho, ``h`` cabezas, ``d_h = d/h``,
``V`` vocabulario, ``L`` capas. La atención causal la calcula
:func:`libroia.attention.scaled_dot_product_attention` (capítulo 4). El entrenamiento
y la caché de pesos están en :mod:`libroia.gpt_train`, pero se importan desde aquí:
``from libroia.gpt import train_or_load``.

Capítulo 5, «El transformer por dentro».
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from libroia._checks import check_float, check_int, describe_shape
from libroia.activations import MLP, check_activation
from libroia.attention import scaled_dot_product_attention
from libroia.gpt_analysis import count_parameters_formula, head_patterns
from libroia.gpt_train import (
    TrainResult,
    cache_dir,
    complete,
    encode_prompt,
    make_optimizer,
    train_or_load,
    train_step,
)
from libroia.positions import rotary_angles, rotate_pairs, sinusoidal_positions

__all__ = [
    "GPT",
    "GPTConfig",
    "KVCache",
    "TrainResult",
    "cache_dir",
    "complete",
    "count_parameters_formula",
    "encode_prompt",
    "head_patterns",
    "make_optimizer",
    "train_or_load",
    "train_step",
]

POSITIONS = ("learned", "sinusoidal", "rope")
NORMS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class GPTConfig:
    """Forma del modelo y receta de entrenamiento. Los valores por defecto son el
    modelo del libro, el que se entrena en el capítulo 5 y usan los siguientes.

    Forma: ``vocab_size`` (V), ``context`` (T máximo), ``d_model`` (d), ``n_layers`` (L),
    ``n_heads`` (h), ``mlp_ratio`` (ancho oculto = ``mlp_ratio · d`` salvo que se dé
    ``mlp_hidden``), ``activation`` (``"relu"``, ``"gelu"``, ``"silu"``, ``"swiglu"``),
    ``positions`` (``"learned"``, ``"sinusoidal"``, ``"rope"``), ``norm``
    (``"layernorm"``, ``"rmsnorm"``), ``bias`` (sesgos en capas lineales y normas),
    ``tie_embeddings`` (la cabeza reutiliza la matriz de incrustación).

    Entrenamiento: ``steps``, ``batch_size``, ``lr`` (tasa máxima de AdamW),
    ``dropout`` y ``seed``.

    El modelo por defecto (V = 1024, d = 64, L = 2, h = 4, RoPE, unos 230 000
    parámetros) se eligió para entrenar en unos 15 s de un núcleo de CPU con el texto
    del libro. Con tan pocos pasos, una cabeza de salida propia
    (``tie_embeddings=False``) aprende bastante antes que reutilizar la tabla de
    incrustaciones, y RoPE da menor pérdida que las posiciones aprendidas o
    senoidales y cabezas de atención con patrones más claros.
    """

    vocab_size: int = 1024
    context: int = 64
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: int = 4
    activation: str = "gelu"
    positions: str = "rope"
    dropout: float = 0.0
    norm: str = "layernorm"
    bias: bool = True
    tie_embeddings: bool = False
    mlp_hidden: int | None = None
    steps: int = 300
    batch_size: int = 16
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "context", "d_model", "n_layers", "n_heads", "mlp_ratio"):
            check_int(name, getattr(self, name), min_value=1)
        for name in ("steps", "batch_size"):
            check_int(name, getattr(self, name), min_value=1)
        check_int("seed", self.seed, min_value=0)
        if self.mlp_hidden is not None:
            check_int("mlp_hidden", self.mlp_hidden, min_value=1)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"`d_model` debe ser divisible por `n_heads` para repartir el ancho entre las "
                f"cabezas, pero d_model = {self.d_model} y n_heads = {self.n_heads}"
            )
        check_activation("activation", self.activation)
        _check_choice("positions", self.positions, POSITIONS)
        _check_choice("norm", self.norm, NORMS)
        if self.positions == "sinusoidal" and self.d_model % 2:
            raise ValueError(
                f"`d_model` debe ser par con posiciones senoidales, pero vale {self.d_model}"
            )
        if self.positions == "rope" and self.d_head % 2:
            raise ValueError(
                f"con `positions`=\"rope\" el ancho de cabeza d_model/n_heads debe ser par, "
                f"pero vale {self.d_head}"
            )
        check_float("dropout", self.dropout, min_value=0.0, max_value=1.0, max_inclusive=False)
        check_float("lr", self.lr, min_value=0.0, min_inclusive=False)
        for name in ("bias", "tie_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` debe ser True o False, pero es {getattr(self, name)!r}")

    @property
    def d_head(self) -> int:
        """Ancho de cada cabeza, ``d_h = d / h``."""
        return self.d_model // self.n_heads

    @property
    def hidden(self) -> int:
        """Ancho de la capa oculta de la MLP."""
        return self.mlp_hidden if self.mlp_hidden is not None else self.mlp_ratio * self.d_model


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        opciones = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(f"`{name}` debe ser una de {opciones}, pero vale {value!r}")


class KVCache:
    """Caché de claves y valores: para cada capa, tensores ``(N, h, T_pasado, d_h)``.

    Al generar, cada ficha nueva solo necesita calcular su propia consulta, clave y
    valor; las claves y valores de las fichas anteriores no cambian (la atención es
    causal), así que se guardan aquí en lugar de recalcularlos.
    """

    def __init__(self, n_layers: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers

    @property
    def length(self) -> int:
        """Número de posiciones ya guardadas."""
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Añade ``k, v`` ``(N, h, T, d_h)`` a la capa ``layer`` y devuelve todo lo guardado."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)  # (N, h, T_pasado + T, d_h)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


def _make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.d_model, eps=1e-5)
    return nn.LayerNorm(config.d_model, bias=config.bias)


class CausalSelfAttention(nn.Module):
    """Atención causal de ``h`` cabezas: ``(N, T, d) -> (N, T, d)``."""

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.config, self.layer = config, layer
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor, cache: KVCache | None, rope=None):
        N, T, d = x.shape
        h, d_h = self.config.n_heads, self.config.d_head
        q, k, v = self.qkv(x).split(d, dim=-1)  # 3 × (N, T, d)
        q, k, v = (t.view(N, T, h, d_h).transpose(1, 2) for t in (q, k, v))  # (N, h, T, d_h)
        if rope is not None:  # cos y sin (T, d_h/2) de las posiciones de estas fichas
            q, k = rotate_pairs(q, *rope), rotate_pairs(k, *rope)  # (N, h, T, d_h)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)  # (N, h, T_k, d_h)
        T_k = k.shape[2]
        if T_k == T:
            out, weights = scaled_dot_product_attention(q, k, v, causal=True)
        elif T == 1:  # una sola ficha nueva: puede mirar toda la caché
            out, weights = scaled_dot_product_attention(q, k, v)
        else:  # varias fichas nuevas al final: cada una ve la caché y las nuevas anteriores
            mask = torch.ones(T, T_k, dtype=torch.bool).tril(diagonal=T_k - T)  # (T, T_k)
            out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        out = out.transpose(1, 2).reshape(N, T, d)  # (N, T, d)
        return self.proj(out), weights  # (N, T, d), (N, h, T, T_k)


class Block(nn.Module):
    """Bloque pre-norm: ``x + Atención(Norm(x))`` y luego ``x + MLP(Norm(x))``."""

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.norm1, self.norm2 = _make_norm(config), _make_norm(config)
        self.attn = CausalSelfAttention(config, layer)
        self.mlp = MLP(config.d_model, config.hidden, config.activation, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None, rope=None):
        a, weights = self.attn(self.norm1(x), cache, rope)
        x = x + self.drop(a)  # (N, T, d)
        x = x + self.drop(self.mlp(self.norm2(x)))  # (N, T, d)
        return x, weights


class GPT(nn.Module):
    """Transformer solo decodificador: ``idx (N, T) -> logits (N, T, V)``.

    ``logits[n, t]`` son las puntuaciones de la ficha que sigue a ``idx[n, :t+1]``; por
    la máscara causal no dependen de ``idx[n, t+1:]``.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"`config` debe ser un GPTConfig, pero es {type(config).__name__}")
        self.config = config
        d = config.d_model
        self.tok = nn.Embedding(config.vocab_size, d)
        if config.positions == "learned":
            self.pos = nn.Embedding(config.context, d)
        elif config.positions == "sinusoidal":
            self.register_buffer(
                "pos_table", sinusoidal_positions(config.context, d), persistent=False
            )
        else:  # "rope": los ángulos de cada posición se calculan una vez
            cos, sin = rotary_angles(torch.arange(config.context), config.d_head)  # (T, d_h/2)
            self.register_buffer("rope_cos", cos.to(torch.float32), persistent=False)
            self.register_buffer("rope_sin", sin.to(torch.float32), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.norm = _make_norm(config)
        self.head = nn.Linear(d, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.tok.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: reduce las proyecciones residuales
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_idx(self, idx: torch.Tensor, offset: int = 0, *, window: bool = True) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long:
            kind = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise TypeError(f"`idx` debe ser un tensor de enteros torch.long, pero es {kind}")
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(
                f"`idx` debe tener forma (N, T) con T ≥ 1, pero tiene forma "
                f"{describe_shape(idx.shape)}"
            )
        if window and offset + idx.shape[1] > self.config.context:
            raise ValueError(
                f"`idx` tiene {idx.shape[1]} posiciones (más {offset} en la caché), pero el "
                f"contexto del modelo es de {self.config.context}"
            )
        if idx.min() < 0 or idx.max() >= self.config.vocab_size:
            raise ValueError(
                f"los valores de `idx` deben estar en [0, {self.config.vocab_size}), pero van "
                f"de {int(idx.min())} a {int(idx.max())}"
            )

    def _run(self, idx: torch.Tensor, cache: KVCache | None = None):
        offset = 0 if cache is None else cache.length
        self._check_idx(idx, offset)
        T = idx.shape[1]
        x = self.tok(idx)  # (N, T, d)
        if self.config.positions == "learned":
            x = x + self.pos(torch.arange(offset, offset + T, device=idx.device))  # (N, T, d)
        elif self.config.positions == "sinusoidal":
            x = x * math.sqrt(self.config.d_model) + self.pos_table[offset : offset + T]
        x = self.drop(x)
        rope = None
        if self.config.positions == "rope":
            rope = (self.rope_cos[offset : offset + T], self.rope_sin[offset : offset + T])
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, cache, rope)  # (N, T, d), (N, h, T, T_k)
            all_weights.append(weights)
        logits = self.head(self.norm(x))  # (N, T, V)
        return logits, all_weights

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits ``(N, T, V)`` para ``idx`` ``(N, T)``.

        Con ``cache`` (un :class:`KVCache`), ``idx`` son las fichas que siguen a las ya
        guardados; sus claves y valores se añaden a la caché.
        """
        return self._run(idx, cache)[0]

    @torch.no_grad()
    def attention_weights(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Pesos de atención de cada capa: lista de ``L`` tensores ``(N, h, T, T)``.

        ``pesos[l][n, j, t, s]`` es cuánto mira la cabeza ``j`` de la capa ``l``, desde la
        posición ``t``, a la posición ``s ≤ t``; cada fila suma 1.
        """
        return [w.detach() for w in self._run(idx)[1]]

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        next_token: Callable[[torch.Tensor], torch.Tensor] | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Alarga ``idx`` ``(N, T0)`` con ``max_new_tokens`` fichas: ``(N, T0 + max_new)``.

        ``next_token`` recibe los logits del último paso ``(N, V)`` y devuelve los ids
        elegidos ``(N,)``; por defecto, el de mayor logit (decodificación voraz). Con
        ``use_cache=True`` se guardan claves y valores (:class:`KVCache`) y cada paso solo
        procesa la ficha nueva; el resultado es el mismo que recalculando todo. Si la
        secuencia supera el contexto, el modelo ve las últimas ``context`` fichas (y la
        caché se rehace para esa ventana).
        """
        max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=0)
        context = self.config.context
        self._check_idx(idx, window=False)
        pick = next_token if next_token is not None else (lambda lg: lg.argmax(dim=-1))
        out = idx
        cache, pending = KVCache(self.config.n_layers), idx[:, -context:]
        for _ in range(max_new_tokens):
            if use_cache:
                if cache.length + pending.shape[1] > context:  # la ventana ya no cabe
                    cache, pending = KVCache(self.config.n_layers), out[:, -context:]
                logits = self(pending, cache)[:, -1]  # (N, V)
            else:
                logits = self(out[:, -context:])[:, -1]  # (N, V)
            new = pick(logits)  # (N,)
            if not isinstance(new, torch.Tensor) or new.shape != (idx.shape[0],):
                shape = describe_shape(new.shape) if isinstance(new, torch.Tensor) else type(new)
                raise ValueError(
                    f"`next_token` debe devolver un tensor de forma ({idx.shape[0]},), "
                    f"pero devolvió {shape}"
                )
            new = new.to(torch.long)[:, None]  # (N, 1)
            out, pending = torch.cat([out, new], dim=1), new  # (N, T + 1)
        return out

    def parameter_counts(self) -> dict[str, int]:
        """Parámetros de cada componente, contados en los tensores reales.

        Claves: ``embeddings``, ``positions``, ``attention``, ``mlp``, ``norms``, ``head``
        (0 si la cabeza comparte la matriz de incrustación). Su suma es
        ``sum(p.numel() for p in modelo.parameters())`` y coincide con
        :func:`count_parameters_formula`.
        """

        def n(modules) -> int:
            return sum(p.numel() for m in modules for p in m.parameters())

        blocks = list(self.blocks)
        return {
            "embeddings": self.tok.weight.numel(),
            "positions": self.pos.weight.numel() if hasattr(self, "pos") else 0,
            "attention": n(b.attn for b in blocks),
            "mlp": n(b.mlp for b in blocks),
            "norms": n([*(b.norm1 for b in blocks), *(b.norm2 for b in blocks), self.norm]),
            "head": 0 if self.config.tie_embeddings else self.head.weight.numel(),
        }
