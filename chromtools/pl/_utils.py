"""What every plot shares: the axes, the house style, finishing the figure, reading results.

A plot draws only what ``ct.tl`` stored. :func:`stored` reads one entry and
says which tool to run when it is missing; :func:`axes` makes or takes the
axes under the house style; :func:`savefig_or_show` saves, shows and returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from anndata import AnnData

from .._results import storage_name
from ..io import atomic_file, check_file_destination

# Sans-serif, no top/right spines, light grid: close to scanpy's and CREsted's defaults.
STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}
# Colour-blind-safe cycle (Okabe–Ito), for keys, cell types and marks.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
ON_OFF = {"ON": "#D55E00", "OFF": "#0072B2"}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@contextlib.contextmanager
def style() -> Iterator[None]:
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        yield


def axes(ax, figsize: tuple[float, float] = (4.0, 3.5)):
    """``ax``, or a new figure's single axes; and the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        raise ValueError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax.figure, ax


def grid(n_rows: int, n_cols: int, panel: tuple[float, float], **kwargs):
    """A new figure of ``n_rows`` × ``n_cols`` panels, as a 2-d array of axes."""
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(
        n_rows,
        n_cols,
        figsize=(panel[0] * n_cols, panel[1] * n_rows),
        squeeze=False,
        **kwargs,
    )
    return fig, panels


def _save_option(save: str | Path) -> str:
    """How messages name the destination: the option as the user wrote it."""
    return f"save={str(save)!r}"


def savefig_or_show(fig, returned, show: bool | None, save: str | Path | None):
    """Save ``fig`` to ``save``, show it, and return ``returned`` unless it was shown.

    ``show=None`` shows it, as scanpy does; ``show=False`` returns the axes
    (or figure) for further drawing. The figure is written to a hidden sibling
    and renamed over ``save``, so a failed write (a full disk) leaves an
    existing file there as it was.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    if save is not None:
        # the temporary's name has no suffix for matplotlib to read the format from
        file_format = Path(save).suffix.lower().lstrip(".")
        with atomic_file(save, _save_option(save), kind="figure") as temporary:
            fig.savefig(
                temporary, format=file_format, dpi=STYLE["savefig.dpi"], bbox_inches="tight"
            )
    if show is False:
        return returned
    # Agg and the other file backends cannot show: closing is what "show" means there.
    if matplotlib.get_backend().lower() in {"agg", "pdf", "svg", "ps", "cairo", "pgf"}:
        plt.close(fig)
    else:
        plt.show()
    return None


def check_show_save(show: object, save: object) -> None:
    """Refuse a bad ``show`` or ``save`` before anything is drawn."""
    from matplotlib.backend_bases import FigureCanvasBase

    if show is not None and not isinstance(show, bool | np.bool_):
        raise ValueError(f"show must be True, False or None, got {show!r}")
    if save is None:
        return
    if not isinstance(save, str | Path):
        raise ValueError(f"save must be a file name (str or Path) or None, got {save!r}")
    # a folder, a missing folder or a read-only place, refused before anything is drawn
    path = check_file_destination(save, _save_option(save), kind="figure")
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise ValueError(
            f"{_save_option(save)}: the file name must end in a format matplotlib writes, "
            f"one of {sorted(formats)}"
        )


def stored(adata: AnnData, slot: str, name: str, plot: str, run: str):
    """``adata.<slot>[name]``, or an error naming the tool that writes it."""
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.{plot} takes an AnnData first, got {type(adata).__name__}")
    container = getattr(adata, slot)
    if name not in container:
        raise ValueError(
            f"ct.pl.{plot} draws adata.{slot}[{name!r}], which is missing; run {run} first"
        )
    return container[name]


def keys_of(keys: object, what: str = "keys") -> list[str]:
    """One key or several, as a non-empty list of strings."""
    if isinstance(keys, str):
        return [keys]
    if isinstance(keys, Sequence) and keys and all(isinstance(k, str) for k in keys):
        return list(keys)
    raise ValueError(f"{what} must be a model key or a list of them, got {keys!r}")


def fitted(adata: AnnData, key: str, plot: str) -> dict:
    """``uns[key]`` of a model ``ct.tl.fit`` wrote (it has ``params`` and ``metrics``)."""
    record = stored(adata, "uns", key, plot, f"ct.tl.fit(adata, ..., key_added={key!r})")
    if not isinstance(record, dict) or "metrics" not in record:
        raise ValueError(
            f"ct.pl.{plot}: adata.uns[{key!r}] is not a fitted model's record (no 'metrics'); "
            "pass the key_added of ct.tl.fit"
        )
    return record


def predictions(adata: AnnData, key: str, plot: str) -> np.ndarray:
    """(cell types, genes) predictions of ``key`` from ``layers``, as float64."""
    name = storage_name(key)
    values = stored(adata, "layers", name, plot, f"ct.tl.predict(adata, {key!r})")
    return np.asarray(values, dtype=np.float64)


def cell_types_of(adata: AnnData, cell_types: object, available: Sequence[str], plot: str):
    """The cell types asked for (all ``available`` by default), checked against them."""
    if cell_types is None:
        if not len(available):
            raise ValueError(f"ct.pl.{plot}: no cell type has results to draw")
        return list(available)
    chosen = [cell_types] if isinstance(cell_types, str) else list(cell_types)
    missing = [c for c in chosen if c not in available]
    if missing or not chosen:
        raise ValueError(
            f"ct.pl.{plot}: cell_types={cell_types!r}; the ones with results are {list(available)}"
        )
    return chosen


def metric_label(metric: str) -> str:
    """How an axis names a metric: ``AUROC`` for the areas under curves, others as given."""
    return metric.upper() if metric.startswith("au") else metric


def dodged(positions: np.ndarray, i: int, n: int, width: float) -> np.ndarray:
    """``positions`` of group ``i`` of ``n`` side by side, each ``width`` wide, centred."""
    return positions + (i - (n - 1) / 2) * width


def cell_label(adata: AnnData, code: str) -> str:
    """How a plot names a cell type: ``"K562 (E123)"`` where ``obs['name']`` holds a name
    other than the code, else the code."""
    if "name" in adata.obs and code in adata.obs_names:
        name = str(adata.obs.loc[code, "name"]).replace("_", " ")  # "H1 Cell Line"
        if name and name != "nan" and name != code:
            return f"{name} ({code})"
    return str(code)
