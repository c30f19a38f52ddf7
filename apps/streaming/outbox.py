"""A connection's outgoing messages: ordered, bounded, and never waiting for the socket.

Why: the fan-out hub writes each tick to its subscribers one after the other, and an ASGI
server's ``send`` waits while the socket's buffers are full (uvicorn waits for the
transport to become writable again). One client that stops reading (a stalled or hostile
connection, a phone that lost signal) then held every other subscriber of that process
until its connection timed out. Real exchanges disconnect such clients; so does this.

Guarantees:
- ``__call__`` (the ASGI ``send`` the consumer sees) never waits for the socket. With
  nothing queued it runs the server's ``send`` at once, by hand, up to the point where that
  would wait (it usually completes: a write into the transport); only then does a writer
  task take over the rest, and later messages queue behind it until it has written them
  all, in order. So the common case costs what a direct ``await send(...)`` cost and
  allocates no task per frame (a task per frame, measured, made the garbage collector's
  pauses the server's p99: docs/BENCHMARKS.md).
- At most ``limit`` ``websocket.send`` messages wait at once. The one that would exceed it
  drops everything still waiting and queues ``overflow`` instead (the consumer gives an
  error frame and a close); from then on every message is dropped. Memory per connection
  is bounded by ``limit`` frames plus what the server and the kernel buffer.
- If the server's ``send`` raises (the connection is gone), what is waiting is dropped and
  so is everything after. ``discard`` does the same from the consumer's side (on
  disconnect) and stops the writer.
"""
import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from apps.core import metrics

log = structlog.get_logger(__name__)

Message = dict[str, Any]
Send = Callable[[Message], Coroutine[Any, Any, None]]


class Outbox:
    """The outgoing queue of one connection (see the module docstring)."""

    def __init__(self, send: Send, *, limit: int, overflow: list[Message]) -> None:
        self._send = send
        self._limit = limit
        self._overflow = overflow
        self._queue: deque[Message] = deque()
        self._frames = 0  # websocket.send messages in the queue
        self._writer: asyncio.Task | None = None
        self.closed = False

    async def __call__(self, message: Message) -> None:
        if self.closed:
            return
        if self._writer is None:  # nothing waits (the queue is empty): write now
            self._write_now(message)
            return
        if message["type"] == "websocket.send":
            if self._frames >= self._limit:
                log.warning("stream_slow_consumer", waiting=self._frames)
                metrics.SLOW_CONSUMERS_DROPPED.inc()
                self._queue.clear()
                self._queue.extend(self._overflow)
                self._frames = sum(m["type"] == "websocket.send" for m in self._overflow)
                self.closed = True
                return
            self._frames += 1
        self._queue.append(message)

    def discard(self) -> None:
        self._gone()
        if self._writer is not None:
            self._writer.cancel()

    def _gone(self) -> None:
        self.closed = True
        self._queue.clear()
        self._frames = 0

    def _write_now(self, message: Message) -> None:
        sending = self._send(message)
        try:
            waits_on = sending.send(None)
        except StopIteration:
            return
        except Exception:  # the connection is gone
            self._gone()
            return
        # The socket's buffers are full: a task finishes this write and those queued next.
        self._writer = asyncio.get_running_loop().create_task(self._write(sending, waits_on))

    async def _write(self, sending: Coroutine[Any, Any, None], waits_on: Any) -> None:
        queue = self._queue
        try:
            await _resume(sending, waits_on)
            while queue:
                message = queue.popleft()
                if message["type"] == "websocket.send":
                    self._frames -= 1
                await self._send(message)
        except Exception:  # the connection is gone: nothing more can be written
            self._gone()
        finally:
            self._writer = None


async def _resume(coroutine: Coroutine[Any, Any, None], waits_on: Any) -> None:
    """Run the rest of ``coroutine``, stepped by hand until it yielded ``waits_on`` (the
    future it waits for, or None for a bare yield), as its own task would have: wait for
    that, send it on, until it returns. Cancelling closes it (its ``finally`` blocks run)."""
    try:
        while True:
            if waits_on is None:
                await asyncio.sleep(0)
            else:
                # A task takes this flag down when a coroutine yields a future to it; here
                # nobody did, and awaiting a future still flagged is refused.
                waits_on._asyncio_future_blocking = False
                await waits_on
            waits_on = coroutine.send(None)
    except StopIteration:
        return
    finally:
        coroutine.close()
