"""Daemon threads for the local run's event sources: start, stop, and the polling loop they share."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("local")
POLL_INTERVAL = 0.2


class BackgroundWorker:
    """A daemon thread running `_run` until `stop()`; `_stop` is the event to wait on."""

    thread_name = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _should_start(self) -> bool:
        return True

    def start(self) -> None:
        """Run in a daemon thread until stop()."""
        if self._thread is not None or not self._should_start():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError


class Poller(BackgroundWorker):
    """Calls `poll_once()` back to back while it finds work, every POLL_INTERVAL when it finds none."""

    def poll_once(self) -> tuple[int, int]:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found, _ = self.poll_once()
            except Exception:
                log.exception("%s pass failed", self.thread_name)
                found = 0
            if not found:
                self._stop.wait(POLL_INTERVAL)
