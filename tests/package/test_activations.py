"""Pruebas de libroia.activations: la MLP del bloque y sus activaciones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from libroia.activations import MLP, MLP_ACTIVATIONS, fit_curve, time_activations
from libroia.scaling import ACTIVATIONS as SHAPE_ACTIVATIONS


def test_swiglu_mlp_matches_its_definition():
    torch.manual_seed(0)
    mlp = MLP(6, 10, "swiglu", bias=False)
    x = torch.randn(2, 3, 6)
    expected = (F.silu(x @ mlp.gate.weight.T) * (x @ mlp.up.weight.T)) @ mlp.down.weight.T
    torch.testing.assert_close(mlp(x), expected)


def test_any_nonlinearity_bends_the_curve_but_identity_cannot():
    x = torch.linspace(-3, 3, 64)
    y = torch.sin(2 * x)
    _, mse_linear = fit_curve(x, y, "identity", steps=400)
    _, mse_relu = fit_curve(x, y, "relu", steps=400)
    assert mse_linear > 0.3  # una recta no sigue a un seno
    assert mse_relu < 0.5 * mse_linear


def test_time_activations_reports_every_activation_and_its_parameters():
    out = time_activations(d=8, tokens=16, repeats=2)
    assert set(out) == {"relu", "gelu", "silu", "swiglu"}
    assert out["gelu"]["params"] == 2 * 8 * 32 + 32 + 8
    assert out["swiglu"]["params"] == 3 * 8 * 32 + 2 * 32 + 8
    assert all(v["activation_ms"] > 0 and v["mlp_ms"] > 0 for v in out.values())




def test_mlp_parameter_counts_and_the_shape_calculator_agree():
    assert set(MLP_ACTIVATIONS) == set(SHAPE_ACTIVATIONS)
    for name in MLP_ACTIVATIONS:
        mlp = MLP(8, 20, name)
        n_mats = 3 if name == "swiglu" else 2
        expected = n_mats * 8 * 20 + (n_mats - 1) * 20 + 8
        assert sum(p.numel() for p in mlp.parameters()) == expected


@pytest.mark.parametrize("name", ["relu", "gelu", "silu"])
def test_mlp_applies_its_activation(name):
    torch.manual_seed(1)
    mlp = MLP(4, 6, name)
    x = torch.randn(2, 3, 4)
    act = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu}[name]
    torch.testing.assert_close(mlp(x), mlp.down(act(mlp.up(x))))


def test_bad_activations_raise_spanish_errors():
    with pytest.raises(ValueError, match=r"`activation` debe ser uno de \"relu\".*'tanh'"):
        MLP(4, 8, "tanh")
    with pytest.raises(ValueError, match="`activation`"):
        MLP(4, 8, "swi")  # sin subcadenas
    with pytest.raises(ValueError, match="`hidden`"):
        MLP(4, 0)
    with pytest.raises(TypeError, match="`d`"):
        MLP(4.0, 8)
    x = torch.linspace(-1, 1, 8)
    with pytest.raises(ValueError, match="`activation`"):
        fit_curve(x, x, "tanh", steps=1)
    with pytest.raises(ValueError, match="`x` e `y`"):
        fit_curve(x, x[:3], "relu", steps=1)
