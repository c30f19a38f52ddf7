"""The /ws/ metrics: the open connections gauge and the dropped slow consumers counter."""
import asyncio

import pytest
from prometheus_client import REGISTRY

from apps.streaming.outbox import Outbox
from tests.streaming.test_outbox import OVERFLOW, frame, settle, stalled


def connections() -> float:
    return REGISTRY.get_sample_value("exchange_websocket_connections")


def dropped() -> float:
    return REGISTRY.get_sample_value("exchange_websocket_slow_consumers_dropped_total")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_connections_are_counted_while_open(connect):
    before = connections()
    first = await connect()
    second = await connect()
    assert connections() == before + 2
    await first.ws.disconnect()
    await second.ws.disconnect()
    await settle()
    assert connections() == before


@pytest.mark.asyncio
async def test_a_slow_consumer_dropped_is_counted_once():
    before = dropped()
    socket, box = stalled(limit=2)
    await box(frame(0))
    await settle()  # the writer waits on the stalled socket with frame 0
    for n in range(1, 8):  # 3 overflows the limit; the rest meet a closed outbox
        await box(frame(n))
    assert dropped() == before + 1
    socket.open.set()
    await settle()
    assert socket.sent == [frame(0), *OVERFLOW]


@pytest.mark.asyncio
async def test_a_reader_that_keeps_up_is_never_counted():
    before = dropped()
    sent = []

    async def send(message):
        sent.append(message)
        await asyncio.sleep(0)

    box = Outbox(send, limit=2, overflow=OVERFLOW)
    for n in range(20):
        await box(frame(n))
        await settle()
    assert dropped() == before and len(sent) == 20
