"""Preprocessing: windows and bins, signal normalisation, expression and labels, splits,
one-hot DNA."""

from ._expression import add_expression
from ._labels import binarize, log_fold_change
from ._match import match_signal
from ._normalize import normalize
from ._one_hot import one_hot
from ._signal import crop, rebin
from ._split import split

__all__ = [
    "add_expression",
    "binarize",
    "crop",
    "log_fold_change",
    "match_signal",
    "normalize",
    "one_hot",
    "rebin",
    "split",
]
