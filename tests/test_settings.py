"""ct.settings validates its options and drives chromtools' logger."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import chromtools as ct
from chromtools._logging import get_logger


def test_defaults():
    assert ct.settings.device == "auto"
    assert ct.settings.seed == 0
    assert 1 <= ct.settings.n_jobs <= 4


def test_verbosity_sets_the_chromtools_logger_only(restore_settings):
    root_level = logging.getLogger().level
    ct.settings.verbosity = 3
    assert logging.getLogger("chromtools").level == logging.DEBUG
    ct.settings.verbosity = 0
    assert logging.getLogger("chromtools").level == logging.ERROR
    assert logging.getLogger().level == root_level


def test_the_largest_seed_is_taken_and_fills_a_training_config(restore_settings):
    ct.settings.seed = 2**32 - 1
    assert ct.tl.TrainingConfig().resolved("deepchrome").seed == 2**32 - 1


def test_device_accepts_indexed_cuda(restore_settings):
    ct.settings.device = "cuda:1"
    assert ct.settings.device == "cuda:1"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("device", "tpu", "device must be one of"),
        ("n_jobs", 0, "n_jobs must be a positive integer"),
        ("seed", 1.5, "seed must be an integer"),
        ("seed", -1, r"ct.settings.seed must be an integer from 0 to 2\*\*32 - 1 \(4294967295\)"),
        ("seed", 2**32, r"ct.settings.seed must be an integer from 0 to 2\*\*32 - 1"),
        ("seed", 2**64, r"ct.settings.seed must be an integer from 0 to 2\*\*32 - 1"),
        ("verbosity", 7, "verbosity must be 0, 1, 2 or 3"),
        ("colour", "red", "has no option 'colour'"),
    ],
)
def test_bad_settings_are_refused(restore_settings, name, value, message):
    before = getattr(ct.settings, name, None)
    with pytest.raises((ValueError, AttributeError), match=message):
        setattr(ct.settings, name, value)
    assert getattr(ct.settings, name, None) == before


def test_chromtools_installs_one_handler_on_its_own_logger_only():
    assert [h.get_name() for h in logging.getLogger("chromtools").handlers] == ["chromtools"]
    assert not any(h.get_name() == "chromtools" for h in logging.getLogger().handlers)
    assert logging.getLogger("chromtools.tl").propagate


@pytest.mark.parametrize(
    ("verbosity", "shown"),
    [
        (0, []),
        (1, ["WARNING: careful"]),
        (2, ["fitting", "WARNING: careful"]),
        (3, ["epoch 1", "fitting", "WARNING: careful"]),
    ],
)
def test_verbosity_filters_messages_of_child_loggers(restore_settings, capsys, verbosity, shown):
    ct.settings.verbosity = verbosity
    child = get_logger("chromtools.tl.modeling._fit")
    child.debug("epoch 1")
    child.info("fitting")
    child.warning("careful")
    assert capsys.readouterr().err.splitlines() == shown


def test_a_verbosity_change_takes_effect_at_once(restore_settings, capsys):
    child = logging.getLogger("chromtools.tl")
    ct.settings.verbosity = 1
    child.info("hidden")
    ct.settings.verbosity = 2
    child.info("shown")
    ct.settings.verbosity = 1
    child.info("hidden again")
    assert capsys.readouterr().err == "shown\n"


def test_messages_reach_pytest_caplog_through_propagation(restore_settings, caplog):
    ct.settings.verbosity = 2
    with caplog.at_level(logging.INFO, logger="chromtools"):
        get_logger("tl").info("from tl")
    assert [(r.name, r.message) for r in caplog.records] == [("chromtools.tl", "from tl")]


def test_importing_chromtools_prints_nothing():
    result = subprocess.run(
        [sys.executable, "-c", "import chromtools"], capture_output=True, text=True, check=True
    )
    assert (result.stdout, result.stderr) == ("", "")


def test_progress_writes_one_line_per_stage_when_logged(capsys, restore_settings):
    """Not a terminal (pytest's capture): the outer bar's start and end, nothing of inner bars."""
    from chromtools._utils import progress

    ct.settings.progress = True
    for _ in progress(range(50), desc="outer stage"):
        for _ in progress(range(5), desc="inner stage", leave=False):
            pass
    for _ in progress(range(50), desc="second stage"):
        pass
    err = capsys.readouterr().err
    assert "inner stage" not in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 2, lines  # one line per stage, each redrawn once with \r
    assert lines[0].count("\r") == 2 and "50/50" in lines[0] and "second stage" in lines[1]


def test_progress_is_silent_when_switched_off(capsys, restore_settings):
    from chromtools._utils import progress

    ct.settings.progress = False
    list(progress(range(10), desc="hidden"))
    assert capsys.readouterr().err == ""


def _histone():
    adata = ct.datasets.synthetic_histone(2, 40, n_bins=10, seed=0)
    ct.pp.split(adata, seed=0)
    return adata


@pytest.mark.parametrize("seed", [2**32, 2**64, -1, 1.5])
@pytest.mark.parametrize(
    "call",
    [
        lambda seed: ct.datasets.synthetic_histone(2, 20, n_bins=10, seed=seed),
        lambda seed: ct.datasets.synthetic_sequences(10, 50, seed=seed),
        lambda seed: ct.pp.split(_histone(), seed=seed),
        lambda seed: ct.tl.attribute(_histone(), "none", seed=seed),
        lambda seed: ct.tl.in_silico_deletion(_histone(), "none", seed=seed),
        lambda seed: ct.functional.bootstrap_interval(
            [0, 1, 1], [0.2, 0.7, 0.9], "classification", metric="auroc", seed=seed
        ),
    ],
    ids=[
        "synthetic_histone",
        "synthetic_sequences",
        "split",
        "attribute",
        "deletion",
        "bootstrap_interval",
    ],  # fmt: skip
)
def test_every_seed_is_checked_against_one_range(call, seed):
    """One range, 0 to 2**32 - 1 (what torch, numpy and scikit-learn all accept), everywhere
    a seed is taken, checked before any work."""
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*32 - 1"):
        call(seed)


def test_subsample_curve_refuses_seeds_its_runs_would_push_past_the_range():
    adata = _histone()
    with pytest.raises(ValueError, match=r"seed \+ n_boot - 1 = 4294967296 is above"):
        ct.tl.subsample_curve(adata, "cell0", "cell1", fractions=[0.5], n_boot=2, seed=2**32 - 1)
    assert "subsample_curve" not in adata.uns and not any(
        k.startswith("deepchrome") for k in adata.uns
    )
