"""Small helpers shared across chromtools layers (progress bars, input checks)."""

from __future__ import annotations

import importlib.util
import math
import numbers
import re
import sys
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from dask.callbacks import Callback
from tqdm.std import tqdm

from ._settings import settings

# The five core marks of DeepChrome/AttentiveChrome, in the papers' order.
# Every importer puts these first, in this order, so that data read from
# different formats line up mark by mark.
CORE_MARKS: tuple[str, ...] = ("H3K4me3", "H3K4me1", "H3K36me3", "H3K27me3", "H3K9me3")

_HISTONE_MARK = re.compile(
    r"^H(2A|2A\.Z|2A\.X|2B|3|3\.3|4)"
    r"((K|R|S|T|Y)\d+(me1|me2|me3|ac|ub1|ub2|ub|ph|cr|bu|pr|su|ci|hib|bhb|la)?)?$"
)
# Chromatin tracks that are not histone modifications but are binned the same way.
_OTHER_TRACKS = {"DNase", "ATAC", "CTCF", "POLR2A", "Input"}


def _jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (notebook, JupyterLab, VS Code, Colab)."""
    zmqshell, ipython = sys.modules.get("ipykernel.zmqshell"), sys.modules.get("IPython")
    if zmqshell is None or ipython is None:
        return False
    return isinstance(ipython.get_ipython(), zmqshell.ZMQInteractiveShell)


def _widgets() -> bool:
    """Whether ipywidgets is there to draw tqdm's notebook bars (looked for when a bar is
    drawn in a notebook, never on import; an optional extra, not a dependency)."""
    if importlib.util.find_spec("ipywidgets") is None:
        return False
    from tqdm.notebook import IProgress

    return IProgress is not None


class _SharedLine(tqdm):
    """A text bar for a notebook without ipywidgets.

    A notebook's output keeps ``\\r`` but drops cursor moves, so a bar below
    another one would add a line at every redraw. Every bar draws on the one
    line instead, the innermost open bar over the others, and the bar it
    covered is drawn again when it closes.
    """

    def close(self) -> None:
        drawn = not self.disable and self.last_print_t >= self.start_t + self.delay
        super().close()
        covered = [bar for bar in self._instances if isinstance(bar, _SharedLine)]
        if drawn and covered:
            max(covered, key=lambda bar: bar.start_t).refresh()


def _bar_class() -> type[tqdm]:
    """Widgets in a notebook with ipywidgets, a text line in one without, else tqdm's bar."""
    if not _jupyter():
        return tqdm
    if _widgets():
        from tqdm.notebook import tqdm as notebook_bar

        return notebook_bar
    return _SharedLine


def _live() -> bool:
    """Whether bars can redraw in place: in a terminal or a Jupyter notebook."""
    stream = sys.stderr
    return _jupyter() or bool(getattr(stream, "isatty", None) and stream.isatty())


def _bar_options(kwargs: dict, bar_class: type[tqdm]) -> dict:
    """Bar options for where the output goes.

    A bar opened inside another one (the batches of an epoch, a fit inside
    a transfer matrix) is cleared when it closes unless ``leave`` says
    otherwise; the outermost bar stays as one line. In a terminal or a
    notebook a bar redraws in place. Elsewhere (a log file, CI) each redraw
    would be one more line: the outermost bar then writes its start and its
    end only, and bars opened inside another are not drawn at all. Bars are
    off with ``ct.settings.progress = False`` or ``ct.settings.verbosity = 0``.
    """
    kwargs = dict(kwargs)
    nested = bool(len(tqdm._instances))
    off = not settings.progress or settings.verbosity == 0
    kwargs["disable"] = kwargs.get("disable", False) or off
    if kwargs.get("leave") is None:
        kwargs["leave"] = not nested
    if not _live():
        kwargs["disable"] = kwargs["disable"] or nested
        kwargs["mininterval"] = float("inf")
        kwargs["leave"] = True
        kwargs["delay"] = 0
    elif nested and bar_class is _SharedLine:
        kwargs["position"] = 0
    return kwargs


