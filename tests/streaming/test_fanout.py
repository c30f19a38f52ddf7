"""The per-process fan-out hub against a recording channel layer: one group membership per
stream, one encode per tick, isolation between streams, failures contained."""
import asyncio
import json

import pytest
from channels.layers import InMemoryChannelLayer

from apps.marketdata import streams
from apps.streaming.fanout import FanoutHub, hub_for

pytestmark = pytest.mark.asyncio


class RecordingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.fail_add = False

    async def group_add(self, group: str, channel: str) -> None:
        self.calls.append(("add", group))
        if self.fail_add:
            raise ConnectionError("Redis is down")
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.calls.append(("discard", group))
        await super().group_discard(group, channel)


class Sink:
    def __init__(self, *, broken: bool = False) -> None:
        self.frames: list[str] = []
        self.broken = broken

    async def send_frame(self, text: str) -> None:
        if self.broken:
            raise RuntimeError("connection closed")
        self.frames.append(text)


EUR = streams.ticker_stream(venue="paper", symbol="EUR/USD")
GBP = streams.ticker_stream(venue="paper", symbol="GBP/USD")
GROUPS = {EUR: streams.ticker_group(venue="paper", symbol="EUR/USD"),
          GBP: streams.ticker_group(venue="paper", symbol="GBP/USD")}


def message(stream: str, seq: int, price: str = "1.1") -> dict:
    return streams.group_message(stream=stream, data={"price": price}, seq=seq)


async def subscribe(hub: FanoutHub, stream: str, sink: Sink) -> None:
    await hub.subscribe(stream=stream, group=GROUPS[stream], subscriber=sink)


async def wait_for(condition, timeout: float = 2) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_one_membership_per_stream_and_the_same_text_for_every_subscriber():
    layer = RecordingLayer()
    hub = FanoutHub(layer)
    sinks = [Sink() for _ in range(3)]
    for sink in sinks:
        await subscribe(hub, EUR, sink)
    assert layer.calls == [("add", "ticker.paper.EUR_2FUSD")]

    await layer.group_send("ticker.paper.EUR_2FUSD", message(EUR, 41))
    await layer.group_send("ticker.paper.EUR_2FUSD", message(EUR, 42, "1.2"))
    await wait_for(lambda: all(len(s.frames) == 2 for s in sinks))
    assert sinks[0].frames == sinks[1].frames == sinks[2].frames
    frames = [json.loads(text) for text in sinks[0].frames]
    assert [(f["stream"], f["seq"], f["data"]["price"]) for f in frames] == [
        (EUR, 41, "1.1"), (EUR, 42, "1.2")]

    for sink in sinks:
        await hub.unsubscribe(stream=EUR, subscriber=sink)
    assert layer.calls == [("add", GROUPS[EUR]), ("discard", GROUPS[EUR])]
    assert not hub.joined(EUR) and hub.subscribers(EUR) == ()


async def test_streams_do_not_leak_into_each_other():
    hub = FanoutHub(RecordingLayer())
    eur, gbp = Sink(), Sink()
    await subscribe(hub, EUR, eur)
    await subscribe(hub, GBP, gbp)
    assert await hub.deliver(message(GBP, 7)) == 1
    assert await hub.deliver(message("orders", 1)) == 0  # never a private stream
    assert eur.frames == [] and [json.loads(t)["stream"] for t in gbp.frames] == [GBP]
    await hub.unsubscribe(stream=EUR, subscriber=eur)
    await hub.unsubscribe(stream=GBP, subscriber=gbp)


async def test_a_failing_subscriber_does_not_stop_the_others():
    hub = FanoutHub(RecordingLayer())
    broken, healthy = Sink(broken=True), Sink()
    await subscribe(hub, EUR, broken)
    await subscribe(hub, EUR, healthy)
    assert await hub.deliver(message(EUR, 1)) == 1
    assert len(healthy.frames) == 1
    for sink in (broken, healthy):
        await hub.unsubscribe(stream=EUR, subscriber=sink)


async def test_a_failed_join_registers_nobody_and_a_later_one_works():
    layer = RecordingLayer()
    hub = FanoutHub(layer)
    layer.fail_add = True
    with pytest.raises(ConnectionError):
        await subscribe(hub, EUR, Sink())
    assert hub.subscribers(EUR) == () and not hub.joined(EUR)
    layer.fail_add = False
    sink = Sink()
    await subscribe(hub, EUR, sink)
    assert hub.subscribers(EUR) == (sink,)
    await hub.unsubscribe(stream=EUR, subscriber=sink)


async def test_concurrent_first_subscribers_join_once_and_all_get_the_next_tick():
    layer = RecordingLayer()
    hub = FanoutHub(layer)
    sinks = [Sink() for _ in range(20)]
    await asyncio.gather(*(subscribe(hub, EUR, sink) for sink in sinks))
    assert layer.calls == [("add", "ticker.paper.EUR_2FUSD")]
    await layer.group_send("ticker.paper.EUR_2FUSD", message(EUR, 5))
    await wait_for(lambda: all(len(s.frames) == 1 for s in sinks))
    for sink in sinks:
        await hub.unsubscribe(stream=EUR, subscriber=sink)


async def test_unsubscribing_a_stranger_is_a_no_op_and_the_hub_is_per_layer():
    layer = RecordingLayer()
    hub = hub_for(layer)
    assert hub_for(layer) is hub and hub_for(RecordingLayer()) is not hub
    await hub.unsubscribe(stream=EUR, subscriber=Sink())
    assert layer.calls == []
