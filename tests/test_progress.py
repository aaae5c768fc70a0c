"""Progress bars: one line per training, in a log, a terminal or a notebook (issue 26).

A notebook keeps ``\\r`` but drops cursor moves: of each line of the output it
shows what follows the last ``\\r``. A log keeps every line. :func:`shown`
renders a captured stream the way a notebook does, so counting its lines
counts what a user sees there.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import types

import dask.array as da
import pytest

import chromtools as ct
from chromtools import _utils
from chromtools._utils import _SharedLine, dask_progress, progress
from chromtools.tl.engine import _train

BAR = re.compile(r"\d+/\d+ \[")


def shown(stream: str) -> list[str]:
    """The lines of ``stream`` a notebook shows: escape codes dropped, and of each line
    the text after its last carriage return; blank lines left out."""
    stream = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stream)
    lines = [line.rsplit("\r", 1)[-1] for line in stream.split("\n")]
    return [line for line in lines if line.strip()]


def bars(stream: str) -> list[str]:
    """The progress bar lines among :func:`shown`'s."""
    return [line for line in shown(stream) if BAR.search(line)]


@pytest.fixture
def bars_on(restore_settings):
    """Bars on, as they are outside the tests (conftest switches them off)."""
    ct.settings.progress = True


@pytest.fixture
def notebook(monkeypatch):
    """A Jupyter kernel without ipywidgets."""
    monkeypatch.setattr(_utils, "_jupyter", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)


@pytest.fixture(scope="module")
def histone():
    adata = ct.datasets.synthetic_histone(n_cell_types=3, n_genes=120, seed=0)
    ct.pp.split(adata, seed=0)
    return adata


@pytest.fixture
def adata(histone):
    return histone.copy()


def _history(adata, key: str):
    return adata.uns[key]["history"], adata.uns[key]["params"]["best_epoch"]


@pytest.mark.parametrize("where", ["log", "notebook"])
def test_a_fit_shows_one_bar_with_its_best_epoch_and_score(adata, bars_on, capsys, request, where):
    if where == "notebook":
        request.getfixturevalue("notebook")
    ct.tl.fit(adata, "deepchrome", epochs=4, patience=None)
    lines = bars(capsys.readouterr().err)
    history, best = _history(adata, "deepchrome")
    auroc = history.loc[history["epoch"] == best, "valid_auroc"].item()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"fit deepchrome: best epoch {best}: 100%")
    assert "4/4 [" in lines[0] and f"valid_auroc={auroc:.4g}" in lines[0]


@pytest.mark.parametrize("where", ["log", "notebook"])
def test_early_stopping_ends_the_bar_complete_saying_where_it_stopped(
    adata, bars_on, capsys, request, where
):
    if where == "notebook":
        request.getfixturevalue("notebook")
    ct.tl.fit(adata, "deepchrome", epochs=30, patience=1)
    (line,) = bars(capsys.readouterr().err)
    history, best = _history(adata, "deepchrome")
    stopped = int(history["epoch"].max())
    assert stopped < 30
    assert f"stopped early at epoch {stopped}, best epoch {best}" in line
    assert f"{stopped}/{stopped} [" in line and "100%" in line


def test_early_stopping_is_logged_in_one_line(adata, restore_settings, capsys):
    ct.settings.verbosity = 2
    ct.tl.fit(adata, "deepchrome", epochs=30, patience=1)
    history, best = _history(adata, "deepchrome")
    stops = [line for line in capsys.readouterr().err.splitlines() if "no improvement" in line]
    assert stops == [
        f"fit deepchrome: no improvement for 1 epochs, stopped at epoch "
        f"{int(history['epoch'].max())}; best epoch {best}"
    ]


@pytest.mark.filterwarnings("ignore::chromtools.tl.NormalizationWarning")
@pytest.mark.parametrize("scratch", [False, True])
def test_finetune_shows_one_bar_per_training_of_each_target(
    adata, bars_on, notebook, capsys, scratch
):
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=2, key_added="source")
    capsys.readouterr()
    ct.tl.finetune(adata, source_key="source", epochs=3, scratch=scratch)
    names = [line.split(":")[0] for line in bars(capsys.readouterr().err)]
    targets = list(adata.uns["finetune"]["targets"]["target"])
    assert targets == ["cell1", "cell2"]
    expected = []
    for target in targets:
        expected.append(f"finetune → {target} (discriminative_lr, fraction 1)")
        if scratch:
            expected.append(f"scratch {target} (fraction 1)")
    assert names == expected


def test_epochs_shorter_than_the_delay_draw_no_batch_bar(
    adata, bars_on, notebook, capsys, monkeypatch
):
    monkeypatch.setattr(_train, "BATCH_BAR_DELAY", 60.0)
    ct.tl.fit(adata, "deepchrome", epochs=2)
    assert "batch" not in capsys.readouterr().err


def test_a_long_epoch_draws_its_batch_bar_on_the_fit_line_and_clears_it(
    adata, bars_on, notebook, capsys, monkeypatch
):
    monkeypatch.setattr(_train, "BATCH_BAR_DELAY", 0)
    ct.tl.fit(adata, "deepchrome", epochs=2, batch_size=16)
    err = capsys.readouterr().err
    assert "epoch 1:" in err and "batch/s" in err
    (line,) = shown(err)
    assert line.startswith("fit deepchrome: best epoch")


