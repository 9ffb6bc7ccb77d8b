"""A progress bar for a followed job, drawn with rich (which typer already brings)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from service.client.follow import NoProgress, ProgressSink, Standing


class ProgressBar:
    """Trials finished out of the budget, the status and the best value so far, on standard
    error (standard output stays free for what a script reads)."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None

    def update(self, standing: Standing) -> None:
        best = "" if standing.best is None else f"best {standing.best:.4g} ({standing.best_loss})"
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(standing.status, total=standing.total, best=best)
        self._progress.update(
            self._task,
            description=standing.status,
            completed=standing.finished,
            total=standing.total,
            best=best,
        )

    def close(self) -> None:
        self._progress.stop()


def sink_for(progress: bool | ProgressSink) -> ProgressSink:
    """What ``wait(progress=...)`` was given: True, a bar; False, nothing; or its own sink."""
    if progress is True:
        return ProgressBar()
    return NoProgress() if progress is False else progress
