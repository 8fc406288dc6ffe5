"""Long-running processes: the beat loop, workers, and `fokus run` (all in one).

`fokus run` keeps everything in one process on threads: the embedded default is one
SQLite file, and threads share it without a second process to supervise. Larger
installations run `fokus worker` and `fokus beat` as separate processes instead.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from fokus.core import clock
from fokus.scheduler.background import backend_kind, worker_name
from fokus.scheduler.jobs import Job, schedule_load
from fokus.scheduler.services import beat_fire_due

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def seconds_to_next_minute(now: datetime) -> float:
    # A hair past the boundary, so `now` floors to the new minute.
    return max(0.5, 60.0 - now.second - now.microsecond / 1_000_000 + 0.05)


def beat_loop(stop: threading.Event, *, jobs: list[Job] | None = None, say: Say = _quiet) -> None:
    """Fire due slots now and then at every minute boundary until `stop` is set."""
    table = jobs if jobs is not None else schedule_load()
    beat = worker_name("beat")
    try:
        while not stop.is_set():
            try:
                for firing in beat_fire_due(now=clock.now(), jobs=table, beat=beat):
                    say(f"beat: {firing.outcome} {firing.job} @ {firing.slot.isoformat()}")
            except DatabaseError:
                # A lost connection or a locked database: the slot is still due next minute.
                logger.exception("beat: database error, trying again next minute")
            finally:
                close_old_connections()
            stop.wait(seconds_to_next_minute(clock.now()))
    finally:
        connections.close_all()


class _Service(Protocol):
    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float) -> None: ...


class _ThreadService:
    def __init__(self, name: str, target: Callable[[threading.Event], None]) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)

    def _run(self, target: Callable[[threading.Event], None]) -> None:
        try:
            target(self._stop)
        except Exception:
            logger.exception("%s stopped with an error", self.name)
        finally:
            connections.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class _DbWorkerService:
    """django-tasks-db's own worker loop on a thread (it checks `running` between tasks)."""

    def __init__(self, number: int) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.name = f"worker-{number}"
        self._worker = Worker(
            queue_names=["*"], interval=1, batch=False, backend_name="default",
            startup_delay=False, max_tasks=None,
            worker_id=worker_name(f"worker{number}"), excluded_queue_names=[],
        )
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def _run(self) -> None:
        try:
            self._worker.run()
        finally:
            connections.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._worker.running = False

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class _HueyConsumerService:
    """A huey consumer with worker threads inside this process."""

    def __init__(self, workers: int) -> None:
        from huey.contrib.djhuey import tasks_backend

        self.name = "huey-consumer"
        self._consumer = tasks_backend.HUEY.create_consumer(
            workers=workers, worker_type="thread", periodic=False
        )

    def start(self) -> None:
        # The consumer installs its own SIGINT/SIGTERM handlers; here the command owns
        # the signals and stops the consumer itself.
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self._consumer.start()
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        self._consumer.stop(graceful=True)

    def join(self, timeout: float) -> None:
        return None


class Background:
    """Worker(s), beat and the configured extra services, started and stopped together."""

    def __init__(self, *, workers: int = 1, worker: bool = True, beat: bool = True) -> None:
        self.services: list[_Service] = []
        if worker:
            kind = backend_kind()
            if kind == "db":
                self.services += [_DbWorkerService(n) for n in range(1, workers + 1)]
            elif kind == "huey":
                self.services.append(_HueyConsumerService(workers))
        if beat:
            jobs = schedule_load()
            self.services.append(
                _ThreadService("beat", lambda stop: beat_loop(stop, jobs=jobs, say=logger.info))
            )
        for path in settings.FOKUS_RUN_SERVICES:
            self.services.append(_ThreadService(path.rsplit(".", 1)[-1], import_string(path)))

    def describe(self) -> str:
        return ", ".join(service.name for service in self.services) or "nothing"

    def start(self) -> None:
        for service in self.services:
            service.start()

    def stop(self, timeout: float = 30.0) -> None:
        for service in self.services:
            service.stop()
        for service in self.services:
            service.join(timeout)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_all(
    *, host: str, port: int, say: Say, workers: int = 1, web_threads: int = 8
) -> None:
    """Web (waitress) + worker(s) + beat until Ctrl+C or SIGTERM, then stop them all."""
    from django.core.wsgi import get_wsgi_application
    from waitress import create_server

    server: Any = create_server(
        get_wsgi_application(), host=host, port=port, threads=web_threads
    )
    background = Background(workers=workers)
    # Explicit for SIGINT too: a shell that starts us in the background ignores it.
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    background.start()
    say(_("Serving http://%(host)s:%(port)s/ with %(services)s (%(backend)s tasks).")
        % {"host": host, "port": port, "services": background.describe(),
           "backend": backend_kind()})
    say(_("Press Ctrl+C to stop."))
    try:
        server.run()  # returns on KeyboardInterrupt (waitress catches it)
    except KeyboardInterrupt:
        pass
    finally:
        say(_("Stopping: waiting for running tasks to finish…"))
        server.close()
        background.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    say(_("Stopped."))
