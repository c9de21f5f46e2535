"""Rendimiento de entrenamiento del GPT diminuto del libro: fichas por segundo.

Entrena el modelo por defecto (``GPTConfig()``) unos pasos sobre fichas al azar
con la misma función de paso que ``train_or_load`` (AdamW, recorte del
gradiente) y cuenta las fichas procesadas por segundo, con uno y dos hilos.

Uso: ``python benchmarks/bench_gpt.py``. ``make bench`` lo ejecuta.
"""

from __future__ import annotations

import json

import torch
from _timing import median_seconds

from libroia.gpt import GPT, GPTConfig
from libroia.gpt_train import make_optimizer, train_step


def tokens_per_second(threads: int, steps: int = 5) -> float:
    config = GPTConfig()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = GPT(config)
        optimizer = make_optimizer(model, config.lr)
        gen = torch.Generator().manual_seed(0)
        shape = (config.batch_size, config.context + 1)
        chunk = torch.randint(config.vocab_size, shape, generator=gen)  # (N, T + 1)
        x, y = chunk[:, :-1], chunk[:, 1:]  # (N, T)

        def run() -> None:
            for _ in range(steps):
                train_step(model, optimizer, x, y)

        seconds = median_seconds(run, repeat=5, warmup=1)
    finally:
        torch.set_num_threads(previous)
    return steps * config.batch_size * config.context / seconds


def main() -> dict:
    config = GPTConfig()
    return {
        "gpt_params": sum(p.numel() for p in GPT(config).parameters()),
        "gpt_steps_default": config.steps,
        "gpt_train_tokens_per_s_1_thread": round(tokens_per_second(1)),
        "gpt_train_tokens_per_s_2_threads": round(tokens_per_second(2)),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
