"""The one loader: the same samples from memory and streamed from Zarr chunks."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
import torch

import chromtools as ct
from chromtools.tl.engine import _inputs as _data
from chromtools.tl.engine._data import Batches, Inputs


@pytest.fixture
def stored(tmp_path):
    adata = ct.datasets.synthetic_histone(2, 300, n_bins=20, seed=3)
    ct.io.write_zarr(adata, tmp_path / "s.zarr", chunk_genes=32)
    return adata, ct.io.read_zarr(tmp_path / "s.zarr")


def _collect(batches: Batches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, rows = zip(*[(x.numpy(), y, r) for x, y, r in batches], strict=True)
    ys = None if ys[0] is None else np.concatenate([y.numpy() for y in ys])
    return np.concatenate(xs), ys, np.concatenate(rows)


def test_every_sample_once_with_its_own_input_and_target(stored):
    memory, lazy = stored
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 2, 500)
    genes = rng.integers(0, 300, 500)
    target = np.arange(500, dtype=np.float32)
    truth = ct.get.histone(memory)[cells, genes]
    for adata, budget in ((memory, None), (lazy, None), (lazy, 0)):
        kwargs = {} if budget is None else {"memory_budget": budget}
        batches = Batches(
            Inputs.histone(adata),
            cells,
            genes,
            target,
            batch_size=64,
            shuffle=True,
            seed=1,
            **kwargs,
        )
        assert batches.in_memory == (budget is None)
        x, y, rows = _collect(batches)
        assert sorted(rows) == list(range(500))
        np.testing.assert_array_equal(y, target[rows])
        np.testing.assert_array_equal(x, truth[rows])
        assert x.dtype == np.float32 and x.shape[1:] == (5, 20)


def test_streaming_reads_blocks_in_random_order_and_shuffles_within_windows(stored):
    _, lazy = stored
    genes = np.arange(300)
    batches = Batches(
        Inputs.histone(lazy),
        np.zeros(300, int),
        genes,
        genes.astype(np.float32),
        batch_size=16,
        shuffle=True,
        seed=0,
        memory_budget=0,
        window_blocks=2,
    )
    _, _, rows = _collect(batches)
    blocks = rows // 32
    # blocks are not visited in store order ...
    first_seen = list(dict.fromkeys(blocks))
    assert first_seen != sorted(first_seen)
    # ... samples are shuffled inside a window of two blocks, and a window is
    # finished (bar fewer than a batch of left-overs, carried into the next)
    # before the window after next begins
    window_of = {b: i // 2 for i, b in enumerate(first_seen)}
    sequence = np.array([window_of[b] for b in blocks])
    for w in range(sequence.max() - 1):
        assert np.flatnonzero(sequence == w).max() < np.flatnonzero(sequence == w + 2).min()
        late = np.flatnonzero(sequence == w) > np.flatnonzero(sequence == w + 1).min()
        assert late.sum() < 16
    assert len(np.unique(blocks[:16])) <= 2
    # a new epoch is a new order
    _, _, again = _collect(batches)
    assert not np.array_equal(rows, again)


def test_paired_samples_read_both_cell_types(stored):
    memory, _ = stored
    genes = np.arange(10)
    cells = np.tile([0, 1], (10, 1))
    x, _, rows = _collect(Batches(Inputs.histone(memory), cells, genes, np.zeros(10, np.float32)))
    histone = ct.get.histone(memory)
    assert x.shape == (10, 2, 5, 20)
    np.testing.assert_array_equal(x[:, 0], histone[0, genes[rows]])
    np.testing.assert_array_equal(x[:, 1], histone[1, genes[rows]])


def test_same_seed_same_order(stored):
    memory, _ = stored
    genes = np.arange(300)

    def order(seed):
        b = Batches(
            Inputs.histone(memory),
            np.zeros(300, int),
            genes,
            genes.astype(np.float32),
            batch_size=50,
            shuffle=True,
            seed=seed,
        )
        return _collect(b)[2]

    np.testing.assert_array_equal(order(4), order(4))
    assert not np.array_equal(order(4), order(5))


def _recording(inputs: Inputs) -> list[tuple[tuple[int, ...], int]]:
    """Record the (cell types, first gene) of every chunk ``inputs`` reads."""
    calls = []
    load = inputs.load

    def recorded(cells, genes):
        calls.append((tuple(int(c) for c in cells), genes.start))
        return load(cells, genes)

    inputs.load = recorded
    return calls


@pytest.mark.parametrize("budget", [None, 0])
def test_ranks_take_disjoint_shards_of_one_permutation(stored, budget):
    _, lazy = stored
    rng = np.random.default_rng(2)
    cells, genes = rng.integers(0, 2, 400), rng.integers(0, 300, 400)
    truth = ct.get.histone(stored[0])[cells, genes]
    shards, reads = [], []
    for rank in range(3):
        inputs = Inputs.histone(lazy)
        reads.append(set(_recording(inputs)))
        batches = Batches(
            inputs, cells, genes, genes.astype(np.float32), batch_size=32, shuffle=True,
            seed=7, rank=rank, world_size=3, memory_budget=budget,
        )  # fmt: skip
        assert not batches.in_memory  # each rank reads only its own chunks
        x, _, rows = _collect(batches)
        np.testing.assert_array_equal(x, truth[rows])
        shards.append(rows)
    every = np.concatenate(shards)
    assert sorted(every) == list(range(400))
    # every chunk is read by exactly one rank
    assert not (reads[0] & reads[1]) and not (reads[1] & reads[2]) and not (reads[0] & reads[2])
    assert sum(len(r) for r in reads) == len(set.union(*reads))


def test_epoch_order_depends_only_on_seed_and_epoch(stored):
    memory, _ = stored

    def batches():
        return Batches(
            Inputs.histone(memory), np.zeros(300, int), np.arange(300),
            np.zeros(300, np.float32), batch_size=50, shuffle=True, seed=3,
        )  # fmt: skip

    running = batches()
    orders = [_collect(running)[2] for _ in range(3)]
    assert not np.array_equal(orders[0], orders[2])
    resumed = batches()
    resumed.set_rng_state(running.rng_state())
    again = batches()
    again.set_epoch(2)
    np.testing.assert_array_equal(_collect(again)[2], orders[2])
    np.testing.assert_array_equal(_collect(resumed)[2], _collect(running)[2])


def test_loader_workers_split_the_samples(stored):
    """Each of two workers streams one chunk of 32 genes at batch 31: 31 + 1 samples,
    drawn as one batch of 32 (BatchNorm cannot train on a lone last sample)."""
    _, lazy = stored
    batches = Batches(
        Inputs.histone(lazy), np.zeros(64, int), np.arange(64), np.arange(64, dtype=np.float32),
        batch_size=31, shuffle=True, seed=1, memory_budget=0,
    )  # fmt: skip
    # spawned workers: a forked copy of a process with zarr's and dask's threads may hang
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, num_workers=2, multiprocessing_context="spawn"
    )
    sizes, rows = zip(*[(len(r), r) for _, _, r in loader], strict=True)
    assert sorted(np.concatenate(rows)) == list(range(64))
    assert sizes == (32, 32)


def test_lazy_inputs_are_loaded_once_for_every_loader(stored):
    _, lazy = stored
    inputs = Inputs.histone(lazy)
    reads = _recording(inputs)
    train = Batches(inputs, np.array([0, 1, 1]), np.array([3, 4, 5]), shuffle=True)
    valid = Batches(inputs, np.array([1, 0]), np.array([6, 7]))
    one_cell = Batches(inputs, np.array([1]), np.array([8]))
    for batches in (train, valid, one_cell, train):
        _collect(batches)
    assert len(inputs._resident) == 1
    # both cell types, each chunk of genes once (300 genes in chunks of 32)
    assert len(reads) == 10 and len(set(reads)) == 10


def test_prefetch_hands_on_errors_and_stops_with_the_consumer(stored):
    _, lazy = stored
    inputs = Inputs.histone(lazy)

    def broken(units):
        raise OSError("chunk unreadable")

    inputs.load_units = broken
    batches = Batches(inputs, np.zeros(10, int), np.arange(10), memory_budget=0)
    with pytest.raises(OSError, match="chunk unreadable"):
        _collect(batches)

    def loader_threads() -> int:
        return sum(t.name == "chromtools-loader" for t in threading.enumerate())

    streaming = Batches(
        Inputs.histone(lazy), np.zeros(300, int), np.arange(300), batch_size=4, memory_budget=0,
        prefetch=2,
    )  # fmt: skip
    iterator = iter(streaming)
    next(iterator)
    assert loader_threads() == 1
    iterator.close()  # the consumer stops early
    assert loader_threads() == 0


def test_a_second_loader_of_the_same_store_reuses_a_live_buffer(stored):
    _, lazy = stored
    first, second = Inputs.histone(lazy), Inputs.histone(lazy)
    training = Batches(first, np.array([0, 1]), np.array([3, 4]))
    _collect(training)
    reads = _recording(second)
    x, _, rows = _collect(Batches(second, np.array([1]), np.array([5])))
    assert reads == []  # fit's prediction reads the training's buffer: no second copy
    np.testing.assert_array_equal(x[0], ct.get.histone(stored[0])[1, 5])
    buffer = next(iter(second._resident.values()))
    assert buffer is next(iter(first._resident.values()))
    del first, second, training, buffer
    gc.collect()
    assert not _data._loaded_elsewhere(Inputs.histone(lazy).array)  # gone with its last user


def _sizes_and_rows(batches: Batches) -> tuple[list[int], np.ndarray]:
    """The size of every batch of one pass, and the sample rows in the order drawn."""
    sizes, rows = [], []
    for x, y, r in batches:
        assert len(x) == len(y) == len(r)
        sizes.append(len(r))
        rows.append(r)
    return sizes, np.concatenate(rows)


@pytest.mark.parametrize("budget", [None, 0], ids=["in-memory", "streamed"])
@pytest.mark.parametrize(
    ("n", "sizes"),
    [(65, [65]), (129, [64, 65]), (64, [64]), (66, [64, 2]), (1, [1])],
)
def test_a_last_batch_of_one_sample_joins_the_batch_before(stored, budget, n, sizes):
    """BatchNorm cannot train on one sample: 257 regions at batch 256 are one batch of 257."""
    memory, lazy = stored
    rng = np.random.default_rng(n)
    cells, genes = rng.integers(0, 2, n), rng.integers(0, 300, n)
    truth = ct.get.histone(memory)[cells, genes]

    def batches() -> Batches:
        return Batches(
            Inputs.histone(lazy), cells, genes, np.arange(n, dtype=np.float32), batch_size=64,
            shuffle=True, seed=5, memory_budget=budget,
        )  # fmt: skip

    running = batches()
    assert running.in_memory == (budget is None) and len(running) == len(sizes)
    epochs = [_sizes_and_rows(running) for _ in range(2)]
    for drawn, rows in epochs:
        assert drawn == sizes
        assert sorted(rows) == list(range(n))  # every sample once
    x, _, rows = _collect(batches())
    np.testing.assert_array_equal(x, truth[rows])
    # the order is still that of (seed, epoch): epoch 1 drawn afresh is the running one's
    again = batches()
    again.set_epoch(1)
    np.testing.assert_array_equal(_sizes_and_rows(again)[1], epochs[1][1])


@pytest.mark.parametrize("budget", [None, 0], ids=["in-memory", "streamed"])
def test_each_rank_keeps_its_lone_last_sample_in_a_batch(stored, budget):
    memory, lazy = stored
    # in memory, rank 0 has 65 samples (one batch of 65), rank 1 has 64; streamed, the
    # ranks share the chunks of 32, 32, 32, 32 and 1 genes
    n = 129
    cells, genes = np.zeros(n, int), np.arange(n)
    shards = []
    for rank in range(2):
        adata = memory if budget is None else lazy
        batches = Batches(
            Inputs.histone(adata), cells, genes, np.zeros(n, np.float32), batch_size=64,
            shuffle=True, seed=2, rank=rank, world_size=2, memory_budget=budget,
        )  # fmt: skip
        sizes, rows = _sizes_and_rows(batches)
        assert 1 not in sizes and max(sizes) <= 65
        if budget is None:
            assert sizes == [[65], [64]][rank]
        shards.append(rows)
    assert sorted(np.concatenate(shards)) == list(range(n))


def test_batches_of_one_stay_batches_of_one(stored):
    """Prediction at batch size 1 (eval mode, where BatchNorm takes one sample)."""
    memory, _ = stored
    batches = Batches(Inputs.histone(memory), np.zeros(3, int), np.arange(3), batch_size=1)
    assert len(batches) == 3
    assert [len(x) for x, _, _ in batches] == [1, 1, 1]


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_a_seed_no_generator_takes_is_refused(stored, seed):
    memory, _ = stored
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*32 - 1"):
        Batches(Inputs.histone(memory), np.zeros(3, int), np.arange(3), seed=seed)
