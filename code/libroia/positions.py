"""Codificaciones de posición: senoidales (Vaswani et al., 2017) y rotatorias (RoPE).

La atención no sabe en qué orden llegan los tokens: permutar la entrada
permuta la salida. Para que el modelo distinga «el perro muerde al hombre» de
«el hombre muerde al perro» hay que inyectar la posición. Este módulo reúne las
dos formas que explica el capítulo 5 («El transformer por dentro»):

* :func:`sinusoidal_positions`: una tabla fija de senos y cosenos de
  frecuencias geométricas que se **suma** a las incrustaciones (como las sumas
  parciales de Fourier del capítulo 1).
* :func:`apply_rotary`: gira cada par de coordenadas de las consultas y claves
  un ángulo proporcional a la posición (Su et al., 2021), de modo que el producto
  escalar entre una consulta y una clave depende solo de la distancia entre ellas.
"""

from __future__ import annotations

import torch

from libroia._checks import check_float, check_int, check_token_ids, describe_shape

__all__ = ["apply_rotary", "rotary_angles", "rotate_pairs", "sinusoidal_positions"]


def _check_even(name: str, value: int) -> int:
    value = check_int(name, value, min_value=2)
    if value % 2:
        raise ValueError(f"`{name}` debe ser par (se usan pares seno/coseno), pero vale {value}")
    return value


def sinusoidal_positions(T: int, d: int, *, base: float = 10000.0) -> torch.Tensor:
    """Tabla de codificaciones senoidales de posición, de forma ``(T, d)``.

    Implementa, para la posición ``p`` y el par ``i = 0, …, d/2 − 1``::

        PE[p, 2i]     = sin(p · ω_i)
        PE[p, 2i + 1] = cos(p · ω_i),     ω_i = base^(−2i/d)

    Cada par de columnas es una onda de una frecuencia; las frecuencias bajan en
    progresión geométrica desde 1 radián por posición hasta ``1/base``.

    Parámetros
    ----------
    T : número de posiciones (filas).
    d : ancho del modelo; debe ser par.
    base : razón que fija la frecuencia más lenta (10 000 en el artículo original).

    Devuelve
    --------
    Tensor ``(T, d)`` de ``float32``.

    Ejemplo
    -------
    >>> sinusoidal_positions(2, 2)   # ω_0 = 1
    tensor([[0.0000, 1.0000],
            [0.8415, 0.5403]])

    Capítulo 5, sección «Dónde está cada palabra».
    """
    T = check_int("T", T, min_value=1)
    d = _check_even("d", d)
    base = check_float("base", base, min_value=1.0, min_inclusive=False)
    pos = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    omega = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angles = pos * omega  # (T, d/2)
    pe = torch.stack([angles.sin(), angles.cos()], dim=-1)  # (T, d/2, 2)
    return pe.reshape(T, d).to(torch.float32)  # (T, d)


def _check_positions(positions: object) -> torch.Tensor:
    """Exige posiciones enteras ``(T,)`` mayores o iguales que 0 (tensor, lista o ``range``)."""
    if isinstance(positions, (list, tuple, range)):
        check_token_ids("positions", positions)  # enteros ≥ 0, sin reales ni booleanos
        positions = torch.tensor(list(positions), dtype=torch.long)
    if not isinstance(positions, torch.Tensor):
        raise TypeError(
            f"`positions` debe ser un tensor de enteros (T,), pero es de tipo "
            f"{type(positions).__name__}"
        )
    if positions.ndim != 1:
        raise ValueError(
            f"`positions` debe tener forma (T,), pero tiene forma {describe_shape(positions.shape)}"
        )
    if positions.dtype == torch.bool or positions.is_floating_point() or positions.is_complex():
        raise TypeError(f"`positions` debe contener enteros, pero su tipo es {positions.dtype}")
    if positions.numel() and positions.device.type != "meta" and int(positions.min()) < 0:
        raise ValueError(
            f"`positions` deben ser ≥ 0, pero la menor vale {int(positions.min())}"
        )
    return positions


