"""The embedded mode of ``make run``: the runner on a daemon thread of the web process
(where the in-memory channel layer and cache live), running every engine market: those
listed, enabled or disabled later are picked up or released as they change
(``Runner.markets_of``), as ``run_engine``'s are.

A lease left by a previous process that was killed is waited out (its expiry), not
stolen: the thread retries, logging who holds it.
"""
import functools
import threading

import structlog
from django.db import close_old_connections

from apps.core import conf
from apps.engine.runner import LeaseHeld, Runner, freeze_heap
from apps.engine.selectors import markets_of_runner

log = structlog.get_logger(__name__)


def start_in_background(*, name: str = "embedded") -> threading.Event:
    """Start the runner thread; returns the event that stops it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                _run_once(name=name, stop=stop)
            except Exception:  # the database not migrated yet, a lost connection...
                log.exception("engine_embedded_failed")
                stop.wait(conf.ENGINE_LEASE_SECONDS / 3)

    threading.Thread(target=run, name="engine-runner", daemon=True).start()
    return stop


def _run_once(*, name: str, stop: threading.Event) -> None:
    close_old_connections()
    markets_of = functools.partial(markets_of_runner, runner="default")
    markets = markets_of()
    if not markets:
        stop.wait(conf.ENGINE_POLL_SECONDS * 10)
        return
    runner = Runner(name=name, markets=markets, markets_of=markets_of)
    try:
        runner.start()
    except LeaseHeld as exc:
        log.warning("engine_embedded_waiting", reason=str(exc))
        stop.wait(conf.ENGINE_LEASE_SECONDS / 3)
        return
    freeze_heap()
    runner.run(until=stop.is_set)
    runner.release()
