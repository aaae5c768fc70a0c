"""ct.settings validates its options and drives chromtools' logger."""

from __future__ import annotations

import logging

import pytest

import chromtools as ct


@pytest.fixture
def restore_settings():
    saved = {name: getattr(ct.settings, name) for name in ct.settings.__dataclass_fields__}
    yield
    for name, value in saved.items():
        setattr(ct.settings, name, value)


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


def test_device_accepts_indexed_cuda(restore_settings):
    ct.settings.device = "cuda:1"
    assert ct.settings.device == "cuda:1"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("device", "tpu", "device must be one of"),
        ("n_jobs", 0, "n_jobs must be a positive integer"),
        ("seed", 1.5, "seed must be an integer"),
        ("verbosity", 7, "verbosity must be 0, 1, 2 or 3"),
        ("colour", "red", "has no option 'colour'"),
    ],
)
def test_bad_settings_are_refused(restore_settings, name, value, message):
    before = getattr(ct.settings, name, None)
    with pytest.raises((ValueError, AttributeError), match=message):
        setattr(ct.settings, name, value)
    assert getattr(ct.settings, name, None) == before
