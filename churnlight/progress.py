"""The progress bar every long command shows (on stderr's console, gone when it ends)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


def progress_bar(
    console: Console,
    *,
    hidden: bool,
    counts: str | None = None,
    label: str = "{task.description}",
) -> Progress:
    """A transient bar: ``label``, the bar, ``counts`` (e.g. ``"{task.completed}/{task.total}"``)
    when given, and the time elapsed; nothing is drawn when ``hidden`` (``--json``)."""
    columns = [TextColumn(label), BarColumn()]
    if counts is not None:
        columns.append(TextColumn(counts))
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True, disable=hidden)


COUNTS = "{task.completed}/{task.total}"


def step_reporter(bar: Progress, task: TaskID, prefix: str = "") -> Callable[[str, int, int], None]:
    """The ``(step, done, total)`` callback of a pipeline, drawn on ``task`` of ``bar``."""

    def report(step: str, done: int, total: int) -> None:
        bar.update(task, description=f"{prefix}{step}", completed=done, total=total)

    return report
