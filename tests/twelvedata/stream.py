"""Run the real price stream (TDWebSocket against the emulator) on a thread in tests."""
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection

from apps.marketdata.services import publish
from apps.twelvedata.ingest import PriceStream, enabled_symbols


@contextmanager
def running_stream(*, apikey: str, ws_url: str, refresh_seconds: float = 0.5,
                   symbols: Callable[[], set[str]] | None = None) -> Iterator[PriceStream]:
    def read_symbols() -> set[str]:
        try:
            return (symbols or enabled_symbols)()
        finally:
            connection.close()  # this runs on the stream's thread: don't leak its connection

    stream = PriceStream(apikey=apikey, ws_url=ws_url, symbols=read_symbols,
                         publish=lambda quote: publish(quote=quote),
                         refresh_seconds=refresh_seconds, heartbeat_seconds=1)
    stop = threading.Event()
    thread = threading.Thread(target=stream.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield stream
    finally:
        stop.set()
        thread.join(10)


def wait_for(condition: Callable[[], object], *, timeout: float = 10, what: str = "") -> object:
    """Poll ``condition`` until it is true. On SQLite the test database is one in-memory
    shared cache: a read that meets the stream thread's write transaction (a fill) fails at
    once with "table is locked" instead of waiting its turn as a file database (``make
    run``) or MariaDB does; that is the test database's behaviour, so it counts as "not
    yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc):
                raise
            result = None
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
