"""Every fitted model lives in the AnnData: after a Zarr round trip, read in a
fresh Python process, it predicts exactly what it predicted when fitted."""

from __future__ import annotations

import fractions
import subprocess
import sys

import numpy as np
import pytest

import chromtools as ct

# (model, target, hyperparameters): every scikit-learn baseline, small enough to
# fit in a second, and one PyTorch model for comparison.
CASES = [
    ("logreg", "label", {}),
    ("rf", "label", {"n_estimators": 20}),
    ("rf", "expression", {"n_estimators": 20}),
    ("svr", "expression", {"n_candidates": 3}),
    ("svr2", "expression", {}),
    ("deepchrome", "label", {}),
]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    adata = ct.datasets.synthetic_histone(2, 80, n_bins=20, seed=5)
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    for model, target, hyperparameters in CASES:
        key = f"{model}_{target}"
        ct.tl.fit(
            adata,
            model,
            cell_types=["cell0"],
            y=target,
            key_added=key,
            hyperparameters=hyperparameters,
            epochs=2,
        )
    path = tmp_path_factory.mktemp("persist") / "fitted.zarr"
    ct.io.write_zarr(adata, path)
    return adata, path


_PREDICT_ELSEWHERE = """
import sys
import numpy as np
import chromtools as ct

path, out, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
adata = ct.io.read_zarr(path, lazy=False)
predictions = {}
for key in keys:
    del adata.layers[key]
    ct.tl.predict(adata, key, cell_types=["cell0", "cell1"])
    predictions[key] = np.asarray(adata.layers[key])
np.savez(out, **predictions)
"""


@pytest.fixture(scope="module")
def predicted_elsewhere(fitted, tmp_path_factory):
    """Every model's predictions, made in one fresh process from the Zarr store alone."""
    _, path = fitted
    folder = tmp_path_factory.mktemp("elsewhere")
    script, out = folder / "predict.py", folder / "predictions.npz"
    script.write_text(_PREDICT_ELSEWHERE)
    keys = [f"{model}_{target}" for model, target, _ in CASES]
    command = [sys.executable, str(script), str(path), str(out), *keys]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(out))


@pytest.mark.parametrize(("model", "target"), [(m, t) for m, t, _ in CASES])
def test_a_model_predicts_the_same_in_a_fresh_process(fitted, predicted_elsewhere, model, target):
    adata, _ = fitted
    key = f"{model}_{target}"
    ct.tl.predict(adata, key, cell_types=["cell0", "cell1"])
    expected = np.asarray(adata.layers[key])
    assert np.isfinite(expected).all()
    np.testing.assert_array_equal(predicted_elsewhere[key], expected)


@pytest.mark.parametrize("model", ["logreg", "rf"])
def test_a_baseline_is_saved_and_loaded(fitted, tmp_path, model):
    adata, _ = fitted
    key = f"{model}_label"
    ct.tl.save_model(adata, key, tmp_path / "m")
    ct.tl.load_model(adata, tmp_path / "m", key_added="again")
    ct.tl.predict(adata, "again", cell_types=["cell0"])
    ct.tl.predict(adata, key, cell_types=["cell0"])
    np.testing.assert_array_equal(adata.layers["again"][0], adata.layers[key][0])
    del adata.uns["again"], adata.layers["again"]


def test_a_stored_baseline_with_a_foreign_type_is_refused(fitted):
    import skops.io as sio

    adata, _ = fitted
    record = dict(adata.uns["logreg_label"])
    record["estimator"] = np.frombuffer(sio.dumps(fractions.Fraction(1, 3)), dtype=np.uint8)
    adata.uns["tampered"] = record
    try:
        with pytest.raises(ct.StoreError, match=r"does not trust: \['fractions.Fraction'\]"):
            ct.tl.predict(adata, "tampered", cell_types=["cell0"])
    finally:
        del adata.uns["tampered"]
