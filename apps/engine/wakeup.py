"""Waking a market's runner when a command is committed: in-process (the embedded runner
of ``make run``) and over Redis (a runner in its own process), one list per market.

Only a hint: a runner that misses a wake-up (Redis down, a restart) finds the command at
its next poll (``ENGINE_POLL_SECONDS``). A list rather than pub/sub, so a wake-up sent
while the runner was busy settling is still there when it next waits; each list is
trimmed to one element (one pending wake-up says all there is to say).
"""
import threading
from collections.abc import Sequence

import structlog
from django.conf import settings

log = structlog.get_logger(__name__)
_local = threading.Condition()
_local_gen = 0
_clients: dict[int, object] = {}


def _key(market_id: int) -> str:
    return f"engine:wake:{market_id}"


def _redis():
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    import os

    import redis
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        client = _clients[pid] = redis.Redis.from_url(url, socket_timeout=5)
    return client


def wake(*, market_id: int) -> None:
    """Tell the runner of ``market_id`` that a command is waiting. Never raises."""
    global _local_gen
    with _local:
        _local_gen += 1
        _local.notify_all()
    client = _redis()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        pipe.lpush(_key(market_id), 1)
        pipe.ltrim(_key(market_id), 0, 0)
        pipe.execute()
    except Exception as exc:  # a hint only: the runner polls
        log.warning("engine_wake_failed", market_id=market_id, error=str(exc))


def wait(*, market_ids: Sequence[int], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for a wake-up of one of ``market_ids``."""
    client = _redis()
    if client is None:
        with _local:
            gen = _local_gen
            _local.wait_for(lambda: _local_gen != gen, timeout=timeout)
        return
    try:
        keys = [_key(m) for m in market_ids]
        if client.blpop(keys, timeout=timeout) is not None:
            client.delete(*keys)  # the others' hints are consumed by this pass too
    except Exception as exc:
        log.warning("engine_wait_failed", error=str(exc))
        with _local:
            _local.wait(timeout=timeout)
