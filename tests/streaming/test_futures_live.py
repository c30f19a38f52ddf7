"""The futures streams through a real server over Redis pub/sub (live tests need
REDIS_URL): ``mark@futures:SYMBOL`` and ``positions`` (docs/STREAMING.md)."""
import pytest
from rest_framework.authtoken.models import Token

from tests.streaming.live import ws_client
from tests.streaming.test_futures_streams import MARK, contract_with_positions, mark_at


@pytest.mark.django_db(transaction=True)
def test_mark_and_positions_through_a_real_server(server_url, currencies):
    """A real server over Redis pub/sub: a trader subscribes to the mark stream and their
    positions; a mark tick published by this process (as a worker would) reaches both,
    and only the trader's own position reaches the trader."""
    contract, long, short = contract_with_positions.func()
    mark_at.func(contract, "60000")
    token = Token.objects.create(user=long).key
    with ws_client(server_url, token=token) as client:
        ack = client.request({"op": "subscribe", "id": 1, "streams": [MARK, "positions"]})
        assert ack["op"] == "subscribed"
        first = {client.recv()["stream"] for _ in range(2)}  # the two snapshots
        assert first == {MARK, "positions"}
        mark_at.func(contract, "60100")
        frames = [client.recv() for _ in range(2)]
        by_stream = {f["stream"]: f["data"] for f in frames}
        assert by_stream[MARK]["mark_price"] == "60100"
        assert (by_stream["positions"]["side"], by_stream["positions"]["unrealised_pnl"]) \
            == ("LONG", "100")
