"""The documentation site: its settings, its style sheet, its API pages and what the
tutorials print (nothing here builds the site or runs a tutorial)."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import chromtools as ct
import chromtools.functional as F

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9]*.py"))


def _conf(monkeypatch) -> dict:
    """docs/conf.py's settings, read without Sphinx (it only adds to ``sys.path``)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    return runpy.run_path(str(DOCS / "conf.py"))


@pytest.mark.parametrize(("value", "seconds"), [(None, 1800), ("42", 42)])
def test_the_cell_timeout_is_read_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv("CHROMTOOLS_NB_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("CHROMTOOLS_NB_TIMEOUT", value)
    assert _conf(monkeypatch)["nb_execution_timeout"] == seconds


def test_the_cell_timeout_is_documented():
    assert "CHROMTOOLS_NB_TIMEOUT" in (DOCS / "installation.md").read_text()


def test_long_code_and_output_lines_wrap(monkeypatch):
    conf = _conf(monkeypatch)
    sheets = [DOCS / "_static" / name for name in conf["html_css_files"]]
    assert sheets and all(sheet.is_file() for sheet in sheets)
    css = "".join(sheet.read_text() for sheet in sheets)
    # The rule that covers <pre> (code cells, outputs, literal blocks) wraps its lines.
    rules = dict(re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)))
    pre_rules = [body for selectors, body in rules.items() if "pre" in selectors.split(",")[0]]
    assert any("white-space: pre-wrap" in body for body in pre_rules)


def test_the_api_pages_list_warnings_apart_from_exceptions():
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import chromtools_docs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    kinds = chromtools_docs.public_names(ct.tl)
    assert kinds["Warnings"] == ["DistributionWarning", "LeakageWarning", "NormalizationWarning"]
    assert "Exceptions" not in kinds
    page = chromtools_docs.api_page("chromtools.tl", "ct.tl", ct.tl)
    section = page.split("Warnings\n--------\n", 1)[1]
    assert "   DistributionWarning\n   LeakageWarning\n   NormalizationWarning" in section
    assert "warnings.simplefilter" in section
    # The docstring the table shows for each warning says what it warns about.
    for warning in (ct.tl.DistributionWarning, ct.tl.LeakageWarning, ct.tl.NormalizationWarning):
        assert warning.__doc__


def test_a_pvalue_too_small_for_float64_is_stored_as_its_floor_not_zero():
    from scipy.stats import false_discovery_control, ks_2samp

    rng = np.random.default_rng(0)
    motif = np.repeat(np.arange(4), 1000)
    scores = rng.normal(size=len(motif))
    scores[motif == 2] += 100.0  # every site of motif 2 above every other site
    assert ks_2samp(scores[motif == 2], scores[motif != 2]).pvalue == 0.0  # scipy underflows
    flat_start = np.arange(len(motif)) * 7
    table = F.ks_enrichment(
        scores, motif, flat_start=flat_start, flat_end=flat_start + 6, tested=range(4)
    )
    assert table.loc[2, "ks_d"] == 1.0
    assert table.loc[2, "pvalue"] == np.finfo(np.float64).tiny
    assert (table["pvalue"] > 0).all()
    assert (false_discovery_control(table["pvalue"]) > 0).all()


def _cells(path: Path) -> list[str]:
    """A percent-format script's cells, each from its ``# %%`` line on."""
    return ["# %%" + cell for cell in path.read_text().split("\n# %%")[1:]]


def test_the_transfer_tutorial_ends_on_its_conclusion():
    last = _cells(ROOT / "tutorials" / "03_transfer.py")[-1]
    assert last.startswith("# %% [markdown]\n# ## Conclusion")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.stem)
def test_no_tutorial_rounds_a_pvalue_away(path):
    """A p-value or FDR rounded to a few decimals reads 0; tutorials print them in
    scientific notation."""
    for line in path.read_text().splitlines():
        if re.search(r"[\"'](fdr|pvalue)", line):
            assert ".round(" not in line, f"{path.name}: {line.strip()}"
