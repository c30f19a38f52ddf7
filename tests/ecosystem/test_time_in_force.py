"""Fill-or-kill and post-only on the ecosystem venue, through the API and the runner: an
order the book cannot take as asked ends REJECTED with the book's reason in the API, its
hold released in full, no trade and every balance as it was."""
import pytest
from rest_framework.test import APIClient

from apps.wallets import selectors as wallet_selectors
from tests.engine.helpers import D, balance, drain, eco_market, runner, trader

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/ecosystem/"


@pytest.fixture
def book(currencies):
    """A runner and one ask of 1 ABC at 10.00 resting."""
    r = runner(eco_market())
    seller = trader()
    ask = order(client_of(seller), side="SELL", price="10.00", amount="1")
    assert ask.status_code == 201
    drain(r)
    return r, seller, ask.json()["id"]


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def order(client, **body):
    return client.post(URL + "orders/", {"symbol": "ABC/USDT", "type": "LIMIT", **body},
                       format="json")


def shown(client, order_id: int) -> dict:
    (found,) = [o for o in client.get(URL + "orders/").json()["results"]
                if o["id"] == order_id]
    return found


@pytest.mark.parametrize("body, reason", [
    # 2 wanted, 1 offered at the price: nothing trades.
    ({"time_in_force": "FOK", "amount": "2"},
     "Fill-or-kill: not enough at the price to fill it all."),
    # It reaches the ask: it would take liquidity.
    ({"post_only": True, "amount": "1"}, "Post-only: the order would have taken liquidity."),
])
def test_an_order_the_book_cannot_take_as_asked_is_rejected_and_costs_nothing(book, body,
                                                                            reason):
    r, seller, ask_id = book
    buyer = trader()
    client, before = client_of(buyer), {c: balance(buyer, c) for c in ("USDT", "ABC")}
    placed = order(client, side="BUY", price="10.00", **body)
    assert placed.status_code == 201
    assert balance(buyer, "USDT")[1] > 0  # held while the engine has not seen it
    drain(r)
    mine = shown(client, placed.json()["id"])
    assert (mine["status"], mine["reason"], mine["filled"], mine["fills"]) == (
        "REJECTED", reason, "0", [])
    assert {c: balance(buyer, c) for c in ("USDT", "ABC")} == before
    assert before["USDT"] == (D("100000"), D(0))
    # The ask was not touched; no trade was printed.
    assert shown(client_of(seller), ask_id)["status"] == "OPEN"
    assert APIClient().get(URL + "trades/", {"symbol": "ABC/USDT"}).json()["trades"] == []
    assert wallet_selectors.reconcile() == []


def test_orders_the_book_can_take_as_asked_are_not_rejected(book):
    r, _, _ = book
    client = client_of(trader())
    fok = order(client, side="BUY", price="10.00", time_in_force="FOK", amount="1").json()
    maker = order(client, side="BUY", price="9.99", post_only=True, amount="1").json()
    drain(r)
    assert shown(client, fok["id"])["status"] == "FILLED"
    assert (shown(client, maker["id"])["status"], shown(client, maker["id"])["reason"]) == (
        "OPEN", "")
