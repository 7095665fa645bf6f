"""ReloadError: a batch was not applied."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._report import Report


class ReloadError(Exception):
    """The batch was not applied; every module of it is as it was.

    ``module`` names the module at fault, ``report`` is the report of the
    attempt and ``__cause__`` the original error.
    """

    def __init__(self, message: str, *, module: Optional[str] = None,
                 report: Optional["Report"] = None) -> None:
        super().__init__(message)
        self.module = module
        self.report = report
