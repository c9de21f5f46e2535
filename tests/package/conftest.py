"""Fixtures compartidas por las pruebas de ``libroia``."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Un hilo de PyTorch: con tensores tan pequeños, dos hilos en una CPU ocupada se estorban.

    Se pide con ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
