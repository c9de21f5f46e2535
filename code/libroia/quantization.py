"""Formatos numéricos y cuantización: FP32, FP16, BF16, INT8 e INT4.

* :func:`numeric_formats`: rango y resolución de cada formato.
* :func:`to_format`: redondea a FP32, FP16 o BF16 para ver desbordamientos (``inf``)
  y subdesbordamientos (0).
* :func:`quantize_absmax` y :func:`dequantize`: cuantización simétrica por máximo
  absoluto, por tensor o por canal, y su inversa; :func:`quantization_error` mide
  el error de ida y vuelta.

Las funciones de cuantización están escritas una sola vez sobre el *array API*:
aceptan NumPy o PyTorch. Todo se explica en el capítulo 7, «Memoria».
"""

from __future__ import annotations

import math
from typing import Any

import torch

from libroia._checks import array_namespace, check_array, check_choice, check_finite, check_int

__all__ = [
    "dequantize",
    "numeric_formats",
    "quantization_error",
    "quantize_absmax",
    "quantize_model_weights_",
    "to_format",
]

_TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def numeric_formats() -> dict[str, dict[str, float]]:
    """Rango y resolución de cada formato: ``{nombre: {"bits", "max", "min_normal", "eps"}}``.

    ``eps`` es la distancia de 1 al siguiente número representable (1 en los enteros);
    los valores de FP32, FP16 y BF16 salen de ``torch.finfo``.
    """
    out = {}
    for name, dtype in _TORCH_DTYPES.items():
        f = torch.finfo(dtype)
        out[name] = {"bits": f.bits, "max": f.max, "min_normal": f.tiny, "eps": f.eps}
    out["int8"] = {"bits": 8, "max": 127.0, "min_normal": 1.0, "eps": 1.0}
    out["int4"] = {"bits": 4, "max": 7.0, "min_normal": 1.0, "eps": 1.0}
    return out


def to_format(x: Any, dtype: str) -> torch.Tensor:
    """Redondea ``x`` al formato de coma flotante ``dtype`` (``"fp32"``, ``"fp16"``, ``"bf16"``).

    Los valores demasiado grandes se vuelven ``inf`` (desbordamiento) y los
    demasiado pequeños, 0 (subdesbordamiento). Ejemplo: 70 000 no cabe en FP16 (su
    máximo es 65 504), pero sí en BF16, que lo redondea a 70 144::

        >>> to_format(torch.tensor(70000.0), "fp16").item(), to_format(70000.0, "bf16").item()
        (inf, 70144.0)
    """
    dtype = check_choice("dtype", dtype, tuple(_TORCH_DTYPES))
    return torch.as_tensor(x).to(_TORCH_DTYPES[dtype])


def _check_bits(bits: Any) -> int:
    return check_int("bits", bits, min_value=2, max_value=8)


def quantize_absmax(w: Any, *, bits: int = 8, axis: int | None = None) -> tuple[Any, Any]:
    r"""Cuantización simétrica por máximo absoluto (*absmax*) a enteros de ``bits`` bits.

    .. math:: s = \max|w| / q_{max}, \quad q = \mathrm{round}(w / s), \quad
              q_{max} = 2^{bits-1} - 1

    (127 para INT8, 7 para INT4). Con ``axis=None`` hay una sola escala para todo
    el tensor; con ``axis=0``, una por fila (por canal de salida de una matriz
    ``(d_salida, d_entrada)``), que protege a las filas pequeñas de un valor atípico
    en otra fila. Acepta NumPy o PyTorch.

    Devuelve ``(q, s)``: ``q`` enteros en ``int8`` con la forma de ``w`` y ``s`` la
    escala (escalar, o con la dimensión ``axis`` conservada y las demás de tamaño 1).
    ``w`` debe ser finito: con un ``inf`` la escala sería infinita y todo se volvería 0,
    y con un ``nan`` todo sería ``nan``, así que se rechazan con un ``ValueError``.

    Ejemplo: el máximo absoluto es 1.27, así que s = 1.27/127 = 0.01::

        >>> import numpy as np
        >>> q, s = quantize_absmax(np.array([0.5, -1.27]))
        >>> q, round(float(s), 6)
        (array([  50, -127], dtype=int8), 0.01)
    """
    w = check_array("w", w)
    xp = array_namespace(w)
    check_finite("w", w)
    q_max = 2 ** (_check_bits(bits) - 1) - 1
    if axis is None:
        amax = xp.max(xp.abs(w))
    else:
        axis = check_int("axis", axis, min_value=-w.ndim, max_value=w.ndim - 1) % w.ndim
        others = tuple(i for i in range(w.ndim) if i != axis)
        amax = xp.max(xp.abs(w), axis=others, keepdims=True)
    scale = xp.where(amax > 0, amax / q_max, xp.ones_like(amax))  # evita dividir entre 0
    q = xp.clip(xp.round(w / scale), -q_max, q_max)
    return xp.astype(q, xp.int8), scale


def dequantize(q: Any, scale: Any) -> Any:
    """Vuelve a números reales: ``w ≈ q · s`` (inversa aproximada de :func:`quantize_absmax`).

    >>> import numpy as np
    >>> dequantize(*quantize_absmax(np.array([0.5, -1.27])))
    array([ 0.5 , -1.27])
    """
    q, scale = check_array("q", q), check_array("scale", scale)
    xp = array_namespace(q, scale)
    return xp.astype(q, scale.dtype) * scale


def quantization_error(w: Any, *, bits: int = 8, axis: int | None = None) -> dict[str, float]:
    """Cuantiza y decuantiza ``w`` y mide el error.

    Devuelve ``{"max_abs": max|w − ŵ|, "rms": sqrt(media (w − ŵ)²),
    "relative_rms": rms / sqrt(media w²)}``.
    """
    w = check_array("w", w)
    xp = array_namespace(w)
    err = w - dequantize(*quantize_absmax(w, bits=bits, axis=axis))
    rms = float(xp.sqrt(xp.mean(err * err)))
    ref = float(xp.sqrt(xp.mean(w * w)))
    return {"max_abs": float(xp.max(xp.abs(err))), "rms": rms,
            "relative_rms": rms / ref if ref > 0 else math.nan}


@torch.no_grad()
def quantize_model_weights_(model: torch.nn.Module, *, bits: int = 8, axis: int | None = 0) -> int:
    """Sustituye en su sitio cada matriz de pesos de ``model`` por su versión cuantizada y
    decuantizada (``dequantize(quantize_absmax(W))``): el modelo sigue en coma flotante,
    pero sus pesos solo toman los valores que permite el formato.

    Solo se tocan los parámetros con dos o más dimensiones (capas lineales,
    incrustaciones); sesgos y normas se quedan como están, igual que en la práctica.
    Devuelve cuántos tensores cambió. Sirve para medir cuánto empeora la pérdida.
    """
    bits = _check_bits(bits)
    changed = 0
    for p in model.parameters():
        if p.ndim >= 2:
            p.copy_(dequantize(*quantize_absmax(p.detach(), bits=bits, axis=axis)))
            changed += 1
    return changed
