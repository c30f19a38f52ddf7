"""The in-process layer delivers what another thread sends while the consumers' loop idles."""
import asyncio
import contextlib
import threading

from asgiref.sync import async_to_sync

from apps.streaming.layers import InProcessChannelLayer


class ConsumerLoop:
    """A thread running an event loop that waits on one channel, as a server's would."""

    def __init__(self, layer: InProcessChannelLayer, channel: str, group: str) -> None:
        self.layer, self.channel, self.group = layer, channel, group
        self.received: list[dict] = []
        # One event per message number, set by the consumer's loop when it has the message.
        self.delivered = [threading.Event() for _ in range(3)]
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.receiving: asyncio.Task | None = None
        # A daemon: a loop that never wakes must fail its test, not hang the run.
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.run(),),
                                       daemon=True)

    async def run(self) -> None:
        await self.layer.group_add(self.group, self.channel)
        self.receiving = asyncio.create_task(self.receive_all())
        await asyncio.sleep(0.05)  # receive() is waiting: the loop is idle from here on
        self.ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.receiving

    async def receive_all(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            self.received.append(message)
            if "n" in message:
                self.delivered[message["n"]].set()
            if message.get("last"):
                return

    def __enter__(self) -> "ConsumerLoop":
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(5)
        if self.thread.is_alive():  # still waiting for a message that never woke it
            self.loop.call_soon_threadsafe(self.receiving.cancel)
            self.thread.join(5)
        self.loop.close()


def test_group_send_from_another_thread_wakes_the_consumer_loop():
    layer = InProcessChannelLayer()
    with ConsumerLoop(layer, "specific.a!x", "ticker.EUR_2FUSD") as consumer:
        for n in range(3):
            async_to_sync(layer.group_send)("ticker.EUR_2FUSD",
                                            {"type": "stream.data", "n": n, "last": n == 2})
            # The consumer's loop has nothing else to do (no timer, no other sender): only
            # the send itself can wake it. A message left in the queue without waking the
            # loop is never received, so the next one is not sent until this one arrived.
            assert consumer.delivered[n].wait(10), f"message {n} was not delivered"
            assert [message["n"] for message in consumer.received] == list(range(n + 1))


def test_direct_send_from_another_thread_is_delivered():
    layer = InProcessChannelLayer()
    with ConsumerLoop(layer, "specific.a!y", "user.1") as consumer:
        async_to_sync(layer.send)("specific.a!y", {"type": "stream.data", "n": 0, "last": True})
        assert consumer.delivered[0].wait(10), "the message was not delivered"
    assert consumer.received == [{"type": "stream.data", "n": 0, "last": True}]


def test_without_a_consumer_loop_it_is_the_plain_in_memory_layer():
    layer = InProcessChannelLayer()

    async def round_trip() -> dict:
        await layer.send("plain", {"type": "x"})
        return await layer.receive("plain")

    assert async_to_sync(round_trip)() == {"type": "x"}
