"""Batched settlement: ``settle_trades`` settles many trades in one transaction, each once."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from apps.core.errors import Conflict, InvalidInput
from apps.marketdata import streams
from apps.wallets import selectors, services
from apps.wallets.constants import SystemAccount
from apps.wallets.models import Entry, Hold, Journal, Wallet
from apps.wallets.services import InsufficientFunds, TradeParty, TradeSettlement
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal
MARKET = TradeParty(system=SystemAccount.PAPER_MARKET)


def trader(usd="1000", eur="1000"):
    user = UserFactory()
    services.grant_paper_funds(user_id=user.pk, currency="USD", amount=D(usd),
                               key=f"g:{user.pk}:USD")
    services.grant_paper_funds(user_id=user.pk, currency="EUR", amount=D(eur),
                               key=f"g:{user.pk}:EUR")
    return user


def buy(key, user, quantity="10", quote_amount="11", fee="0.01", hold_key=None, **kwargs):
    """``user`` buys EUR from the paper market."""
    return TradeSettlement(key=key, wallet_type="PAPER", base="EUR", quote="USD",
                           quantity=D(quantity), quote_amount=D(quote_amount),
                           buyer=TradeParty(user_id=user.pk, fee=D(fee), hold_key=hold_key,
                                            **kwargs),
                           seller=MARKET)


def sell(key, user, quantity="10", quote_amount="11", fee="0.01"):
    return TradeSettlement(key=key, wallet_type="PAPER", base="EUR", quote="USD",
                           quantity=D(quantity), quote_amount=D(quote_amount), buyer=MARKET,
                           seller=TradeParty(user_id=user.pk, fee=D(fee)))


def paper(user, currency):
    wallet = Wallet.objects.get(user=user, type="PAPER", currency_id=currency)
    return wallet.balance, wallet.held


def system(account, currency):
    return selectors.system_balance(system=account, wallet_type="PAPER", currency=currency)


def test_a_batch_settles_every_trade_once_and_books_the_system_side_as_entries(currencies):
    alice, bob = trader(), trader()
    journals = services.settle_trades(trades=[
        buy("t1", alice), sell("t2", bob, quantity="5", quote_amount="5.5"),
        buy("t3", alice, quantity="1", quote_amount="1.1")])
    assert [j.key for j in journals] == ["t1", "t2", "t3"]
    assert paper(alice, "USD") == (D("987.88"), 0) and paper(alice, "EUR") == (D("1011"), 0)
    assert paper(bob, "USD") == (D("1005.49"), 0) and paper(bob, "EUR") == (D("995"), 0)
    assert system(SystemAccount.FEES, "USD") == D("0.03")
    assert system(SystemAccount.PAPER_MARKET, "EUR") == D("-6")
    assert system(SystemAccount.PAPER_MARKET, "USD") == D("6.6")
    # The system wallets' rows are never written: their balance lives in their entries.
    assert set(Wallet.objects.filter(user__isnull=True).values_list("balance", flat=True)) \
        == {0}
    legs = Entry.objects.filter(journal__key="t3")
    assert {e.balance_after for e in legs if e.wallet.user_id is None} == {None}
    assert sorted(e.balance_after for e in legs if e.wallet.user_id) == [D("987.88"),
                                                                          D("1011")]
    assert selectors.reconcile() == []


def test_the_same_trade_twice_in_a_batch_is_written_once(currencies):
    alice = trader()
    first, again = services.settle_trades(trades=[buy("t1", alice), buy("t1", alice)])
    assert first.pk == again.pk
    assert Journal.objects.filter(key="t1").count() == 1
    assert paper(alice, "EUR") == (D("1010"), 0)


def test_a_key_twice_in_a_batch_with_other_content_is_refused(currencies):
    alice = trader()
    with capture_logs() as logs, pytest.raises(Conflict) as raised:
        services.settle_trades(trades=[buy("t1", alice), buy("t1", alice, quantity="11")])
    assert raised.value.code == "idempotency_conflict" and "t1" in raised.value.message
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["journal_batch_conflict"]
    assert not Journal.objects.filter(kind="TRADE").exists()


def test_a_replayed_or_overlapping_batch_writes_only_what_is_new(currencies):
    alice, bob = trader(), trader()
    first = services.settle_trades(trades=[buy("t1", alice), sell("t2", bob)])
    written = Entry.objects.count()
    assert [j.pk for j in services.settle_trades(trades=[sell("t2", bob), buy("t1", alice)])] \
        == [first[1].pk, first[0].pk]
    assert Entry.objects.count() == written
    services.settle_trades(trades=[buy("t1", alice), buy("t3", bob)])
    assert list(Journal.objects.filter(kind="TRADE").values_list("key", flat=True)
                .order_by("pk")) == ["t1", "t2", "t3"]
    assert paper(alice, "EUR") == (D("1010"), 0) and paper(bob, "EUR") == (D("1000"), 0)
    assert selectors.reconcile() == []


def test_a_mismatching_replay_in_a_batch_rolls_back_the_whole_batch(currencies):
    alice, bob = trader(), trader()
    services.settle_trade(**vars(buy("t1", alice)))
    before = sorted(Wallet.objects.values_list("pk", "balance", "held"))
    with capture_logs() as logs, pytest.raises(Conflict) as raised:
        services.settle_trades(trades=[sell("t2", bob), buy("t1", alice, quantity="9")])
    assert raised.value.code == "idempotency_conflict"
    assert raised.value.message.startswith("t1: ")
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["journal_replay_conflict"]
    assert not Journal.objects.filter(key="t2").exists()
    assert sorted(Wallet.objects.values_list("pk", "balance", "held")) == before


@pytest.mark.parametrize(("bad", "error", "message"), [
    (lambda u: buy("bad", u, quantity="2000", quote_amount="2200"), InsufficientFunds,
     "Insufficient USD"),
    (lambda u: buy("bad", u, quantity="0.001"), InvalidInput, "Quantity"),
    (lambda u: buy("bad", u, fee="0.001"), InvalidInput, "Fee"),
    (lambda u: buy("bad", u, hold_key="nope"), Conflict, "cannot pay"),
    (lambda u: TradeSettlement(key="bad", wallet_type="SPOT", base="EUR", quote="USD",
                               quantity=D(1), quote_amount=D(1), seller=MARKET,
                               buyer=TradeParty(user_id=u.pk)), InvalidInput, "PAPER"),
    (lambda u: TradeSettlement(key="bad", wallet_type="PAPER", base="EUR", quote="EUR",
                               quantity=D(1), quote_amount=D(1), seller=MARKET,
                               buyer=TradeParty(user_id=u.pk)), InvalidInput, "differ"),
])
def test_one_bad_trade_fails_the_batch_naming_its_key(currencies, bad, error, message):
    alice, bob = trader(), trader()
    with pytest.raises(error, match=message) as raised:
        services.settle_trades(trades=[buy("good", bob), bad(alice), sell("after", bob)])
    assert raised.value.message.startswith("bad: ")
    assert not Journal.objects.filter(kind="TRADE").exists()
    assert paper(bob, "EUR") == (D("1000"), 0)


def test_a_hold_pays_fill_after_fill_in_one_batch_until_it_is_closed(currencies):
    alice = trader()
    services.hold_create(user_id=alice.pk, wallet_type="PAPER", currency="USD",
                         amount=D("30"), key="order")
    services.settle_trades(trades=[
        buy("f1", alice, hold_key="order"), buy("f2", alice, hold_key="order"),
        buy("f3", alice, quantity="1", quote_amount="1.1", hold_key="order",
            close_hold=True)])
    hold = Hold.objects.get(key="order")
    assert (hold.status, hold.remaining) == (Hold.Status.CLOSED, 0)
    assert paper(alice, "USD") == (D("976.87"), 0)
    with pytest.raises(Conflict, match="f4: Hold 'order' cannot pay"):
        services.settle_trades(trades=[buy("f4", alice, hold_key="order"), sell("f5", alice)])
    assert selectors.reconcile() == []


def test_a_batch_costs_the_same_queries_whatever_its_size(currencies):
    users = [trader() for _ in range(12)]
    services.settle_trade(**vars(buy("first", users[0])))  # creates the system wallets

    def queries(prefix, count):
        batch = [buy(f"{prefix}{n}", users[n % len(users)]) for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            services.settle_trades(trades=batch)
        return len(captured)

    assert queries("a", 3) == queries("b", 60)


def test_each_touched_wallet_is_published_once_with_its_final_state(
        currencies, monkeypatch, django_capture_on_commit_callbacks):
    alice = trader()
    sent = []
    monkeypatch.setattr(streams, "send_to_groups", lambda messages: sent.extend(
        (group, message["data"]) for group, message in messages) or True)
    with django_capture_on_commit_callbacks(execute=True):
        services.settle_trades(trades=[buy("t1", alice), buy("t2", alice), sell("t3", alice)])
    assert sorted((data["currency"], data["balance"]) for _, data in sent) == [
        ("EUR", "1010"), ("USD", "988.97")]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.integers(1, 5_000),
                               st.integers(90, 120)), min_size=1, max_size=12))
def test_a_batch_ends_where_the_same_trades_one_by_one_end(currencies, plan):
    one_by_one, batched = [trader(), trader(), trader()], [trader(), trader(), trader()]

    def trades(users, prefix):
        for n, (who, buys, cents, price) in enumerate(plan):
            quantity = D(cents) / 100
            quote_amount = (quantity * price / 100).quantize(D("0.01"))
            make = buy if buys else sell
            yield make(f"{prefix}{n}", users[who], quantity=f"{quantity}",
                       quote_amount=f"{max(quote_amount, D('0.02'))}")

    for trade in trades(one_by_one, f"{one_by_one[0].pk}:"):
        services.settle_trade(**vars(trade))
    services.settle_trades(trades=list(trades(batched, f"{batched[0].pk}:")))
    for a, b in zip(one_by_one, batched, strict=True):
        assert [paper(a, c) for c in ("USD", "EUR")] == [paper(b, c) for c in ("USD", "EUR")]
    assert selectors.reconcile() == []


def test_without_ids_returned_from_inserts_the_journals_are_read_back_by_key(currencies,
                                                                             monkeypatch):
    alice, bob = trader(), trader()
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    journals = services.settle_trades(trades=[buy("t1", alice), sell("t2", bob)])
    assert [(j.pk, j.key) for j in journals] == list(
        Journal.objects.filter(key__in=["t1", "t2"]).order_by("key").values_list("pk", "key"))
    assert [e.journal.key for e in Entry.objects.filter(wallet__user=bob)
            .select_related("journal").order_by("pk")][-2:] == ["t2", "t2"]
    assert selectors.reconcile() == []
