"""A connection's outgoing messages: ordered, bounded, and never waiting for the socket.

Why: the fan-out hub writes each tick to its subscribers one after the other, and an ASGI
server's ``send`` waits while the socket's buffers are full (uvicorn waits for the
transport to become writable again). One client that stops reading (a stalled or hostile
connection, a phone that lost signal) then held every other subscriber of that process
until its connection timed out. Real exchanges disconnect such clients; so does this.

Guarantees:
- ``__call__`` (the ASGI ``send`` the consumer sees) never waits for the socket: it queues
  the message and one writer task per connection (started when there is something to
  write, ended when the queue is empty) passes the messages to the server's ``send`` in
  the order they were queued.
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
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]


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
        if message["type"] == "websocket.send":
            if self._frames >= self._limit:
                log.warning("stream_slow_consumer", waiting=self._frames)
                self._queue.clear()
                self._queue.extend(self._overflow)
                self._frames = sum(m["type"] == "websocket.send" for m in self._overflow)
                self.closed = True
                self._start_writer()
                return
            self._frames += 1
        self._queue.append(message)
        self._start_writer()

    def discard(self) -> None:
        self.closed = True
        self._queue.clear()
        self._frames = 0
        if self._writer is not None:
            self._writer.cancel()

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        queue = self._queue
        try:
            while queue:
                message = queue.popleft()
                if message["type"] == "websocket.send":
                    self._frames -= 1
                await self._send(message)
        except Exception:  # the connection is gone: nothing more can be written
            self.closed = True
            queue.clear()
            self._frames = 0
        finally:
            self._writer = None
