"""The ``/ws/`` consumer: thin glue between a WebSocket, the protocol and the channel layer.

It forwards and never touches money: it reads which markets are enabled and the latest
cached quotes and books, registers with the process's fan-out hub for public streams
(tickers, depth, trades; ``fanout``: one encode per item per process, numbered at publish
time), joins and leaves the user's
channel group for private streams and relays those messages as data frames.
A bad frame gets an error frame (and a close only for binary or oversized frames); a
channel-layer failure while subscribing gets an ``unavailable`` error frame. Neither ends
the server or, unless stated, the connection.
"""
import asyncio
from typing import Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.core import conf, metrics
from apps.marketdata import streams
from apps.streaming import fanout, outbox, protocol, selectors
from apps.streaming.protocol import ProtocolError, Request

log = structlog.get_logger(__name__)


class StreamConsumer(AsyncWebsocketConsumer):
    """One connection: its subscriptions, private sequence numbers and heartbeat."""

    # Ticker frames the hub hands over while a subscribe is being answered: they go out
    # after the ack and snapshots, in order (None: send at once).
    _held: list[str] | None = None
    # Whether this connection was accepted, and so counted in the connections gauge.
    _counted = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Every message to the client goes through the connection's outbox, so that no
        # write waits for this client's socket (see apps/streaming/outbox.py).
        slow = ProtocolError("slow_consumer", "Frames were not read fast enough; "
                             "reconnect and subscribe again.",
                             close_code=protocol.CLOSE_SLOW_CONSUMER)
        overflow = [{"type": "websocket.send", "text": protocol.encode(slow.frame())},
                    {"type": "websocket.close", "code": slow.close_code}]
        self._outbox = outbox.Outbox(send, limit=conf.STREAMING_MAX_PENDING_FRAMES,
                                     overflow=overflow)
        try:
            await super().__call__(scope, receive, self._outbox)
        finally:
            self._outbox.discard()
            if self._counted:
                metrics.WEBSOCKET_CONNECTIONS.dec()

    async def connect(self) -> None:
        user = self.scope.get("user")
        user_id = user.pk if user is not None and user.is_authenticated else None
        self.subscriptions = protocol.Subscriptions(
            user_id=user_id, limit=conf.STREAMING_MAX_SUBSCRIPTIONS)
        self.hub = fanout.hub_for(self.channel_layer)
        await self.accept()
        self._counted = True
        metrics.WEBSOCKET_CONNECTIONS.inc()
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code: int) -> None:
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat is not None:
            heartbeat.cancel()
        if hasattr(self, "subscriptions"):
            await self._unregister(self.subscriptions.public())
            await self._leave(self.subscriptions.groups())

    async def send_frame(self, text: str) -> None:
        """A ticker frame from the hub (``fanout.Subscriber``): straight to the outbox,
        past channels' message dispatch, since this runs once per subscriber per tick.
        Never waits for the socket."""
        if self._held is not None:
            self._held.append(text)
            return
        await self.base_send({"type": "websocket.send", "text": text})

    async def receive(self, text_data: str | None = None,
                      bytes_data: bytes | None = None) -> None:
        try:
            if text_data is None:
                raise ProtocolError("binary_frame", "Frames must be text (JSON).",
                                    close_code=protocol.CLOSE_UNSUPPORTED_DATA)
            request = protocol.parse_request(
                text_data, max_bytes=conf.STREAMING_MAX_FRAME_BYTES,
                max_streams=conf.STREAMING_MAX_SUBSCRIPTIONS)
            if request.op == "ping":
                await self._send(protocol.pong_frame(id=request.id, time_ms=protocol.now_ms()))
            elif request.op == "subscribe":
                await self._subscribe(request)
            else:
                await self._unsubscribe(request)
        except ProtocolError as error:
            await self._send(error.frame())
            if error.close_code is not None:
                await self.close(code=error.close_code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale database connections before every handler: a hop through
        # the one shared sync thread. Relayed stream data touches no database, and at
        # fan-out rates (clients x ticks/s) that hop per message would be the bottleneck.
        if message["type"] == streams.MESSAGE_TYPE:
            await self.stream_data(message)
        else:
            await super().dispatch(message)

    async def stream_data(self, message: dict[str, Any]) -> None:
        """A channel-layer message for the user's group (type ``stream.data``): private
        streams, numbered per connection (tickers come through the hub instead)."""
        stream = message["stream"]
        # A user's group carries both private streams; forward only those subscribed.
        if stream in self.subscriptions:
            await self._send(protocol.data_frame(
                stream=stream, seq=self.subscriptions.next_seq(stream), data=message["data"],
                time_ms=protocol.now_ms()))

    async def _subscribe(self, request: Request) -> None:
        plan = self.subscriptions.plan_subscribe(request)
        public = [s for s in plan.streams if s.symbol is not None]
        if public:
            missing = await database_sync_to_async(selectors.unavailable_streams)(
                streams=public)
            if missing:
                raise ProtocolError("unknown_stream",
                                    f"No enabled market: {', '.join(missing)}.", id=request.id)
        joined: list[str] = []
        registered: list[protocol.Stream] = []
        if public:
            self._held = []
        try:
            try:
                for group in plan.join:
                    await self.channel_layer.group_add(group, self.channel_name)
                    joined.append(group)
                for stream in plan.streams:
                    if stream.symbol is not None:
                        await self.hub.subscribe(stream=stream.name,
                                                 group=stream.group(user_id=None),
                                                 subscriber=self)
                        registered.append(stream)
            except Exception:
                log.exception("stream_subscribe_failed", groups=plan.join,
                              streams=[s.name for s in plan.streams])
                await self._unregister(registered)
                await self._leave(joined)
                raise ProtocolError("unavailable", "Streaming is temporarily unavailable; "
                                    "retry shortly.", id=request.id) from None
            self.subscriptions.apply(plan, subscribe=True)
            # Joined first, snapshots read second: a tick published in between comes again
            # live (same seq) rather than being lost. Read before the ack, so a tick the
            # client causes after the ack is never taken for the snapshot.
            snapshots = (await database_sync_to_async(selectors.snapshots)(
                streams=public) if public else {})
            private = [s for s in plan.streams if s.private]
            if private:
                # Read after joining the group, as the public ones: a change made in
                # between comes again live, after the snapshot (items are whole states).
                for name, data in (await database_sync_to_async(selectors.private_snapshots)(
                        user_id=self.subscriptions.user_id, streams=private)).items():
                    snapshots[name] = (None, data)
            await self._send(protocol.ack_frame(op="subscribe", id=request.id,
                                                streams=[s.name for s in request.streams]))
            if snapshots:
                now = protocol.now_ms()
                for stream in plan.streams:
                    if stream.name in snapshots:
                        seq, data = snapshots[stream.name]
                        if seq is None:  # a private stream's: numbered per connection
                            seq = self.subscriptions.next_seq(stream.name)
                        await self._send(protocol.data_frame(
                            stream=stream.name, seq=seq, data=data, time_ms=now,
                            snapshot=True))
        finally:
            await self._release_held()

    async def _unsubscribe(self, request: Request) -> None:
        plan = self.subscriptions.plan_unsubscribe(request)
        self.subscriptions.apply(plan, subscribe=False)
        await self._unregister([s for s in plan.streams if s.symbol is not None])
        await self._leave(plan.leave)
        await self._send(protocol.ack_frame(op="unsubscribe", id=request.id,
                                            streams=[s.name for s in request.streams]))

    async def _release_held(self) -> None:
        # Ticks the hub handed over meanwhile, oldest first. The last emptiness check and
        # the reset have no await between them, so no frame can be left behind.
        while self._held:
            held, self._held = self._held, []
            for text in held:
                await self.base_send({"type": "websocket.send", "text": text})
        self._held = None

    async def _unregister(self, streams: Any) -> None:
        for stream in streams:
            await self.hub.unsubscribe(stream=stream.name, subscriber=self)

    async def _leave(self, groups: Any) -> None:
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the layer forgets a dead connection's groups anyway
                log.warning("stream_group_discard_failed", group=group)

    async def _heartbeat(self) -> None:
        interval = conf.STREAMING_HEARTBEAT_SECONDS
        while True:
            await asyncio.sleep(interval)
            await self._send(protocol.heartbeat_frame(time_ms=protocol.now_ms()))

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=protocol.encode(frame))
