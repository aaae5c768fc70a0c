"""The README's quick start runs as written, block after block, and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_quick_start_runs(tmp_path, monkeypatch):
    blocks = _python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # it writes remc.zarr and deletion.png where it runs
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    adata = namespace["adata"]
    assert (tmp_path / "remc.zarr").is_dir() and (tmp_path / "deletion.png").stat().st_size > 0
    metrics = adata.uns["finetune"]["metrics"].set_index("approach")
    assert metrics.loc["finetuned", "auroc"] > 0.7
    assert "deepdiff" in adata.var and np.isfinite(adata.var["deepdiff"]).all()
    assert adata.obsm["attentivechrome_alpha"].shape[:2] == (adata.n_obs, adata.n_vars)
    assert plt.get_fignums() == []  # every plot was shown (closed, on Agg)
