"""The in-memory channel layer of a single-process deployment (`make run`, no Redis).

channels' ``InMemoryChannelLayer`` keeps an ``asyncio.Queue`` per channel, bound to the
event loop of the consumer that waits on it. Sends from synchronous code (the in-process
price stream's thread, a view's order events) run on ``apps.marketdata.streams``' own send
loop: a put from there does not wake the server's loop, so a tick sits in the queue until
something else happens on the server (a heartbeat, another frame), and the group dict is
read while the server mutates it.

Guarantees: a ``send`` or ``group_send`` made from any loop other than the one the
consumers receive on runs on the consumers' loop (handed over thread-safely) and returns
when it has been delivered there; on that loop, or before any consumer has received, it is
the plain in-memory layer. One ASGI server process runs every consumer on one loop, which
is the case this layer serves; the Redis layer is for anything larger.
"""
import asyncio
from collections.abc import Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer


class InProcessChannelLayer(InMemoryChannelLayer):
    """``InMemoryChannelLayer`` that accepts sends from other threads (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._consumer_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._consumer_loop is not loop and not self._serving():
            self._consumer_loop = loop
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._on_consumer_loop(super().send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._on_consumer_loop(super().group_send(group, message))

    def _serving(self) -> bool:
        loop = self._consumer_loop
        return loop is not None and loop.is_running() and not loop.is_closed()

    async def _on_consumer_loop(self, operation: Coroutine[Any, Any, None]) -> None:
        if not self._serving() or self._consumer_loop is asyncio.get_running_loop():
            await operation
            return
        future = asyncio.run_coroutine_threadsafe(operation, self._consumer_loop)
        await asyncio.wrap_future(future)
