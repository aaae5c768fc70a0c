"""chromtools' own exception types, each a subclass of the builtin a caller expects.

Catch the builtin (``ValueError``, ``FileNotFoundError``) to handle every bad
input; catch these to tell a malformed file or an incomplete store apart.
"""

from __future__ import annotations


class FormatError(ValueError):
    """A file is not in the format it should be in; the message names the file,
    the line or element where it went wrong, and what was expected."""


class StoreError(ValueError):
    """A Zarr store or model folder is incomplete, damaged or not chromtools'."""