def test_a_nested_bar_in_a_notebook_covers_its_parent_until_it_closes(bars_on, notebook, capsys):
    outer = progress(total=2, desc="outer", mininterval=0)
    outer.update()
    inner = progress(range(3), desc="inner", mininterval=0)
    assert isinstance(inner, _SharedLine) and (inner.pos, inner.leave) == (0, False)
    steps = iter(inner)
    next(steps)
    assert shown(capsys.readouterr().err)[-1].startswith("inner: ")
    list(steps)  # the inner bar ends, is cleared, and the outer one drawn again
    assert re.match(r"outer: +50%.* 1/2 ", shown(capsys.readouterr().err)[-1])
    outer.update()
    outer.close()
    (line,) = shown(capsys.readouterr().err)
    assert re.match(r"outer: 100%.* 2/2 ", line)


def test_verbosity_zero_silences_bars(adata, bars_on, capsys):
    ct.settings.verbosity = 0
    ct.tl.fit(adata, "deepchrome", epochs=2)
    list(progress(range(3), desc="hidden"))
    assert capsys.readouterr().err == ""


def test_a_dask_bar_is_one_line_when_logged(bars_on, capsys):
    with dask_progress("summing"):
        da.ones(10, chunks=2).sum().compute()
    (line,) = shown(capsys.readouterr().err)
    assert line.startswith("summing: 100%")


def test_jupyter_is_told_by_the_kernel_shell(monkeypatch):
    class Shell:
        pass

    monkeypatch.setitem(
        sys.modules, "ipykernel.zmqshell", types.SimpleNamespace(ZMQInteractiveShell=Shell)
    )
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=Shell))
    assert _utils._jupyter()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not _utils._jupyter()


@pytest.mark.parametrize(
    ("jupyter", "widgets", "bar"),
    [
        (False, False, "tqdm.std.tqdm"),
        (False, True, "tqdm.std.tqdm"),
        (True, False, "chromtools._utils._SharedLine"),
        (True, True, "tqdm.notebook.tqdm_notebook"),
    ],
)
def test_the_bar_drawn_depends_on_the_kernel_and_ipywidgets(monkeypatch, jupyter, widgets, bar):
    monkeypatch.setattr(_utils, "_jupyter", lambda: jupyter)
    monkeypatch.setattr(_utils, "_widgets", lambda: widgets)
    chosen = _utils._bar_class()
    assert f"{chosen.__module__}.{chosen.__qualname__}" == bar


def test_without_ipywidgets_no_widget_bar_is_chosen(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    assert not _utils._widgets()


def test_a_notebook_without_ipywidgets_gets_no_tqdm_warning():
    """Importing chromtools and drawing a bar in a Jupyter kernel without ipywidgets
    warns nothing (tqdm.auto warns "IProgress not found" there)."""
    script = textwrap.dedent(
        """
        import sys, types, warnings
        class ZMQInteractiveShell:
            pass
        sys.modules["ipykernel.zmqshell"] = types.SimpleNamespace(
            ZMQInteractiveShell=ZMQInteractiveShell)
        sys.modules["IPython"] = types.SimpleNamespace(get_ipython=ZMQInteractiveShell)
        sys.modules["ipywidgets"] = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import chromtools
            from chromtools._utils import progress
            list(progress(range(3), desc="stage"))
        print(type(progress(disable=True)).__name__, "tqdm.auto" in sys.modules, len(caught))
        """
    )
    # bytes: text mode would turn every \r into a line end
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    assert result.stdout.decode().split() == ["_SharedLine", "False", "0"]
    (line,) = shown(result.stderr.decode())
    assert line.startswith("stage: 100%")


@pytest.mark.parametrize("where", ["log", "notebook"])
def test_a_message_logged_while_a_bar_is_open_gets_its_own_line(bars_on, capsys, request, where):
    if where == "notebook":
        request.getfixturevalue("notebook")
    ct.settings.verbosity = 1
    with progress(range(3), desc="outer work", total=3) as bar:
        for step in bar:
            if step == 1:
                ct._logging.logger.warning("transfer: something to say")
    lines = shown(capsys.readouterr().err)
    said = [line for line in lines if "something to say" in line]
    # the message is a line of its own, not glued to the end of the bar's line
    assert said == ["WARNING: transfer: something to say"]


@pytest.mark.parametrize("where", ["log", "notebook"])
def test_a_warning_shown_while_a_bar_is_open_gets_its_own_line(where):
    """In a fresh process (pytest records warnings, so none would be shown here)."""
    script = textwrap.dedent(
        f"""
        import warnings
        from chromtools import _utils
        from chromtools._utils import progress
        _utils._jupyter = lambda: {where == "notebook"}
        for step in progress(range(3), desc="outer work", total=3):
            if step == 1:
                warnings.warn("something to say", UserWarning)
        warnings.warn("said after the bar", UserWarning)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    lines = shown(result.stderr.decode())
    said = [line for line in lines if "something to say" in line]
    # the warning is a line of its own, not glued to the end of the bar's line
    assert len(said) == 1 and said[0].startswith("<string>:8: UserWarning"), lines
    assert any(line.startswith("<string>:9: UserWarning: said after") for line in lines)
    assert any(line.startswith("outer work: 100%") for line in lines)
