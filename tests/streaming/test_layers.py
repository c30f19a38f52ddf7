"""The in-process layer delivers what another thread sends while the consumers' loop idles."""
import asyncio
import threading
import time

from asgiref.sync import async_to_sync

from apps.streaming.layers import InProcessChannelLayer


class ConsumerLoop:
    """A thread running an event loop that waits on one channel, as a server's would."""

    def __init__(self, layer: InProcessChannelLayer, channel: str, group: str) -> None:
        self.layer, self.channel, self.group = layer, channel, group
        self.received: list[tuple[float, dict]] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.run(),))

    async def run(self) -> None:
        await self.layer.group_add(self.group, self.channel)
        receiving = asyncio.create_task(self.receive_all())
        await asyncio.sleep(0.05)  # receive() is waiting: the loop is idle from here on
        self.ready.set()
        await receiving

    async def receive_all(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            self.received.append((time.monotonic(), message))
            if message.get("last"):
                return

    def __enter__(self) -> "ConsumerLoop":
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(5)
        self.loop.close()


def test_group_send_from_another_thread_wakes_the_consumer_loop():
    layer = InProcessChannelLayer()
    with ConsumerLoop(layer, "specific.a!x", "ticker.EUR_2FUSD") as consumer:
        sent = []
        for n in range(3):
            sent.append(time.monotonic())
            async_to_sync(layer.group_send)("ticker.EUR_2FUSD",
                                            {"type": "stream.data", "n": n, "last": n == 2})
            time.sleep(0.2)
    assert [message["n"] for _, message in consumer.received] == [0, 1, 2]
    # Delivered as sent, not when something else happened to wake the loop.
    assert all(at - start < 0.15 for (at, _), start in zip(consumer.received, sent, strict=True))


def test_direct_send_from_another_thread_is_delivered():
    layer = InProcessChannelLayer()
    with ConsumerLoop(layer, "specific.a!y", "user.1") as consumer:
        async_to_sync(layer.send)("specific.a!y", {"type": "stream.data", "last": True})
    assert len(consumer.received) == 1


def test_without_a_consumer_loop_it_is_the_plain_in_memory_layer():
    layer = InProcessChannelLayer()

    async def round_trip() -> dict:
        await layer.send("plain", {"type": "x"})
        return await layer.receive("plain")

    assert async_to_sync(round_trip)() == {"type": "x"}
