"""Pruebas de libroia.batching: lotes estáticos y continuos y la memoria por bloques.

No hay una biblioteca de referencia que simular; se comprueban casos hechos a mano,
equivalencias (con lotes de una sola secuencia las dos políticas coinciden),
conservación (cada token del prompt y de la respuesta se procesa una vez) y las
cotas de desperdicio de memoria de cada forma de reservarla.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.batching import BlockAllocator, Request, request_stream, simulate
from libroia.inference import A100_80GB, CostModel
from libroia.scaling import PUBLISHED_SHAPES

UNIT = lambda batch: 1.0  # noqa: E731  (cada pasada cuesta 1 s, haga lo que haga)
LINEAR = lambda batch: 1.0 + 0.01 * sum(n for n, _ in batch)  # noqa: E731

requests_strategy = st.lists(
    st.tuples(st.floats(0, 20), st.integers(1, 40), st.integers(1, 30)), min_size=1, max_size=12
).map(lambda rows: [Request(i, a, p, o) for i, (a, p, o) in enumerate(rows)])


# --------------------------------------------------------------------------- casos a mano


def test_static_batch_waits_for_its_longest_answer():
    reqs = [Request(0, 0.0, 5, 2), Request(1, 0.0, 3, 4), Request(2, 0.5, 2, 1)]
    res = simulate(reqs, UNIT, policy="static", max_batch=2)
    assert res.finish == {0: 4.0, 1: 4.0, 2: 5.0}  # la 2 llega tarde y espera al lote entero
    assert res.first_token == {0: 1.0, 1: 1.0, 2: 5.0}
    # prellenado rellenado hasta el prompt más largo (5) para las dos secuencias
    assert res.iterations[0][3] == 10


def test_continuous_batch_lets_requests_in_and_out_every_iteration():
    reqs = [Request(0, 0.0, 5, 2), Request(1, 0.0, 3, 4), Request(2, 0.5, 2, 1)]
    res = simulate(reqs, UNIT, policy="continuous", max_batch=2)
    assert res.finish == {0: 2.0, 1: 4.0, 2: 3.0}  # la 2 entra en cuanto sale la 0
    assert res.admitted == {0: 0.0, 1: 0.0, 2: 2.0}
    assert [row[3] for row in res.iterations] == [8, 2, 3, 1]  # prellenado mezclado


def test_idle_engine_jumps_to_the_next_arrival():
    res = simulate([Request(0, 10.0, 2, 2)], UNIT)
    assert res.first_token[0] == 11.0 and res.finish[0] == 12.0
    assert res.percentile(50) == 2.0 and res.percentile(50, metric="ttft") == 1.0


# --------------------------------------------------------------------------- propiedades


@settings(max_examples=40, deadline=None)
@given(reqs=requests_strategy, policy=st.sampled_from(["static", "continuous"]),
       max_batch=st.integers(1, 5))
def test_every_request_is_answered_after_it_arrives(reqs, policy, max_batch):
    res = simulate(reqs, LINEAR, policy=policy, max_batch=max_batch, max_seq_len=128)
    for r in reqs:
        assert r.arrival < res.first_token[r.id] <= res.finish[r.id]
        assert res.finish[r.id] - res.first_token[r.id] >= r.output_tokens - 1 - 1e-9
    assert all(row[2] <= max_batch for row in res.iterations)
    starts = [row[0] for row in res.iterations]
    assert starts == sorted(starts)


@settings(max_examples=40, deadline=None)
@given(reqs=requests_strategy)
def test_one_sequence_at_a_time_makes_both_policies_equal(reqs):
    static = simulate(reqs, LINEAR, policy="static", max_batch=1, max_seq_len=128)
    continuous = simulate(reqs, LINEAR, policy="continuous", max_batch=1, max_seq_len=128)
    assert static.finish == pytest.approx(continuous.finish)
    assert static.first_token == pytest.approx(continuous.first_token)


@settings(max_examples=40, deadline=None)
@given(reqs=requests_strategy, max_batch=st.integers(1, 6))
def test_continuous_batching_processes_each_token_once(reqs, max_batch):
    """Sin expulsiones, cada petición procesa su prompt y todas sus respuestas menos la última."""
    res = simulate(reqs, LINEAR, max_batch=max_batch, max_seq_len=128)
    processed = sum(row[3] for row in res.iterations)
    assert processed == sum(r.prompt_tokens + r.output_tokens - 1 for r in reqs)


@settings(max_examples=40, deadline=None)
@given(reqs=requests_strategy, block_size=st.integers(1, 16), blocks=st.integers(6, 40))
def test_paged_memory_wastes_less_than_one_block_per_sequence(reqs, block_size, blocks):
    capacity = max(blocks * block_size, 128)
    res = simulate(reqs, LINEAR, allocation="paged", kv_capacity=capacity, block_size=block_size,
                   max_batch=8, max_seq_len=128)
    assert set(res.finish) == {r.id for r in reqs}
    for _start, _end, n_seqs, _new, stored, reserved in res.iterations:
        assert stored <= reserved <= capacity
        assert reserved - stored < block_size * n_seqs


@settings(max_examples=30, deadline=None)
@given(reqs=requests_strategy)
def test_reserved_memory_is_max_seq_len_per_sequence(reqs):
    res = simulate(reqs, LINEAR, max_batch=3, max_seq_len=128, kv_capacity=256)
    for *_, n_seqs, _new, stored, reserved in res.iterations:
        assert reserved == 128 * n_seqs and stored <= reserved
        assert n_seqs <= 2  # 256 tokens de caché: solo caben dos reservas de 128


def test_paged_memory_fits_more_sequences_and_serves_faster():
    cost = CostModel(PUBLISHED_SHAPES["Llama-2-7B"], A100_80GB).seconds
    reqs = request_stream(150, rate=40.0, seed=0)
    kw = {"kv_capacity": 40_000, "max_batch": 256}
    reserve = simulate(reqs, cost, allocation="reserve", **kw)
    paged = simulate(reqs, cost, allocation="paged", **kw)
    static = simulate(reqs, cost, policy="static", **kw)
    assert reserve.mean_batch <= 40_000 // 4096
    assert paged.mean_batch > 2 * reserve.mean_batch
    assert paged.throughput > reserve.throughput > static.throughput
    assert paged.percentile(95) < reserve.percentile(95) < static.percentile(95)
    assert paged.memory_used > 0.9 > 0.5 > reserve.memory_used


def test_preempted_sequences_are_recomputed():
    """Con muy poca memoria, las secuencias expulsadas vuelven y repiten su prellenado."""
    reqs = [Request(i, 0.0, 20, 30) for i in range(4)]
    res = simulate(reqs, UNIT, allocation="paged", kv_capacity=64, block_size=4, max_seq_len=64)
    assert res.preemptions > 0
    assert set(res.finish) == {0, 1, 2, 3}
    assert sum(row[3] for row in res.iterations) > sum(20 + 30 - 1 for _ in reqs)


# --------------------------------------------------------------- el repartidor de bloques


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["grow", "free"]), st.integers(0, 4),
                              st.integers(0, 50)), max_size=40),
       n_blocks=st.integers(0, 20), block_size=st.integers(1, 8))
def test_block_allocator_never_shares_or_loses_a_block(ops, n_blocks, block_size):
    mem = BlockAllocator(n_blocks, block_size)
    wanted = {}
    for op, seq, tokens in ops:
        if op == "free":
            mem.free(seq)
            wanted.pop(seq, None)
        elif mem.allocate(seq, tokens):
            wanted[seq] = max(wanted.get(seq, 0), tokens)
        tables = [mem.table(s) for s in range(5)]
        used = [b for t in tables for b in t]
        assert len(used) == len(set(used))  # ningún bloque en dos tablas
        assert all(0 <= b < n_blocks for b in used)
        assert len(used) + mem.free_blocks == n_blocks
        for s, tokens_needed in wanted.items():
            assert len(mem.table(s)) == mem.blocks_for(tokens_needed)


def test_failed_allocation_changes_nothing():
    mem = BlockAllocator(3, 10)
    assert mem.allocate("a", 15)
    assert not mem.allocate("a", 45)
    assert mem.table("a") == [0, 1] and mem.free_blocks == 1
    assert not mem.allocate("b", 11) and mem.table("b") == []


# --------------------------------------------------------------------------- peticiones


def test_request_stream_is_reproducible_and_has_the_requested_shape():
    a = request_stream(4000, rate=5.0, prompt_median=100, output_median=50, sigma=0.8, seed=3)
    assert a == request_stream(4000, rate=5.0, prompt_median=100, output_median=50, sigma=0.8,
                               seed=3)
    arrivals = np.array([r.arrival for r in a])
    assert np.all(np.diff(arrivals) >= 0)
    assert np.mean(np.diff(arrivals)) == pytest.approx(1 / 5.0, rel=0.05)
    assert np.median([r.prompt_tokens for r in a]) == pytest.approx(100, rel=0.06)
    assert np.median([r.output_tokens for r in a]) == pytest.approx(50, rel=0.06)
    assert max(r.prompt_tokens + r.output_tokens for r in a) <= 4096


# --------------------------------------------------------------------------- errores


def test_errors_name_the_argument():
    reqs = [Request(0, 0.0, 4, 4)]
    with pytest.raises(ValueError, match="policy"):
        simulate(reqs, UNIT, policy="dynamic")
    with pytest.raises(ValueError, match="reserve"):
        simulate(reqs, UNIT, policy="static", allocation="paged")
    with pytest.raises(ValueError, match="kv_capacity"):
        simulate(reqs, UNIT, kv_capacity=100, max_seq_len=128)
    with pytest.raises(ValueError, match="max_seq_len"):
        simulate([Request(0, 0.0, 100, 100)], UNIT, max_seq_len=128)
    with pytest.raises(ValueError, match="requests"):
        simulate([], UNIT)
    with pytest.raises(TypeError, match="requests"):
        simulate([(0, 0.0, 4, 4)], UNIT)
    with pytest.raises(ValueError, match="id"):
        simulate([Request(0, 0.0, 4, 4), Request(0, 1.0, 4, 4)], UNIT)
    with pytest.raises(ValueError, match="prompt_tokens"):
        simulate([Request(0, 0.0, 0, 4)], UNIT)
    with pytest.raises(TypeError, match="cost"):
        simulate(reqs, 1.0)
    with pytest.raises(ValueError, match="metric"):
        simulate(reqs, UNIT).percentile(50, metric="tpot")
    with pytest.raises(ValueError, match="rate"):
        request_stream(3, rate=0.0)
    with pytest.raises(ValueError, match="block_size"):
        BlockAllocator(4, 0)
