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


#: Texto de entrenamiento del tokenizador diminuto de las pruebas de decodificación.
TINY_TEXT = "El modelo elige un token y luego otro. El 12 de marzo de 2024 fue martes. " * 6


def tiny_language_model(text: str, *, vocab_size: int = 280, context: int = 12):
    """Un tokenizador BPE entrenado con ``text`` y un GPT diminuto al azar con su vocabulario."""
    from libroia.tokenizer import BPETokenizer

    tok = BPETokenizer.train(text, vocab_size)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=vocab_size, context=context, d_model=32, n_layers=1, n_heads=2)
    return GPT(config).eval(), tok
