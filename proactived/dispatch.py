"""Background stages that drain the outbox: each runs in its own thread, woken by commits or a timer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from proactived import telemetry

Stage = Callable[[], int]


@dataclass
class _Worker:
    name: str
    run_once: Stage
    interval: float
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class Dispatcher:
    """Runs each stage until it reports no work, then sleeps until woken or ``interval`` passes."""

    def __init__(self) -> None:
        self._workers: dict[str, _Worker] = {}
        self._stop = threading.Event()

    def add_stage(self, name: str, run_once: Stage, interval: float = 1.0) -> None:
        """Register a stage; ``run_once`` returns how many items it handled (0 = idle)."""
        self._workers[name] = _Worker(name, run_once, interval)

    def wake(self, name: str | None = None) -> None:
        """Wake every stage, or only the one called ``name``."""
        for worker in self._workers.values():
            if name is None or worker.name == name:
                worker.wake.set()

    def start(self) -> None:
        for worker in self._workers.values():
            worker.thread = threading.Thread(
                target=self._loop, args=(worker,), name=f"stage-{worker.name}", daemon=True
            )
            worker.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        for worker in self._workers.values():
            if worker.thread is not None:
                worker.thread.join(timeout)

    def _loop(self, worker: _Worker) -> None:
        while not self._stop.is_set():
            worker.wake.clear()
            try:
                busy = worker.run_once() > 0
            except Exception as exc:  # stage boundary: log, back off, keep the daemon alive
                telemetry.loop_error(worker.name, exc)
                busy = False
            if not busy:
                worker.wake.wait(worker.interval)
