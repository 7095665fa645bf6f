"""reloader: hot reloading for running CPython programs."""

from ._api import changed, is_reloadable, reload, reloading
from ._config import configure
from ._errors import ReloadError
from ._report import Report
from ._watch import Watcher, watch

__version__ = "0.1.0"

__all__ = [
    "ReloadError",
    "Report",
    "Watcher",
    "changed",
    "configure",
    "is_reloadable",
    "reload",
    "reloading",
    "watch",
]

from . import _stamps as _st  # noqa: E402

# Modules imported before reloader are stamped now (SPEC §1).
_st.stamp_loaded()
del _st
