"""The stdlib ``audioop`` module, wherever it lives.

Python 3.11 and 3.12 ship it (deprecated, hence the silenced warning); from 3.13 on the
``audioop-lts`` package installs a drop-in module under the same name.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = ["audioop"]
