"""A small progress bar on stderr (no dependency); silent when stderr is not a terminal unless forced."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`with Progress(total) as bar: bar.step("label")` draws `[#####.....] 5/10 label (12 s)`."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None, width: int = 28):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self.start = time.perf_counter()
        self._last_len = 0

    def show(self, label: str = "") -> None:
        if not self.enabled:
            return
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {self.done}/{self.total} {label} ({time.perf_counter() - self.start:.0f} s)"
        pad = max(0, self._last_len - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._last_len = len(text)

    def step(self, label: str = "") -> None:
        """Mark one unit done and redraw with the label of what runs next."""
        self.done = min(self.done + 1, self.total)
        self.show(label)

    def clear(self) -> None:
        if self.enabled and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self.stream.flush()
            self._last_len = 0

    def __enter__(self) -> Progress:
        self.show()
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()
