"""Source locations: the line of user code that created a node."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import graphflow

_PACKAGE_DIR = os.path.dirname(os.path.abspath(graphflow.__file__)) + os.sep


@dataclass(frozen=True, slots=True)
class SourceLoc:
    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


_INTERNAL: dict[str, bool] = {}  # file name -> inside graphflow (every node asks: cached)


def _is_internal(filename: str) -> bool:
    known = _INTERNAL.get(filename)
    if known is None:
        known = _INTERNAL[filename] = filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen")
    return known


def capture(skip: int = 1) -> SourceLoc | None:
    """The innermost frame outside the graphflow package (the user's line)."""
    frame = sys._getframe(skip)
    internal = _INTERNAL
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        known = internal.get(name)
        if known is None:
            known = _is_internal(name)
        if not known:
            return SourceLoc(name, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None
