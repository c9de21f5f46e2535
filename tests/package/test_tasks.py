"""Pruebas de libroia.tasks: las tareas sintéticas de memoria a largo plazo."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia import tasks


def test_first_value_batch():
    x, y = tasks.first_value_batch(5, 7, rng=0)
    assert x.shape == (5, 7, 1) and y.shape == (5,)
    np.testing.assert_array_equal(y, x[:, 0, 0])
    x2, _ = tasks.first_value_batch(5, 7, rng=0)
    np.testing.assert_array_equal(x, x2)  # reproducible con la misma semilla


def test_first_token_batch_values():
    tokens, y = tasks.first_token_batch(200, 6, n_symbols=3, n_distractors=2, rng=1)
    assert tokens.shape == (200, 6) and tokens.dtype == np.int64
    np.testing.assert_array_equal(y, tokens[:, 0])
    assert set(np.unique(tokens[:, 0])) == {0, 1, 2}
    assert set(np.unique(tokens[:, 1:])) == {3, 4}


@pytest.mark.parametrize(
    "kwargs, name",
    [({"N": 0, "T": 3}, "N"), ({"N": 2, "T": 0}, "T"), ({"N": 2, "T": 3, "n_symbols": 1},
                                                        "n_symbols")],
)
def test_first_token_batch_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        tasks.first_token_batch(**kwargs)


@settings(max_examples=30, deadline=None)
@given(
    N=st.integers(1, 20), T=st.integers(1, 12), n_symbols=st.integers(2, 5),
    n_distractors=st.integers(1, 5), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_first_token_batch_properties(N, T, n_symbols, n_distractors, seed):
    tokens, y = tasks.first_token_batch(
        N, T, n_symbols=n_symbols, n_distractors=n_distractors, rng=seed
    )
    assert tokens.shape == (N, T) and y.shape == (N,)
    assert ((0 <= y) & (y < n_symbols)).all()
    rest = tokens[:, 1:]
    assert ((n_symbols <= rest) & (rest < n_symbols + n_distractors)).all()
    again, _ = tasks.first_token_batch(
        N, T, n_symbols=n_symbols, n_distractors=n_distractors, rng=seed
    )
    np.testing.assert_array_equal(tokens, again)


def test_first_token_batch_chance_is_one_over_n_symbols():
    """Los símbolos salen uniformes: adivinar siempre el mismo acierta ≈ 1 / n_symbols."""
    _, y = tasks.first_token_batch(20_000, 2, n_symbols=4, rng=0)
    np.testing.assert_allclose(np.bincount(y, minlength=4) / y.size, 0.25, atol=0.02)


def test_first_value_batch_bad_args():
    with pytest.raises(ValueError, match="N"):
        tasks.first_value_batch(0, 3)
    with pytest.raises(TypeError, match="T"):
        tasks.first_value_batch(2, 3.0)
