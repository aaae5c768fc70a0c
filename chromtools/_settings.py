"""Global options shared by every chromtools function (``ct.settings``)."""

from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass, field

# ``logger`` is imported from here by tl modules; it lives in _logging.
from ._logging import LEVELS, logger, set_verbosity

__all__ = [
    "SEED_MAX", "Settings", "check_device", "check_seed", "logger", "resolve_seed", "settings",
]  # fmt: skip

_DEVICES = ("auto", "cpu", "cuda", "mps")
_INDEXED_CUDA = re.compile(r"^cuda:\d+$")


def check_device(value: object, name: str = "device") -> str:
    """``value`` as a device name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:<index>"`` or
    ``"mps"``; the message names the argument and lists the choices."""
    if isinstance(value, str) and (value in _DEVICES or _INDEXED_CUDA.match(value)):
        return value
    raise ValueError(
        f"{name} must be one of {list(_DEVICES)} or 'cuda:<index>' such as 'cuda:1', got {value!r}"
    )


# The largest seed every generator a seed reaches accepts: torch.manual_seed takes
# up to 2**64 - 1 and numpy's default_rng any size, but scikit-learn's random_state
# (the SVR baseline of ct.tl.differential) and numpy's legacy seeding stop at 2**32 - 1.
SEED_MAX = 2**32 - 1


def check_seed(value: object, name: str = "seed") -> int:
    """``value`` as a seed: a whole number from 0 to :data:`SEED_MAX`; the message names
    the argument and the range."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not 0 <= value <= SEED_MAX:
        raise ValueError(
            f"{name} must be an integer from 0 to 2**32 - 1 ({SEED_MAX}), got {value!r}"
        )
    return int(value)


def resolve_seed(seed: object, name: str = "seed") -> int:
    """``seed`` checked (:func:`check_seed`), or ``ct.settings.seed`` for None."""
    return settings.seed if seed is None else check_seed(seed, name)


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is no job count, byte count or verbosity level
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Settings:
    """Process-wide defaults; each function's own argument wins over these.

    Attributes
    ----------
    device
        ``"auto"`` picks CUDA when a GPU is present, else the CPU; or name one
        of ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    n_jobs
        Worker processes (bigWig import) or threads for readers and data loaders.
    seed
        Default random seed for splits, synthetic data and training: an
        integer from 0 to 2**32 - 1.
    verbosity
        0 errors only, 1 warnings, 2 progress messages, 3 debugging: the level
        of the ``chromtools`` logger, whose one handler writes to stderr.
    progress
        Show tqdm progress bars on long work.
    memory_budget
        Bytes of a lazy store's signal that training and prediction load into
        memory at once (default 2 GiB); larger inputs stream chunk by chunk.
    """

    device: str = "auto"
    n_jobs: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    seed: int = 0
    verbosity: int = 1
    progress: bool = True
    memory_budget: int = 2 * 1024**3

    def __setattr__(self, name: str, value: object) -> None:
        if name not in self.__dataclass_fields__:
            raise AttributeError(
                f"ct.settings has no option {name!r}; options are "
                f"{sorted(self.__dataclass_fields__)}"
            )
        if name == "device":
            check_device(value, "ct.settings.device")
        if name == "n_jobs" and (not _is_int(value) or value < 1):
            raise ValueError(f"ct.settings.n_jobs must be a positive integer, got {value!r}")
        if name == "seed":
            value = check_seed(value, "ct.settings.seed")
        if name == "memory_budget" and (not _is_int(value) or value < 0):
            raise ValueError(
                f"ct.settings.memory_budget must be a number of bytes >= 0, got {value!r}"
            )
        if name == "progress" and not isinstance(value, bool):
            raise ValueError(f"ct.settings.progress must be True or False, got {value!r}")
        if name == "verbosity":
            if not _is_int(value) or value not in LEVELS:
                raise ValueError(f"ct.settings.verbosity must be 0, 1, 2 or 3, got {value!r}")
            set_verbosity(value)
        super().__setattr__(name, value)


settings = Settings()
