"""The futures streams through a real server over Redis pub/sub (live tests need
REDIS_URL): ``mark@futures:SYMBOL`` and ``positions`` (docs/STREAMING.md)."""
from datetime import UTC, datetime

import pytest
from rest_framework.authtoken.models import Token

from tests.futures.helpers import index_quote
from tests.streaming.live import ws_client
from tests.streaming.test_futures_streams import MARK, contract_with_positions, mark_at


@pytest.mark.django_db(transaction=True)
def test_mark_and_positions_through_a_real_server(server_url, currencies):
    """A real server over Redis pub/sub: a trader subscribes to the mark stream and their
    positions; an index quote published by this process makes its mark tick (the quote
    bus's listener, as in a worker), which reaches both, and only the trader's own
    position reaches the trader. One tick, so exactly one frame on each stream: the two
    streams are separate channels, so their frames may come in either order."""
    contract, long, short = contract_with_positions.func()
    mark_at.func(contract, "60000")
    token = Token.objects.create(user=long).key
    with ws_client(server_url, token=token) as client:
        ack = client.request({"op": "subscribe", "id": 1, "streams": [MARK, "positions"]})
        assert ack["op"] == "subscribed"
        first = {client.recv()["stream"] for _ in range(2)}  # the two snapshots
        assert first == {MARK, "positions"}
        index_quote("60100", now=datetime.now(UTC))
        frames = [client.recv() for _ in range(2)]
        by_stream = {f["stream"]: f["data"] for f in frames}
        assert by_stream[MARK]["mark_price"] == "60100"
        assert (by_stream["positions"]["side"], by_stream["positions"]["unrealised_pnl"]) \
            == ("LONG", "100")