def progress(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """A tqdm bar that respects ``ct.settings.progress`` and ``ct.settings.verbosity``,
    one line however it is shown (:func:`_bar_options`); a warning shown while it is
    open gets a line of its own (:func:`_warnings_above_bars`)."""
    bar_class = _bar_class()
    bar = bar_class(iterable, **_bar_options(kwargs, bar_class))
    if not bar.disable:
        _warnings_above_bars()
    return bar


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` once chromtools has drawn a bar: a warning for the default
    stream, shown while a bar is open, goes on a line of its own above the bars (tqdm
    clears them, writes it and draws them again), as chromtools' log messages do; any
    other is shown as Python shows it."""
    if file is None and any(not bar.disable for bar in list(tqdm._instances)):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        tqdm.write(text.rstrip("\n"), file=sys.stderr)
        return
    warnings._showwarning_orig(message, category, filename, lineno, file, line)


def _warnings_above_bars() -> None:
    """Show warnings with :func:`_show_warning`, where Python's own display is in place
    and warnings are not being recorded (``catch_warnings(record=True)``, pytest): a
    display someone else set up (``logging.captureWarnings``, a notebook's) is kept."""
    recording = isinstance(getattr(warnings._showwarnmsg_impl, "__self__", None), list)
    if warnings.showwarning is warnings._showwarning_orig and not recording:
        warnings.showwarning = _show_warning


def finish(bar: tqdm, description: str, postfix: str = "") -> None:
    """Close ``bar`` as complete where it stopped, saying how it ended in ``description``:
    a fit stopped early reads 9/9 "stopped early at epoch 9", not frozen at 9/30."""
    bar.total = bar.n or bar.total
    widget = getattr(bar, "container", None)
    if widget is not None:
        widget.children[1].max = bar.total
    bar.set_description_str(description, refresh=False)
    bar.set_postfix_str(postfix, refresh=False)
    bar.close()


def user_stacklevel() -> int:
    """``warnings.warn``'s ``stacklevel`` for the first caller outside chromtools, so a
    warning points at the user's line however deep in the package it is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("chromtools."):
        frame, level = frame.f_back, level + 1
    return level


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an ``int``, refusing floats with a fraction, bools, strings and
    anything below ``minimum``; the message names the argument."""
    expected = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )
    whole = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
    )
    if not (isinstance(value, numbers.Integral) or whole) or isinstance(value, bool):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def check_number(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """``value`` as a finite ``float`` within bounds; refuses NaN, inf, bools and
    strings, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        bound = ">" if strict_minimum else ">="
        raise ValueError(f"{name} must be {bound} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def check_marks(marks: Sequence[str], what: str = "marks") -> list[str]:
    """Validate histone-mark names and return them as a list.

    Raises
    ------
    ValueError
        If a name is neither a histone modification (``H3K4me3``, ``H2A.Z``,
        ``H3K27ac`` …) nor a known chromatin track (DNase, ATAC, CTCF …), or
        if a mark appears twice.
    """
    marks = [str(m) for m in marks]
    unknown = [m for m in marks if not (_HISTONE_MARK.match(m) or m in _OTHER_TRACKS)]
    if unknown:
        raise ValueError(
            f"{what}: unknown mark names {unknown}; expected histone modifications "
            f"such as {list(CORE_MARKS)} or one of {sorted(_OTHER_TRACKS)}"
        )
    duplicated = sorted({m for m in marks if marks.count(m) > 1})
    if duplicated:
        raise ValueError(f"{what}: marks {duplicated} appear more than once")
    return marks


def canonical_mark_order(marks: Sequence[str]) -> list[str]:
    """Core marks first in the papers' order, any other marks after them, sorted."""
    core = [m for m in CORE_MARKS if m in marks]
    return core + sorted(m for m in marks if m not in CORE_MARKS)


def check_window(window: Sequence[int], bin_size: int) -> tuple[int, int]:
    """Validate a ``(start, end)`` window around the TSS against ``bin_size``."""
    if len(window) != 2:
        raise ValueError(f"window must be (start, end) around the TSS, got {window!r}")
    start, end = int(window[0]), int(window[1])
    if bin_size <= 0:
        raise ValueError(f"bin_size must be a positive number of base pairs, got {bin_size}")
    if end <= start:
        raise ValueError(f"window end must be greater than its start, got {window!r}")
    if (end - start) % bin_size:
        raise ValueError(
            f"window {window!r} spans {end - start} bp, which is not a multiple of "
            f"bin_size={bin_size}"
        )
    return start, end


def check_signal(values: np.ndarray, what: str) -> None:
    """Refuse NaN, infinite or negative histone signal, naming where it is."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{what}: {int(bad.sum())} values are NaN or infinite")
    negative = values < 0
    if negative.any():
        raise ValueError(
            f"{what}: {int(negative.sum())} values are negative (min {values.min():g}); "
            "histone signal must be non-negative read counts or coverage"
        )


class _DaskBar(Callback):
    """A bar over the tasks of the dask computations run inside ``with``."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self.bar_class = _bar_class()
        self.options = _bar_options({"desc": description, "leave": False}, self.bar_class)

    def _start_state(self, _, state: dict) -> None:
        total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self.bar = self.bar_class(total=total, **self.options)

    def _posttask(self, *_) -> None:
        self.bar.update()

    def _finish(self, *_) -> None:
        self.bar.close()


def dask_progress(description: str) -> Callback:
    """A bar over the tasks of any dask computation run inside ``with``; hidden like
    :func:`progress`'s."""
    return _DaskBar(description)


def renamed_keyword(
    options: dict, old: str, new: str, value: object, default: object, what: str
) -> object:
    """``value`` of keyword ``new``, or of its old name ``old`` (popped from ``options``)
    with a ``FutureWarning``; both at once (``value`` not ``default``) are refused."""
    if old not in options:
        return value
    given = options.pop(old)
    if value != default:
        raise ValueError(f"{what}: pass {new}= alone ({old}= is its old name), got both")
    warnings.warn(
        f"{what}({old}=...) is renamed {new}=; {old}= will be removed in chromtools 0.3",
        FutureWarning,
        stacklevel=user_stacklevel(),
    )
    return given
