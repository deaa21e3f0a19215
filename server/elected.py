"""The work one elected process does for the whole installation (server.leader).

Each job runs every ``every_s`` seconds while this process is the leader: command expiry
(every few seconds, so a kiosk that never answers does not leave a command "sent" for ever),
parked events whose wait is over (server.ingest.overdue, every few seconds) and retention
(daily). A job that raises is logged and tried again on its next round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("lockers.server.elected")


@dataclass
class Job:
    """One piece of elected work: a name for the logs, what to call, how often."""

    name: str
    run: Callable[[], object]
    every_s: float
    due: float = 0.0  # monotonic time of the next run (0: at once)


class ElectedWork:
    """Runs :class:`Job` s while ``leading`` is set, from one thread."""

    def __init__(self, leading: threading.Event, jobs: list[Job], poll_s: float = 0.5) -> None:
        self.leading, self.jobs, self.poll_s = leading, jobs, poll_s
        self.runs: dict[str, int] = {job.name: 0 for job in jobs}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="elected-work", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self.leading.is_set():
                continue
            now = time.monotonic()
            for job in self.jobs:
                if now >= job.due and self.leading.is_set():
                    job.due = now + job.every_s
                    self._run(job)

    def _run(self, job: Job) -> None:
        try:
            job.run()
            self.runs[job.name] += 1
        except Exception:  # one failed round must not stop the others
            log.exception("event=elected_job_failed job=%s", job.name)
