"""chromtools' logger: one handler on the package logger, its level set by ``ct.settings``.

Modules log through a child of the ``chromtools`` logger
(``logger = get_logger(__name__)``); children propagate to it, so one handler
prints every message and ``ct.settings.verbosity`` filters them all. Nothing
is configured on the root logger or on other libraries' loggers, and nothing
is printed on import.
"""

from __future__ import annotations

import logging
import sys

PACKAGE = "chromtools"

#: ``ct.settings.verbosity`` → logging level of the ``chromtools`` logger.
LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


class _Formatter(logging.Formatter):
    """Progress messages as they are; warnings and errors with their level in front."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname}: {message}"
        return message


class _Handler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each message, not as it was on import.

    A notebook, or pytest's ``capsys``, replaces ``sys.stderr`` after
    chromtools is imported; the standard library's last-resort handler looks
    the stream up the same way.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        self.set_name(PACKAGE)
        self.setFormatter(_Formatter())

    @property
    def stream(self):
        return sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        """The message on a line of its own: while a progress bar is open, tqdm clears
        the bar, writes the message and draws the bar again below it."""
        from tqdm.std import tqdm

        if not any(not bar.disable for bar in list(tqdm._instances)):
            super().emit(record)
            return
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # as logging does: a failed message never stops the work
            self.handleError(record)


def get_logger(name: str = PACKAGE) -> logging.Logger:
    """The ``chromtools`` logger, or a child of it for a module (``get_logger(__name__)``).

    A name outside the package is placed under it (``"tl"`` →
    ``"chromtools.tl"``), so that every message reaches the package's handler.
    """
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        name = f"{PACKAGE}.{name}"
    return logging.getLogger(name)


def set_verbosity(verbosity: int) -> None:
    """Set the ``chromtools`` logger's level from a verbosity of 0 to 3 (see :data:`LEVELS`)."""
    logger.setLevel(LEVELS[verbosity])


logger = get_logger()
# Found by name, not class, so that reloading the module does not print every message twice.
if not any(handler.get_name() == PACKAGE for handler in logger.handlers):
    logger.addHandler(_Handler())
