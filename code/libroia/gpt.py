"""Un GPT diminuto: transformer solo decodificador en PyTorch.

Cada bloque es *pre-norm* (Radford et al., 2019)::

    x ← x + Atención(Norm(x))        atención causal de h cabezas
    x ← x + MLP(Norm(x))             red de dos capas con activación elegible

y el modelo completo es::

    incrustación del token (+ posición)  ->  L bloques  ->  Norm  ->  cabeza lineal  ->  logits

Formas: ``N`` lote, ``T`` tiempo, ``d`` ancho, ``h`` cabezas, ``d_h = d/h``,
``V`` vocabulario, ``L`` capas. El modelo se monta con las piezas de los
capítulos anteriores: la atención de cada bloque es
:class:`libroia.attention.MultiHeadAttention` del capítulo 4 (con su máscara
causal y su caché :class:`~libroia.attention.KVCache`), las posiciones salen de
:mod:`libroia.positions` y la MLP de :mod:`libroia.activations`.

Entrenar y cargar pesos está encima de este módulo, en :mod:`libroia.gpt_train`
(``from libroia.gpt_train import train_or_load``); contar parámetros y resumir
las cabezas, en :mod:`libroia.gpt_analysis`.

Capítulo 5, «El transformer por dentro».
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from libroia._checks import check_choice, check_float, check_int, describe_shape
from libroia.activations import MLP, MLP_ACTIVATIONS
from libroia.attention import KVCache, MultiHeadAttention
from libroia.positions import rotary_angles, sinusoidal_positions

__all__ = ["GPT", "Block", "GPTConfig", "KVCache"]

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
    del libro. Con tan pocos pasos, una capa de salida propia
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
        check_choice("activation", self.activation, MLP_ACTIVATIONS)
        check_choice("positions", self.positions, POSITIONS)
        check_choice("norm", self.norm, NORMS)
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


def _make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.d_model, eps=1e-5)
    return nn.LayerNorm(config.d_model, bias=config.bias)


class Block(nn.Module):
    """Bloque pre-norm: ``x + Atención(Norm(x))`` y luego ``x + MLP(Norm(x))``.

    ``attn`` es la :class:`~libroia.attention.MultiHeadAttention` del capítulo 4,
    siempre causal; ``layer`` es el índice del bloque, la capa de la
    :class:`~libroia.attention.KVCache` donde guarda sus claves y valores.
    """

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.norm1, self.norm2 = _make_norm(config), _make_norm(config)
        self.attn = MultiHeadAttention(config.d_model, config.n_heads, bias=config.bias)
        self.mlp = MLP(config.d_model, config.hidden, config.activation, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, rope=None):
        """``x (N, T, d)`` → ``(x (N, T, d), pesos (N, h, T, T_k))``.

        ``rope`` son ``(cos, sin)`` ``(T, d_h/2)`` de las posiciones de estos tokens.
        """
        a, weights = self.attn(
            self.norm1(x), causal=True, kv_cache=cache, layer=self.layer, rope=rope
        )  # (N, T, d), (N, h, T, T_k)
        x = x + self.drop(a)  # (N, T, d)
        x = x + self.drop(self.mlp(self.norm2(x)))  # (N, T, d)
        return x, weights


class GPT(nn.Module):
    """Transformer solo decodificador: ``idx (N, T) -> logits (N, T, V)``.

    ``logits[n, t]`` son las puntuaciones del token que sigue a ``idx[n, :t+1]``; por
    la máscara causal no dependen de ``idx[n, t+1:]``.

    Ejemplo::

        >>> model = GPT(GPTConfig(vocab_size=50, context=8, d_model=16, n_heads=2))
        >>> idx = torch.tensor([[1, 2, 3]])                  # (N, T)
        >>> tuple(model(idx).shape)                           # (N, T, V)
        (1, 3, 50)
        >>> model.blocks[0].attn                              # la del capítulo 4
        MultiHeadAttention(
          (q_proj): Linear(in_features=16, out_features=16, bias=True)
          (k_proj): Linear(in_features=16, out_features=16, bias=True)
          (v_proj): Linear(in_features=16, out_features=16, bias=True)
          (out_proj): Linear(in_features=16, out_features=16, bias=True)
        )
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
            if name.endswith(("attn.out_proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_idx(self, idx: torch.Tensor) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long:
            kind = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise TypeError(f"`idx` debe ser un tensor de enteros torch.long, pero es {kind}")
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(
                f"`idx` debe tener forma (N, T) con T ≥ 1, pero tiene forma "
                f"{describe_shape(idx.shape)}"
            )
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise ValueError(
                f"los valores de `idx` deben estar en [0, {self.config.vocab_size}), pero van "
                f"de {int(idx.min())} a {int(idx.max())}"
            )

    def _check_cache(self, cache: KVCache | None, N: int) -> int:
        """Exige una caché de este modelo y de este lote; devuelve ``T_pasado``."""
        if cache is None:
            return 0
        if not isinstance(cache, KVCache):
            raise TypeError(f"`cache` debe ser un KVCache, pero es {type(cache).__name__}")
        if cache.n_layers != self.config.n_layers:
            raise ValueError(
                f"`cache` tiene {cache.n_layers} capas, pero el modelo tiene "
                f"n_layers = {self.config.n_layers}: crea la caché con "
                f"KVCache({self.config.n_layers})"
            )
        lengths = [cache.layer_length(layer) for layer in range(cache.n_layers)]
        if len(set(lengths)) > 1:
            raise ValueError(
                f"`cache` tiene capas de longitudes distintas, {lengths}: no viene de "
                f"pasadas completas de este modelo"
            )
        if cache.batch_size is not None and cache.batch_size != N:
            raise ValueError(
                f"`cache` guarda un lote de N = {cache.batch_size} secuencias, pero `idx` "
                f"tiene N = {N}"
            )
        return lengths[0]

    def _run(self, idx: torch.Tensor, cache: KVCache | None = None):
        self._check_idx(idx)
        offset = self._check_cache(cache, idx.shape[0])
        T = idx.shape[1]
        if offset + T > self.config.context:
            raise ValueError(
                f"`idx` tiene {T} posiciones (más {offset} en la caché), pero el "
                f"contexto del modelo es de {self.config.context}"
            )
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

        Con ``cache`` (un :class:`KVCache`), ``idx`` son los tokens que siguen a los ya
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
        """Alarga ``idx`` ``(N, T0)`` con ``max_new_tokens`` tokens: ``(N, T0 + max_new)``.

        ``next_token`` recibe los logits del último paso ``(N, V)`` y devuelve los ids
        elegidos ``(N,)``; por defecto, el de mayor logit (decodificación voraz). Con
        ``use_cache=True`` se guardan claves y valores (:class:`KVCache`) y cada paso solo
        procesa el token nuevo; el resultado es el mismo que recalculando todo. Si la
        secuencia supera el contexto, el modelo ve los últimos ``context`` tokens (y la
        caché se rehace para esa ventana).
        """
        max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=0)
        context = self.config.context
        self._check_idx(idx)
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
            new = self._check_next_token(pick(logits), idx.shape[0])[:, None]  # (N, 1)
            out, pending = torch.cat([out, new], dim=1), new  # (N, T + 1)
        return out

    def _check_next_token(self, new: object, N: int) -> torch.Tensor:
        """Exige lo que debe devolver ``next_token``: ids enteros ``(N,)`` en ``[0, V)``."""
        V = self.config.vocab_size
        if not isinstance(new, torch.Tensor) or new.shape != (N,):
            got = describe_shape(new.shape) if isinstance(new, torch.Tensor) else type(new).__name__
            raise ValueError(
                f"`next_token` debe devolver un tensor de ids de forma ({N},), pero devolvió {got}"
            )
        if new.dtype == torch.bool or new.is_floating_point() or new.is_complex():
            raise TypeError(
                f"`next_token` debe devolver ids enteros, pero devolvió un tensor {new.dtype}"
            )
        if N and (int(new.min()) < 0 or int(new.max()) >= V):
            raise ValueError(
                f"`next_token` debe devolver ids en [0, {V}), pero devolvió valores de "
                f"{int(new.min())} a {int(new.max())}"
            )
        return new.to(torch.long)

    def parameter_counts(self) -> dict[str, int]:
        """Parámetros de cada componente, contados en los tensores reales.

        Claves: ``embeddings``, ``positions``, ``attention``, ``mlp``, ``norms``, ``head``
        (0 si la cabeza comparte la matriz de incrustación). Su suma es
        ``sum(p.numel() for p in modelo.parameters())`` y coincide con
        :func:`libroia.gpt_analysis.count_parameters_formula`.
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