def rotary_angles(
    positions: torch.Tensor, d: int, *, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosenos y senos de los ángulos de RoPE: ``θ[p, i] = p · base^(−2i/d)``.

    Parámetros
    ----------
    positions : enteros ``(T,)`` ≥ 0 con las posiciones absolutas (tensor, lista o ``range``).
    d : dimensión de cada cabeza; debe ser par.
    base : como en :func:`sinusoidal_positions`.

    Devuelve
    --------
    ``(cos, sin)``, cada uno de forma ``(T, d/2)`` y tipo ``float64``; la columna ``i``
    es el ángulo del par ``i`` (ver la convención en :func:`apply_rotary`).

    Ejemplo
    -------
    >>> cos, sin = rotary_angles(torch.tensor([0, 1]), 4)   # ω = (1, 1/100)
    >>> sin
    tensor([[0.0000, 0.0000],
            [0.8415, 0.0100]], dtype=torch.float64)
    """
    positions = _check_positions(positions)
    d = _check_even("d", d)
    base = check_float("base", base, min_value=1.0, min_inclusive=False)
    omega = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angles = positions.to(torch.float64)[:, None] * omega  # (T, d/2)
    return angles.cos(), angles.sin()


def apply_rotary(
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    *,
    offset: int = 0,
    base: float = 10000.0,
) -> torch.Tensor:
    """Aplica la codificación rotatoria de posición (RoPE) a consultas o claves.

    Agrupa las coordenadas de cada vector en pares ``(x_{2i}, x_{2i+1})`` y gira
    el par ``i`` del vector que está en la posición ``p`` un ángulo
    ``θ = p · ω_i`` (las mismas frecuencias que :func:`sinusoidal_positions`)::

        y_{2i}     = x_{2i} cos θ − x_{2i+1} sin θ
        y_{2i+1}   = x_{2i} sin θ + x_{2i+1} cos θ

    Como una rotación de ángulo ``a`` seguida de otra de ``−b`` es una rotación
    de ``a − b``, el producto escalar ``⟨R_m q, R_n k⟩`` solo depende de ``m − n``:
    la posición relativa aparece sola en la atención (Su et al., 2021).

    **Convención de pares.** Aquí los pares son coordenadas vecinas,
    ``(x_0, x_1), (x_2, x_3), …`` («pares intercalados», como en el artículo de
    RoPE y en el código original de Llama). Hugging Face ``transformers`` y otras
    bibliotecas emparejan en cambio la coordenada ``i`` con la ``i + d/2``
    (*rotate half*). Son la misma operación con las coordenadas reordenadas: con
    la permutación ``perm = [0, 2, 4, …, d−2, 1, 3, …, d−1]`` (primero las pares,
    luego las impares), ``apply_rotary(x)[..., perm]`` es RoPE *rotate half*
    aplicado a ``x[..., perm]``. Por eso se pueden convertir los pesos ``W_q`` y
    ``W_k`` de una convención a la otra permutando sus filas dentro de cada cabeza.

    Parámetros
    ----------
    x : tensor ``(..., T, d)`` con ``d`` par (por ejemplo ``(N, h, T, d_h)``).
    positions : tensor entero ``(T,)`` con la posición de cada fila; por defecto
        ``offset, offset + 1, …, offset + T − 1``.
    offset : posición de la primera fila cuando no se dan ``positions`` (útil
        con la caché KV: los tokens nuevos empiezan donde acabó la caché).
    base : como en :func:`sinusoidal_positions`.

    Devuelve
    --------
    Tensor de la misma forma y tipo que ``x``; la norma de cada vector no cambia.

    Ejemplo
    -------
    >>> apply_rotary(torch.tensor([[1.0, 0.0], [1.0, 0.0]]))  # posición 1: gira 1 rad
    tensor([[1.0000, 0.0000],
            [0.5403, 0.8415]])

    Capítulo 5, sección «Posiciones que giran».
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` debe ser un tensor de PyTorch, pero es de tipo {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"`x` debe tener forma (..., T, d), pero tiene forma {describe_shape(x.shape)}"
        )
    T, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(
            f"la última dimensión de `x` debe ser par, pero `x` tiene forma "
            f"{describe_shape(x.shape)}"
        )
    if positions is None:
        offset = check_int("offset", offset, min_value=0)
        positions = torch.arange(offset, offset + T)
    else:
        positions = _check_positions(positions)
        if positions.shape != (T,):
            raise ValueError(
                f"`positions` debe tener forma ({T},), una posición por fila de `x`, pero "
                f"tiene forma {describe_shape(positions.shape)}"
            )
    cos, sin = rotary_angles(positions.to(x.device), d, base=base)  # (T, d/2)
    return rotate_pairs(x, cos.to(x.dtype), sin.to(x.dtype))


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Gira cada par ``(x_{2i}, x_{2i+1})`` de ``x`` ``(..., T, d)`` con ángulos ya calculados.

    ``cos`` y ``sin`` tienen forma ``(T, d/2)`` (por ejemplo, filas de una tabla de
    :func:`rotary_angles` guardada de antemano, como hace :class:`libroia.gpt.GPT`, que
    se la pasa a :class:`libroia.attention.MultiHeadAttention` como ``rope``).
    Es el paso final de :func:`apply_rotary`, sin comprobaciones.

    >>> cos, sin = torch.tensor([[0.0]]), torch.tensor([[1.0]])   # un par, 90°
    >>> rotate_pairs(torch.tensor([[2.0, 3.0]]), cos, sin)        # (a, b) → (−b, a)
    tensor([[-3.,  2.]])
    """
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)  # (..., T, d/2, 2)
    x_even, x_odd = pairs[..., 0], pairs[..., 1]  # (..., T, d/2)
    y_even = x_even * cos - x_odd * sin
    y_odd = x_even * sin + x_odd * cos
    return torch.stack([y_even, y_odd], dim=-1).reshape(x.shape)  # (..., T, d)
