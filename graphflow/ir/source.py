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


def _is_internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen")


def capture(skip: int = 1) -> SourceLoc | None:
    """The innermost frame outside the graphflow package (the user's line)."""
    frame = sys._getframe(skip)
    while frame is not None:
        code = frame.f_code
        if not _is_internal(code.co_filename):
            return SourceLoc(code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None
