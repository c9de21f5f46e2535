"""Cuentas de escala: parámetros, FLOPs, reparto óptimo del cómputo, tiempo y energía.

Un modelo de lenguaje se mide con tres números: parámetros ``N``, tokens de
entrenamiento ``D`` y operaciones de coma flotante de entrenamiento ``C``.
Este módulo los calcula a partir de las formas de un transformer solo-decodificador
(:class:`DecoderShape`), denso o con mezcla de expertos (*mixture of experts*):

* :func:`n_params_decoder` y :func:`params_breakdown`: parámetros totales o
  activos por token, con y sin incrustaciones.
* :func:`flops_per_token_breakdown`: FLOPs de la pasada hacia delante por token,
  multiplicación de matrices por multiplicación de matrices.
* :func:`training_flops`: la regla ``C ≈ 6·N·D`` de Kaplan et al. (2020).
* :func:`chinchilla_optimal`: parámetros y tokens óptimos para un presupuesto
  de cómputo según Hoffmann et al. (2022): unos 20 tokens por parámetro.
* :func:`count_flops`: los FLOPs que de verdad ejecuta PyTorch, para comprobar lo anterior.
* :func:`training_gpu_hours` y :func:`training_energy_kwh`: tiempo y electricidad.

Las leyes de potencia (ajuste y experimento en directo) están en :mod:`libroia.scaling_law`.

Convención: un FLOP es una suma o un producto, así que una multiplicación-suma
cuenta 2 (como ``torch.utils.flop_counter``). Todo se explica en el capítulo 6,
«Escala».
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from libroia._checks import check_choice, check_float, check_int

__all__ = [
    "PUBLISHED_SHAPES", "PUBLISHED_TRAINING", "DecoderShape", "chinchilla_optimal",
    "count_flops", "flops_per_token_breakdown", "format_int", "format_sci",
    "forward_flops_per_token", "n_params_decoder", "params_breakdown", "training_energy_kwh",
    "training_flops", "training_flops_per_token", "training_gpu_hours",
]

ACTIVATIONS = ("relu", "gelu", "silu", "swiglu")
POSITIONS = ("learned", "sinusoidal", "rope")
NORMS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class DecoderShape:
    """Formas de un transformer solo-decodificador, como las publica cada artículo.

    Parámetros
    ----------
    d_model : ancho d del flujo residual.
    n_layers : número de bloques L.
    n_heads : cabezas de atención h (cada una de ancho d_h = d/h).
    vocab_size : tamaño del vocabulario V.
    d_ff : ancho intermedio de la MLP (por omisión 4·d).
    n_kv_heads : cabezas de claves y valores (atención de consultas agrupadas,
        *grouped-query attention*); por omisión ``n_heads``.
    context : longitud máxima T; solo cuenta si las posiciones son aprendidas.
    activation : ``"relu"``, ``"gelu"``, ``"silu"`` (dos matrices en la MLP) o
        ``"swiglu"`` (tres matrices).
    positions : ``"learned"`` (una tabla T × d), ``"sinusoidal"`` o ``"rope"`` (sin parámetros).
    norm : ``"layernorm"`` (peso y sesgo) o ``"rmsnorm"`` (solo peso).
    bias : si las capas lineales (y LayerNorm) llevan sesgo.
    tie_embeddings : si la capa de salida reutiliza la matriz de incrustaciones.
    n_experts, experts_per_token : mezcla de expertos; cada token usa
        ``experts_per_token`` de las ``n_experts`` MLP de cada bloque. Con 1 y 1, modelo denso.

    Ejemplo: Llama-2-7B (Touvron et al., 2023)::

        >>> llama = DecoderShape(d_model=4096, n_layers=32, n_heads=32, vocab_size=32000,
        ...     d_ff=11008, activation="swiglu", positions="rope", norm="rmsnorm",
        ...     bias=False, tie_embeddings=False)
        >>> n_params_decoder(llama)
        6738415616
    """

    d_model: int
    n_layers: int
    n_heads: int
    vocab_size: int
    d_ff: int | None = None
    n_kv_heads: int | None = None
    context: int = 2048
    activation: str = "gelu"
    positions: str = "learned"
    norm: str = "layernorm"
    bias: bool = True
    tie_embeddings: bool = True
    n_experts: int = 1
    experts_per_token: int = 1

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "vocab_size", "context", "n_experts"):
            check_int(name, getattr(self, name), min_value=1)
        check_int("experts_per_token", self.experts_per_token, min_value=1,
                  max_value=self.n_experts)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"`d_model` debe ser múltiplo de `n_heads`, pero d_model={self.d_model} "
                f"y n_heads={self.n_heads}"
            )
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        check_int("d_ff", self.d_ff, min_value=1)
        if self.n_kv_heads is None:
            object.__setattr__(self, "n_kv_heads", self.n_heads)
        check_int("n_kv_heads", self.n_kv_heads, min_value=1, max_value=self.n_heads)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"`n_heads` debe ser múltiplo de `n_kv_heads`, pero n_heads={self.n_heads} "
                f"y n_kv_heads={self.n_kv_heads}"
            )
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("positions", self.positions, POSITIONS)
        check_choice("norm", self.norm, NORMS)

    @property
    def d_head(self) -> int:
        """Ancho d_h = d / h de cada cabeza."""
        return self.d_model // self.n_heads

    @property
    def d_kv(self) -> int:
        """Ancho total de claves (y de valores): n_kv_heads · d_h."""
        return self.n_kv_heads * self.d_head

    def with_layers(self, n_layers: int) -> DecoderShape:
        """La misma forma con otro número de bloques (para construir versiones poco profundas)."""
        return replace(self, n_layers=n_layers)

    @classmethod
    def from_gpt_config(cls, config: Any) -> DecoderShape:
        """Forma de un :class:`libroia.gpt.GPTConfig` (el GPT diminuto del capítulo 5)."""
        return cls(
            d_model=config.d_model, n_layers=config.n_layers, n_heads=config.n_heads,
            vocab_size=config.vocab_size, d_ff=config.hidden, context=config.context,
            activation=config.activation, positions=config.positions, norm=config.norm,
            bias=config.bias, tie_embeddings=config.tie_embeddings,
        )

    def to_gpt_config(self, **training: Any) -> Any:
        """Un :class:`libroia.gpt.GPTConfig` con esta forma (``training``: steps, lr, ...).

        El GPT del libro no tiene atención de consultas agrupadas ni expertos: si la
        forma los usa, lanza ``ValueError``. Sirve, por ejemplo, para construir
        Llama-2-7B en el dispositivo ``"meta"`` y contar sus parámetros sin memoria.
        """
        if self.n_kv_heads != self.n_heads or self.n_experts > 1:
            raise ValueError(
                "el GPT del libro necesita `n_kv_heads` = `n_heads` y `n_experts` = 1, pero "
                f"n_kv_heads={self.n_kv_heads}, n_heads={self.n_heads} y n_experts={self.n_experts}"
            )
        from libroia.gpt import GPTConfig

        return GPTConfig(
            vocab_size=self.vocab_size, context=self.context, d_model=self.d_model,
            n_layers=self.n_layers, n_heads=self.n_heads, activation=self.activation,
            positions=self.positions, norm=self.norm, bias=self.bias,
            tie_embeddings=self.tie_embeddings, mlp_hidden=self.d_ff, **training,
        )


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_int(n: float) -> str:
    """Entero con los miles separados por espacios, como recomienda la RAE.

    >>> format_int(6738415616)
    '6 738 415 616'
    """
    return f"{round(n):,}".replace(",", " ")


def format_sci(x: float, digits: int = 2) -> str:
    """Notación científica legible, sin ceros sobrantes.

    >>> format_sci(3.14e23), format_sci(1e19)
    ('3.14 × 10²³', '1 × 10¹⁹')
    """
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    mantissa = x / 10**exponent
    if round(abs(mantissa), digits) >= 10:  # 9.999 redondea a 10.0: se sube el exponente
        exponent, mantissa = exponent + 1, mantissa / 10
    text = f"{mantissa:.{digits}f}".rstrip("0").rstrip(".")  # la mantisa está en [1, 10)
    return f"{text} × 10{str(exponent).translate(_SUPERSCRIPTS)}"


#: Formas publicadas de modelos reales (de sus artículos y de la documentación de cada modelo).
PUBLISHED_SHAPES: dict[str, DecoderShape] = {
    "GPT-2 (124M)": DecoderShape(d_model=768, n_layers=12, n_heads=12, vocab_size=50257,
                                 context=1024),
    "GPT-3 (175B)": DecoderShape(d_model=12288, n_layers=96, n_heads=96, vocab_size=50257,
                                 context=2048),
    "Llama-2-7B": DecoderShape(d_model=4096, n_layers=32, n_heads=32, vocab_size=32000,
                               d_ff=11008, context=4096, activation="swiglu", positions="rope",
                               norm="rmsnorm", bias=False, tie_embeddings=False),
    "Llama-2-70B": DecoderShape(d_model=8192, n_layers=80, n_heads=64, n_kv_heads=8,
                                vocab_size=32000, d_ff=28672, context=4096, activation="swiglu",
                                positions="rope", norm="rmsnorm", bias=False,
                                tie_embeddings=False),
    "Llama-3-8B": DecoderShape(d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
                               vocab_size=128256, d_ff=14336, context=8192, activation="swiglu",
                               positions="rope", norm="rmsnorm", bias=False,
                               tie_embeddings=False),
    "Mixtral-8x7B": DecoderShape(d_model=4096, n_layers=32, n_heads=32, n_kv_heads=8,
                                 vocab_size=32000, d_ff=14336, context=32768,
                                 activation="swiglu", positions="rope", norm="rmsnorm",
                                 bias=False, tie_embeddings=False, n_experts=8,
                                 experts_per_token=2),
}


#: Parámetros y tokens de entrenamiento publicados: nombre -> (N, D, clave de la cita).
PUBLISHED_TRAINING: dict[str, tuple[float, float, str]] = {
    "GPT-3": (175e9, 300e9, "brown2020language"),
    "Gopher": (280e9, 300e9, "rae2021scaling"),
    "Chinchilla": (70e9, 1.4e12, "hoffmann2022training"),
    "Llama-2-7B": (6.74e9, 2.0e12, "touvron2023llama2"),
    "Llama-2-70B": (69e9, 2.0e12, "touvron2023llama2"),
    "Llama-3-8B": (8.03e9, 15e12, "dubey2024llama3"),
    "Llama-3-405B": (405e9, 15.6e12, "dubey2024llama3"),
}


def _check_shape(shape: Any) -> DecoderShape:
    if not isinstance(shape, DecoderShape):
        raise TypeError(f"`shape` debe ser un DecoderShape, pero es {type(shape).__name__}")
    return shape


def params_breakdown(shape: DecoderShape, *, active_only: bool = False) -> dict[str, int]:
    """Parámetros de cada componente, con los mismos nombres que ``GPT.parameter_counts()``.

    Por bloque: atención ``d·(d + 2·d_kv) + d·d`` (Q, K, V, salida), MLP ``m·d·d_ff``
    con m = 2 (o 3 con SwiGLU) por cada experto, más el enrutador ``d·n_experts`` si hay
    varios expertos, y dos normalizaciones. Fuera de los bloques: incrustaciones
    ``V·d``, posiciones ``T·d`` (si son aprendidas), una normalización final y la
    capa de salida ``V·d`` (cero si está atada a las incrustaciones).

    ``active_only=True`` cuenta solo los ``experts_per_token`` expertos que usa cada token.

    Devuelve un diccionario ``{"embeddings", "positions", "attention", "mlp", "norms", "head"}``.
    """
    s = _check_shape(shape)
    d, d_kv, d_ff, bias = s.d_model, s.d_kv, s.d_ff, int(s.bias)
    attention = d * (d + 2 * d_kv) + d * d + bias * (d + 2 * d_kv + d)  # W_q, W_k, W_v, W_o
    n_mats = 3 if s.activation == "swiglu" else 2
    expert = n_mats * d * d_ff + bias * ((n_mats - 1) * d_ff + d)
    experts = s.experts_per_token if active_only else s.n_experts
    router = d * s.n_experts if s.n_experts > 1 else 0
    norm = d * (2 if (s.norm == "layernorm" and s.bias) else 1)
    return {
        "embeddings": s.vocab_size * d,
        "positions": s.context * d if s.positions == "learned" else 0,
        "attention": s.n_layers * attention,
        "mlp": s.n_layers * (experts * expert + router),
        "norms": (2 * s.n_layers + 1) * norm,
        "head": 0 if s.tie_embeddings else s.vocab_size * d,
    }


def n_params_decoder(
    shape: DecoderShape, *, include_embeddings: bool = True, active_only: bool = False
) -> int:
    """Número de parámetros de un transformer solo-decodificador.

    ``include_embeddings=False`` da la cuenta «sin incrustaciones» de Kaplan et al.
    (2020): quita la tabla de tokens, la de posiciones y la capa de salida.
    ``active_only=True`` cuenta, en una mezcla de expertos, solo los que usa cada token.

    Ejemplo: GPT-2 pequeño (d=768, L=12, V=50257, T=1024) tiene 124 439 808 parámetros,
    y sin incrustaciones unos 12·L·d² = 84 934 656 más sesgos y normalizaciones::

        >>> gpt2 = PUBLISHED_SHAPES["GPT-2 (124M)"]
        >>> n_params_decoder(gpt2), n_params_decoder(gpt2, include_embeddings=False)
        (124439808, 85056000)
    """
    parts = params_breakdown(shape, active_only=active_only)
    if not include_embeddings:
        parts = {k: v for k, v in parts.items() if k not in ("embeddings", "positions", "head")}
    return sum(parts.values())


def flops_per_token_breakdown(shape: DecoderShape, *, context: int) -> dict[str, int]:
    """FLOPs de la pasada hacia delante por token, componente por componente.

    Cada producto de una fila de longitud ``k`` por una matriz ``k × m`` cuesta
    ``2·k·m`` FLOPs. Por bloque y token, con T = ``context`` tokens visibles:

    * ``attention_qkv``: ``2·d·(d + 2·d_kv)``; ``attention_out``: ``2·d·d``.
    * ``attention_scores`` (Q·Kᵀ) y ``attention_values`` (pesos · V): ``2·T·d`` cada uno.
      Se cuenta la matriz T × T completa, como hace PyTorch con una máscara causal.
    * ``mlp``: ``2·m·d·d_ff`` por experto activo (m = 2, o 3 con SwiGLU) más el
      enrutador ``2·d·n_experts``.
    * ``head``: ``2·d·V``, una sola vez (no por bloque).

    No se cuentan sumas de sesgos, normalizaciones, softmax ni activaciones:
    son O(d) por token, despreciables frente a los O(d²). La suma de todo es
    ≈ 2·N + 4·L·T·d (Kaplan et al. 2020, tabla 1, escribe un solo término 2·L·T·d).
    """
    s = _check_shape(shape)
    context = check_int("context", context, min_value=1)
    d, L = s.d_model, s.n_layers
    n_mats = 3 if s.activation == "swiglu" else 2
    router = 2 * d * s.n_experts if s.n_experts > 1 else 0
    return {
        "attention_qkv": L * 2 * d * (d + 2 * s.d_kv),
        "attention_scores": L * 2 * context * d,
        "attention_values": L * 2 * context * d,
        "attention_out": L * 2 * d * d,
        "mlp": L * (s.experts_per_token * 2 * n_mats * d * s.d_ff + router),
        "head": 2 * d * s.vocab_size,
    }


def forward_flops_per_token(shape: DecoderShape, *, context: int) -> int:
    """Suma de :func:`flops_per_token_breakdown`: FLOPs hacia delante por token."""
    return sum(flops_per_token_breakdown(shape, context=context).values())


def training_flops_per_token(shape: DecoderShape, *, context: int) -> int:
    """FLOPs de entrenamiento por token: 3 × la pasada hacia delante.

    Hacia atrás, cada producto ``Y = X·W`` necesita dos productos del mismo tamaño:
    ``∂L/∂X = ∂L/∂Y·Wᵀ`` y ``∂L/∂W = Xᵀ·∂L/∂Y``. Adelante (1) + atrás (2) = 3.
    """
    return 3 * forward_flops_per_token(shape, context=context)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs que ejecuta PyTorch al llamar a ``fn()``, contados por
    ``torch.utils.flop_counter.FlopCounterMode`` (solo productos de matrices y
    convoluciones, 2 por multiplicación-suma).

    Ejemplo (2·2·3·4 = 48)::

        >>> import torch
        >>> count_flops(lambda: torch.ones(2, 3) @ torch.ones(3, 4))
        48
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not callable(fn):
        raise TypeError(f"`fn` debe ser una función sin argumentos, pero es {type(fn).__name__}")
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def training_flops(n_params: float, n_tokens: float) -> float:
    """Cómputo de entrenamiento aproximado ``C ≈ 6·N·D`` en FLOPs (Kaplan et al. 2020).

    2 FLOPs por parámetro y token hacia delante, 4 hacia atrás. Ejemplo (Chinchilla)::

        >>> training_flops(70e9, 1.4e12)
        5.88e+23
    """
    n_params = check_float("n_params", n_params, min_value=0.0, min_inclusive=False)
    n_tokens = check_float("n_tokens", n_tokens, min_value=0.0, min_inclusive=False)
    return 6.0 * n_params * n_tokens


def chinchilla_optimal(
    compute_flops: float, *, tokens_per_param: float = 20.0
) -> tuple[float, float]:
    r"""Parámetros y tokens que minimizan la pérdida para un presupuesto de cómputo.

    Hoffmann et al. (2022) encontraron que N y D deben crecer a la par (N ∝ C^0.5,
    D ∝ C^0.5), con unos 20 tokens por parámetro. Con ``C = 6·N·D`` y ``D = r·N``:

    .. math:: N_{opt} = \sqrt{C / (6 r)}, \qquad D_{opt} = r · N_{opt}

    Ejemplo: con el cómputo de Chinchilla salen sus 70 000 millones de parámetros y
    1.4 billones de tokens::

        >>> n, d = chinchilla_optimal(5.76e23)
        >>> f"{n:.2g} {d:.2g}"
        '6.9e+10 1.4e+12'

    Devuelve ``(n_params, n_tokens)``.
    """
    compute_flops = check_float("compute_flops", compute_flops, min_value=0.0,
                                min_inclusive=False)
    r = check_float("tokens_per_param", tokens_per_param, min_value=0.0, min_inclusive=False)
    n_params = math.sqrt(compute_flops / (6.0 * r))
    return n_params, r * n_params


def training_gpu_hours(
    compute_flops: float, *, peak_flops_per_second: float, utilization: float = 0.4
) -> float:
    """Horas de GPU para ``compute_flops``: C / (pico · utilización) / 3600.

    ``utilization`` es la fracción del pico que se aprovecha de verdad (en inglés
    *model FLOPs utilization*, MFU); 0.3–0.5 es lo habitual en entrenamientos grandes.
    """
    compute_flops = check_float("compute_flops", compute_flops, min_value=0.0)
    peak = check_float("peak_flops_per_second", peak_flops_per_second, min_value=0.0,
                       min_inclusive=False)
    u = check_float("utilization", utilization, min_value=0.0, max_value=1.0,
                    min_inclusive=False)
    return compute_flops / (peak * u) / 3600.0


def training_energy_kwh(gpu_hours: float, *, watts_per_gpu: float, pue: float = 1.1) -> float:
    """Energía eléctrica en kWh: horas de GPU × potencia × PUE / 1000.

    El PUE (*power usage effectiveness*) multiplica por lo que gasta el centro de
    datos además de las GPU (refrigeración, red, CPU); 1.1 es un centro eficiente.
    """
    gpu_hours = check_float("gpu_hours", gpu_hours, min_value=0.0)
    watts = check_float("watts_per_gpu", watts_per_gpu, min_value=0.0)
    pue = check_float("pue", pue, min_value=1.0)
    return gpu_hours * watts * pue / 1000.0
