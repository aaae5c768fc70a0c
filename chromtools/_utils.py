"""Small helpers shared across chromtools layers (progress bars, input checks)."""

from __future__ import annotations

import math
import numbers
import re
import sys
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm
from tqdm.dask import TqdmCallback

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


def _live() -> bool:
    """Whether bars can redraw in place: a terminal, or a Jupyter notebook (tqdm.auto's widget)."""
    if tqdm.__module__ != "tqdm.std" and "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def _quiet_when_logged(kwargs: dict) -> dict:
    """Bar options for where the output goes.

    In a terminal or a notebook a bar redraws in place. Elsewhere (a log
    file, CI) each redraw would be one more line: the outermost bar then
    writes its start and its end only, and bars opened inside another (a
    fit inside a transfer matrix) are not drawn at all.
    """
    kwargs = dict(kwargs)
    kwargs["disable"] = kwargs.get("disable", False) or not settings.progress
    if not _live():
        if len(getattr(tqdm, "_instances", ())):
            kwargs["disable"] = True
        kwargs["mininterval"] = float("inf")
        kwargs["leave"] = True
    return kwargs


def progress(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """A tqdm bar that respects ``ct.settings.progress``, quiet when the output is logged."""
    return tqdm(iterable, **_quiet_when_logged(kwargs))


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


def dask_progress(description: str) -> TqdmCallback:
    """A tqdm bar over the tasks of any dask computation run inside ``with``;
    hidden when ``ct.settings.progress`` is off."""
    return TqdmCallback(**_quiet_when_logged({"desc": description, "leave": False}))


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
