"""Rich progress bars shared by every long-running loop.

One live display per process: `make_progress()` called while another progress display is live
(a training loop inside a demo stage, two models trained in parallel threads) returns a view
that adds its tasks to that display and removes them when its block ends, so nested and
concurrent loops show as rows of one display instead of fighting over the terminal.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
REFRESH_PER_SECOND = 2
"""Redraws of a live display per second: each redraw holds the GIL and delays the loops."""
_lock = threading.Lock()
_live: list[Progress] = []  # the outermost live display, while there is one


class _SharedView:
    """Adds tasks to the live display `progress`; removes them on exit."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: list[TaskID] = []

    def __enter__(self) -> _SharedView:
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self._tasks:
            self._progress.remove_task(task)

    def add_task(self, description: str, **kwargs: Any) -> TaskID:
        task = self._progress.add_task(description, **kwargs)
        self._tasks.append(task)
        return task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._progress, name)


class _OwnedProgress(Progress):
    """A Progress that registers itself as the process's live display while it runs."""

    def __enter__(self) -> _OwnedProgress:
        super().__enter__()
        with _lock:
            _live.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        with _lock:
            _live.remove(self)
        super().__exit__(*exc)


def make_progress(transient: bool = False) -> Progress | _SharedView:
    """A rich Progress on stderr, or a view of the display already live in this process (see
    the module docstring). Disabled when GANPROBE_NO_PROGRESS=1 or stderr is no TTY (CI logs
    then get no redraw noise). Use it as a context manager."""
    with _lock:
        if _live:
            return _SharedView(_live[0])
    disable = os.environ.get("GANPROBE_NO_PROGRESS") == "1" or not sys.stderr.isatty()
    return _OwnedProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=disable,
        refresh_per_second=REFRESH_PER_SECOND,
    )
