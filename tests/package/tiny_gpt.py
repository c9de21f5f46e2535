"""Un GPT diminuto y entradas al azar, compartidos por las pruebas del modelo."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from libroia.gpt import GPT, GPTConfig

TINY = dict(vocab_size=50, context=12, d_model=16, n_layers=2, n_heads=2)


def tiny_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides})).eval()


def random_ids(N: int, T: int, V: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (N, T), generator=torch.Generator().manual_seed(seed))


#: Las variantes de arquitectura que acepta ``GPTConfig``.
VARIANTS = st.fixed_dictionaries({
    "positions": st.sampled_from(["learned", "sinusoidal", "rope"]),
    "activation": st.sampled_from(["relu", "gelu", "silu", "swiglu"]),
    "norm": st.sampled_from(["layernorm", "rmsnorm"]),
})  # fmt: skip
