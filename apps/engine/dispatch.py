"""The runner's dispatcher: a committed batch's after-commit work (the order store, the
streams, the quote, the outbox row marked sent) on a thread of its own, so that the
runner settles batch N+1 while batch N is sent.

Contract:
- **In commit order.** One thread takes the batches from one FIFO queue, so they are sent
  in the order they were handed off: the order their settlements committed in (outbox id
  order), for every market of the runner.
- **Bounded.** At most ``MAX_QUEUED`` batches wait; the runner's next hand-off blocks
  until one is sent (it never runs further ahead of the order store than that).
- **Fail-stop.** A batch whose sending raises stops the dispatcher: it sends nothing after
  it (their outbox rows stay unsent) and that hand-off (on the caller's thread) or the
  runner's next one or ``flush`` (threaded) raises ``DispatchFailed``, which stops the
  runner. The next runner to start sends the unsent
  rows in id order (``Runner.flush_outbox``), as after a crash: every part is
  idempotent.
- **Its own connection.** The thread has its own database connection (Django's are per
  thread), closed when it stops.
- Not started (``step`` called alone, as the tests do) or on SQLite, a hand-off is sent at
  once on the caller's thread, as before. SQLite has one writer at a time, so there is
  nothing to overlap, and its shared in-memory test database refuses a second writer
  instead of waiting for it.
"""
import queue
import threading
from collections.abc import Callable

import structlog
from django.db import connection

log = structlog.get_logger(__name__)

# Batches handed off and not yet sent, at most (the runner's lead over the order store).
MAX_QUEUED = 4


class DispatchFailed(RuntimeError):
    """A committed batch could not be sent: the runner must stop (a restart sends it)."""


class Dispatcher:
    """Sends the jobs ``send`` hands it, one after another, on a thread of its own once
    ``start``ed."""

    def __init__(self, *, name: str) -> None:
        self.name = name
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Send on a thread from now on (on SQLite: stay on the caller's thread)."""
        if self._thread is not None or connection.vendor == "sqlite":
            return
        self._failed = None
        self._thread = threading.Thread(target=self._loop, name=f"{self.name}-dispatch",
                                        daemon=True)
        self._thread.start()

    def send(self, job: Callable[[], None]) -> None:
        """Send ``job`` after those handed off before it (blocking while ``MAX_QUEUED``
        wait). Raises DispatchFailed if an earlier one failed."""
        self._check()
        if self._thread is not None:
            self._queue.put(job)
            return
        try:
            job()
        except Exception as exc:
            self._failed = exc
            raise DispatchFailed(f"{self.name}: a committed batch was not sent ({exc!r}); "
                                 f"a restarted runner sends it") from exc

    def flush(self) -> None:
        """Wait until every job handed off is sent; raises DispatchFailed if one failed."""
        if self._thread is not None:
            self._queue.join()
        self._check()

    def stop(self) -> None:
        """Send what waits, then end the thread (a failure is not raised: ``flush`` first
        to learn of it)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _check(self) -> None:
        if self._failed is not None:
            raise DispatchFailed(f"{self.name}: a committed batch was not sent "
                                 f"({self._failed!r}); a restarted runner sends it"
                                 ) from self._failed

    def _loop(self) -> None:
        try:
            while True:
                job = self._queue.get()
                try:
                    if job is None:
                        return
                    if self._failed is None:  # after a failure nothing more, in order
                        job()
                except Exception as exc:
                    log.exception("engine_dispatch_failed", runner=self.name)
                    self._failed = exc
                finally:
                    self._queue.task_done()
        finally:
            connection.close()
