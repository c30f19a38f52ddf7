"""Per-process fan-out of public (ticker) streams: one channel-layer subscription and one
JSON encode per tick per server process, then one socket write per subscriber.

Why: with a channel-layer group per connection, every tick was deserialised, dispatched
through the consumer and JSON-encoded once per connection, and a server process topped out
at a few thousand frames a second. Tickers are the same bytes for every subscriber once
the sequence number is assigned at publish time (``apps.marketdata.streams``), so one
process-wide hub receives each tick once and writes the same text to every local
subscriber. Private streams (``orders``, ``balances``) stay on the per-connection path.

Guarantees:
- One hub per (event loop, channel layer): channel layers are bound to their loop.
- ``subscribe`` returns only once the hub's channel is in the stream's group, so every
  tick published after it returns reaches the subscriber; if joining fails it raises what
  the channel layer raised and the subscriber is not registered.
- From ``subscribe`` returning until ``unsubscribe`` is called, the subscriber gets every
  tick the hub receives for the stream, in the order received, as the one text encoded
  for all; after ``unsubscribe`` starts it gets none.
- A subscriber whose send raises (a connection closing) is skipped; the others still get
  the frame.
- The hub is in a group exactly while it has a subscriber for that stream: joins and
  leaves run under one lock, because channels_redis' pub/sub layer, given a discard and
  an add of one group interleaved, can end unsubscribed from Redis with a member left.
  With no subscriber at all it stops its reader and drops its channel.
"""
import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog

from apps.streaming import protocol

log = structlog.get_logger(__name__)

# channels' in-memory layer forgets group members after ``group_expiry`` (a day); the
# hub's one channel lives as long as the process, so it re-joins its groups well before.
GROUP_REFRESH_SECONDS: Final = 3600


class Subscriber(Protocol):
    async def send_frame(self, text: str) -> None:
        """Write one encoded text frame to the connection."""


@dataclass
class _Stream:
    group: str
    joined: bool = False
    # A dict keeps subscription order (fair and reproducible) and gives O(1) removal.
    subscribers: dict[Subscriber, None] = field(default_factory=dict)


class FanoutHub:
    """The fan-out of one event loop and channel layer (see the module docstring)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self._streams: dict[str, _Stream] = {}
        self._lock = asyncio.Lock()
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []

    def subscribers(self, stream: str) -> tuple[Subscriber, ...]:
        state = self._streams.get(stream)
        return tuple(state.subscribers) if state is not None else ()

    def joined(self, stream: str) -> bool:
        state = self._streams.get(stream)
        return state is not None and state.joined

    async def subscribe(self, *, stream: str, group: str, subscriber: Subscriber) -> None:
        """Deliver ``stream`` (fed by channel-layer ``group``) to ``subscriber``. Takes the
        hub's lock only when the group must be joined; raises what the channel layer
        raises then (the subscriber is not registered)."""
        state = self._streams.get(stream)
        if state is not None and state.joined:
            # No await since the check: a leave cannot have started in between.
            state.subscribers[subscriber] = None
            return
        async with self._lock:
            state = self._streams.setdefault(stream, _Stream(group=group))
            if not state.joined:
                channel = await self._ensure_channel()
                await self.layer.group_add(group, channel)
                state.joined = True
            state.subscribers[subscriber] = None

    async def unsubscribe(self, *, stream: str, subscriber: Subscriber) -> None:
        """Stop delivering ``stream`` to ``subscriber`` (a no-op if it was not subscribed);
        leave the group if it was the last one here. Never raises: a failed leave is
        logged (the pub/sub layer forgets it with the connection anyway)."""
        state = self._streams.get(stream)
        if state is None or state.subscribers.pop(subscriber, False) is False:
            return
        if state.subscribers:
            return
        async with self._lock:
            if state.joined and not state.subscribers:
                state.joined = False
                try:
                    await self.layer.group_discard(state.group, self._channel)
                except Exception:
                    log.warning("fanout_group_discard_failed", group=state.group)
            if not any(s.subscribers for s in self._streams.values()):
                await self._stop()

    async def _ensure_channel(self) -> str:
        if self._channel is None:
            self._channel = await self.layer.new_channel()
            self._tasks = [asyncio.create_task(self._read(self._channel)),
                           asyncio.create_task(self._refresh())]
        return self._channel

    async def _stop(self) -> None:
        tasks, self._tasks, self._channel = self._tasks, [], None
        self._streams = {}
        for task in tasks:
            task.cancel()
        # Cancelling the pub/sub layer's receive unsubscribes the channel from Redis.
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a layer hiccup must not end every ticker in the process
                log.exception("fanout_receive_failed")
                await asyncio.sleep(1)
                continue
            await self.deliver(message)

    async def deliver(self, message: dict[str, Any]) -> int:
        """Encode ``message`` (a ``stream.data`` ticker message) once and send it to the
        stream's subscribers; returns how many sends succeeded."""
        state = self._streams.get(message.get("stream"))
        if state is None or not state.subscribers:
            return 0
        try:
            text = protocol.encode(protocol.data_frame(
                stream=message["stream"], seq=message["seq"], data=message["data"],
                time_ms=protocol.now_ms()))
        except (KeyError, TypeError, ValueError):
            log.exception("fanout_bad_message", stream=message.get("stream"))
            return 0
        sent = 0
        # A copy: subscribers may come and go while a send awaits.
        for subscriber in tuple(state.subscribers):
            try:
                await subscriber.send_frame(text)
                sent += 1
            except Exception:  # closing connection: its disconnect unsubscribes it
                log.debug("fanout_send_failed", stream=message["stream"])
        return sent

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            async with self._lock:
                for state in self._streams.values():
                    if state.joined and self._channel is not None:
                        try:
                            await self.layer.group_add(state.group, self._channel)
                        except Exception:
                            log.warning("fanout_group_refresh_failed", group=state.group)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[FanoutHub]]" = (
    weakref.WeakKeyDictionary())


def hub_for(layer: Any) -> FanoutHub:
    """The running loop's hub for channel layer ``layer`` (created on first use)."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), [])
    for hub in hubs:
        if hub.layer is layer:
            return hub
    hub = FanoutHub(layer)
    hubs.append(hub)
    return hub
