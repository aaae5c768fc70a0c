"""Transfer between cell types: source choice, strategies, finetune, the subsample curve and
the transfer matrix."""

from ._finetune import finetune
from ._strategies import LeakageWarning
from ._subsample_curve import subsample_curve
from ._transfer_matrix import transfer_matrix

__all__ = [
    "LeakageWarning",
    "finetune",
    "subsample_curve",
    "transfer_matrix",
]
