"""Fixtures for the streaming tests: markets, the in-memory layer, WebSocket helpers."""
import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import pytest_asyncio
from channels.testing import WebsocketCommunicator

from apps.marketdata.quotes import Quote
from apps.streaming.consumers import StreamConsumer
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market
from tests.twelvedata.fixtures import paper_market


def make_market(symbol: str, *, venue: str = Venue.PAPER, enabled: bool = True) -> Market:
    """A market of ``venue``; a paper one with its TwelveData instrument."""
    if venue == Venue.PAPER:
        return paper_market(symbol, enabled=enabled)
    base, _, quote = symbol.partition("/")
    return Market.objects.create(
        venue=venue, symbol=symbol, base_currency=base, quote_currency=quote or "USD",
        tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"),
        status=MarketStatus.ENABLED if enabled else MarketStatus.DISABLED)


def tick(symbol: str = "EUR/USD", price: str = "1.10000", *, venue: str = "paper",
         at: datetime | None = None) -> Quote:
    return Quote(venue=venue, symbol=symbol, price=Decimal(price), bid=Decimal(price),
                 ask=Decimal(price), timestamp=at or datetime.now(UTC), source="test")


@pytest.fixture
def memory_layer(settings):
    """The embedded mode's in-memory channel layer, whatever REDIS_URL says (channels
    resets its layers when the setting changes)."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "apps.streaming.layers.InProcessChannelLayer"}}
    return settings


class Client:
    """A WebsocketCommunicator speaking JSON frames."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator

    async def send(self, frame: dict) -> None:
        await self.ws.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout: float = 2) -> dict:
        return json.loads(await self.ws.receive_from(timeout=timeout))

    async def request(self, frame: dict) -> dict:
        await self.send(frame)
        return await self.recv()

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)


@pytest_asyncio.fixture
async def connect(memory_layer):
    """``await connect(user=None)`` -> a connected Client straight on the consumer."""
    opened: list[WebsocketCommunicator] = []

    async def _connect(user=None) -> Client:
        communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), "/ws/")
        if user is not None:
            communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        return Client(communicator)

    yield _connect
    for communicator in opened:
        await communicator.disconnect()


@pytest.fixture(scope="session")
def server_url():
    """The ws:// URL of a real uvicorn server over the Redis channel layer (skips without
    REDIS_URL: the in-memory layer cannot carry messages from the test thread's publish)."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (the Redis pub/sub channel layer)")
    from tests.streaming.live import ServerThread

    server = ServerThread()
    yield server.start()
    server.stop()
