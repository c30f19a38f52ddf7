"""The outbox: a stalled socket never holds the caller; order kept; bounded; closed."""
import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.streaming.outbox import Outbox

OVERFLOW = [{"type": "websocket.send", "text": "too slow"},
            {"type": "websocket.close", "code": 4008}]


def frame(n: int) -> dict:
    return {"type": "websocket.send", "text": str(n)}


class Socket:
    """An ASGI send that blocks while ``open`` is clear, as a server does when the
    socket's buffers are full."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.open = asyncio.Event()
        self.open.set()

    async def __call__(self, message: dict) -> None:
        await self.open.wait()
        self.sent.append(message)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def stalled(*, limit: int) -> tuple[Socket, Outbox]:
    """An outbox over a socket whose buffers are full."""
    socket = Socket()
    socket.open.clear()
    return socket, Outbox(socket, limit=limit, overflow=OVERFLOW)


@pytest.mark.asyncio
async def test_a_writable_socket_is_written_at_once_without_a_task():
    socket = Socket()
    box = Outbox(socket, limit=10, overflow=OVERFLOW)
    tasks = len(asyncio.all_tasks())
    await box(frame(0))
    assert socket.sent == [frame(0)]  # no step of the loop in between
    assert len(asyncio.all_tasks()) == tasks


@pytest.mark.asyncio
async def test_messages_go_out_in_order_without_waiting_for_the_socket():
    socket, box = stalled(limit=10)
    for n in range(5):
        await asyncio.wait_for(box(frame(n)), 0.1)  # returns although the socket is stuck
    await settle()
    assert socket.sent == []
    socket.open.set()
    await settle()
    assert socket.sent == [frame(n) for n in range(5)]


@pytest.mark.asyncio
async def test_past_the_limit_the_backlog_is_dropped_and_the_client_told_and_closed():
    socket, box = stalled(limit=3)
    await box(frame(0))
    await settle()  # the writer takes frame 0 and waits on the socket
    for n in range(1, 6):
        await box(frame(n))
    await box({"type": "websocket.send", "text": "after"})
    socket.open.set()
    await settle()
    # Frame 0 was being written; 1-3 waited and were dropped when 4 came; nothing after
    # the overflow's close is written.
    assert socket.sent == [frame(0), *OVERFLOW]
    assert box.closed


@pytest.mark.asyncio
async def test_a_close_is_never_refused_for_the_limit():
    socket, box = stalled(limit=1)
    await box(frame(0))  # being written
    await box(frame(1))  # waits: the limit is reached
    await box({"type": "websocket.close", "code": 1000})
    socket.open.set()
    await settle()
    assert socket.sent == [frame(0), frame(1), {"type": "websocket.close", "code": 1000}]


@pytest.mark.asyncio
async def test_a_gone_connection_drops_what_waits_and_what_comes():
    calls = []

    async def gone(message: dict) -> None:
        calls.append(message)
        raise OSError("connection lost")

    box = Outbox(gone, limit=10, overflow=OVERFLOW)
    await box(frame(0))
    await box(frame(1))
    await settle()
    await box(frame(2))
    await settle()
    assert calls == [frame(0)] and box.closed


@pytest.mark.asyncio
async def test_discard_stops_the_writer():
    socket, box = stalled(limit=10)
    await box(frame(0))
    await box(frame(1))
    await settle()
    writer = box._writer
    box.discard()
    await settle()
    assert writer is not None and writer.cancelled()
    socket.open.set()
    await box(frame(2))
    await settle()
    assert socket.sent == []


@given(st.lists(st.booleans(), max_size=60), st.integers(min_value=1, max_value=8))
def test_what_is_written_is_a_prefix_in_order_then_at_most_the_overflow(stalls, limit):
    """Whatever the socket's stalls: frames are written in order, none twice; either all
    of them, or a prefix followed by exactly the overflow messages."""

    async def run() -> list[dict]:
        socket = Socket()
        box = Outbox(socket, limit=limit, overflow=OVERFLOW)
        for n, stall in enumerate(stalls):
            if stall:
                socket.open.clear()
            else:
                socket.open.set()
            await box(frame(n))
            await asyncio.sleep(0)
        socket.open.set()
        await settle()
        return socket.sent

    sent = asyncio.run(run())
    if sent[-2:] == OVERFLOW:
        frames = sent[:-2]
    else:
        frames = sent
        assert len(frames) == len(stalls)
    assert frames == [frame(n) for n in range(len(frames))]
