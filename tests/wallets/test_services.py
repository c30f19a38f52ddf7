from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from apps.core.errors import Conflict, InvalidInput
from apps.wallets import selectors, services
from apps.wallets.constants import JournalKind, SystemAccount
from apps.wallets.models import Hold, Journal, Wallet
from apps.wallets.services import InsufficientFunds, TradeParty
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def wallet(user, wallet_type="SPOT", currency="USDT"):
    return Wallet.objects.get(user=user, type=wallet_type, currency_id=currency)


def fund(user, amount="1000", wallet_type="SPOT", currency="USDT"):
    services.deposit(user_id=user.pk, wallet_type=wallet_type, currency=currency,
                     amount=D(amount), key=f"fund:{user.pk}:{wallet_type}:{currency}:{amount}")


def test_deposit_credits_user_and_debits_external(user, currencies):
    journal = services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                               amount=D("12.5"), key="d1")
    assert wallet(user).balance == D("12.5")
    assert selectors.system_balance(system=SystemAccount.EXTERNAL, wallet_type="SPOT",
                                    currency="USDT") == D("-12.5")
    assert sorted(e.amount for e in journal.entries.all()) == [D("-12.5"), D("12.5")]
    assert selectors.reconcile() == []


def test_deposit_replay_writes_once(user, currencies):
    first = services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                             amount=D("5"), key="same")
    again = services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                             amount=D("5"), key="same")
    assert first.pk == again.pk
    assert wallet(user).balance == D("5")


def _replay(user, other, kind):
    """A post reusing the key "same" of a 5 USDT SPOT deposit to ``user`` with other content."""
    if kind == "amount":
        return services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                amount=D("6"), key="same")
    if kind == "user":
        return services.deposit(user_id=other.pk, wallet_type="SPOT", currency="USDT",
                                amount=D("5"), key="same")
    if kind == "currency":
        return services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD",
                                amount=D("5"), key="same")
    if kind == "wallet_type":
        return services.deposit(user_id=user.pk, wallet_type="FUTURES", currency="USDT",
                                amount=D("5"), key="same")
    if kind == "adjustment":
        return services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                     amount=D("5"), reason="r", admin_id=other.pk, key="same")
    if kind == "journal_kind":  # the very same legs, posted as another kind of journal
        return services.post(key="same", kind=JournalKind.ADJUSTMENT, legs=[
            services.Leg("SPOT", "USDT", D("-5"), system=SystemAccount.EXTERNAL),
            services.Leg("SPOT", "USDT", D("5"), user_id=user.pk)])
    return services.withdraw(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                             amount=D("5"), key="same")


@pytest.mark.parametrize("kind", ["amount", "user", "currency", "wallet_type", "adjustment",
                                  "journal_kind", "withdrawal"])
def test_replay_with_other_content_is_a_logged_conflict(user, currencies, kind):
    other = UserFactory()
    first = services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                             amount=D("5"), key="same")
    wallets = sorted(Wallet.objects.values_list("pk", "balance", "held"))
    with capture_logs() as logs, pytest.raises(Conflict) as raised:
        _replay(user, other, kind)
    assert raised.value.code == "idempotency_conflict"
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["journal_replay_conflict"]
    assert list(Journal.objects.values_list("pk", flat=True)) == [first.pk]
    assert sorted(Wallet.objects.values_list("pk", "balance", "held")) == wallets
    assert selectors.reconcile() == []


def test_identical_replay_returns_the_first_journal_silently(user, currencies):
    first = services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                  amount=D("5"), reason="r", admin_id=user.pk, key="k")
    with capture_logs() as logs:
        again = services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                      amount=D("5.000"), reason="r", admin_id=user.pk, key="k")
    assert again.pk == first.pk and logs == []
    assert wallet(user).balance == D("5")


@pytest.mark.parametrize("amount", [D("0"), D("-1"), D("0.001"), D("NaN"), D("Infinity")])
def test_bad_amounts_change_nothing(user, currencies, amount):
    with pytest.raises(InvalidInput):
        services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD", amount=amount,
                         key="bad")
    assert not Journal.objects.exists()
    assert not Wallet.objects.exists()


def test_unknown_currency_and_type_rejected(user, currencies):
    with pytest.raises(InvalidInput, match="Unknown currency"):
        services.deposit(user_id=user.pk, wallet_type="SPOT", currency="XXX", amount=D(1),
                         key="k")
    with pytest.raises(InvalidInput, match="Unknown wallet type"):
        services.deposit(user_id=user.pk, wallet_type="MARGIN", currency="USD", amount=D(1),
                         key="k")


def test_withdraw_cannot_spend_held_funds(user, currencies):
    fund(user, "100")
    services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USDT", amount=D("60"),
                         key="h")
    with pytest.raises(InsufficientFunds):
        services.withdraw(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                          amount=D("41"), key="w")
    services.withdraw(user_id=user.pk, wallet_type="SPOT", currency="USDT", amount=D("40"),
                      key="w2")
    w = wallet(user)
    assert (w.balance, w.held, w.available) == (D("60"), D("60"), D("0"))
    assert selectors.reconcile() == []


def test_transfer_between_types_and_never_paper(user, currencies):
    fund(user, "100")
    services.transfer(user_id=user.pk, currency="USDT", amount=D("30"), from_type="SPOT",
                      to_type="FUTURES", key="t1")
    assert wallet(user).balance == D("70")
    assert wallet(user, "FUTURES").balance == D("30")
    with pytest.raises(InvalidInput, match="Paper"):
        services.transfer(user_id=user.pk, currency="USDT", amount=D("1"), from_type="SPOT",
                          to_type="PAPER", key="t2")
    # The message names what the wallet has, not what it would have after the refused move
    # (a user with 0 read "available -1").
    with pytest.raises(InsufficientFunds, match=r"FUTURES wallet \(available 30\)"):
        services.transfer(user_id=user.pk, currency="USDT", amount=D("31"),
                          from_type="FUTURES", to_type="ECO", key="t3")
    assert selectors.reconcile() == []


def test_paper_is_funded_only_by_faucet(user, currencies):
    with pytest.raises(InvalidInput):
        services.deposit(user_id=user.pk, wallet_type="PAPER", currency="USD", amount=D(1),
                         key="p")
    services.grant_paper_funds(user_id=user.pk, currency="USD", amount=D("100000"), key="g")
    services.grant_paper_funds(user_id=user.pk, currency="USD", amount=D("100000"), key="g")
    assert wallet(user, "PAPER", "USD").balance == D("100000")
    with pytest.raises(InvalidInput):
        services.withdraw(user_id=user.pk, wallet_type="PAPER", currency="USD", amount=D(1),
                          key="pw")


def test_hold_and_release(user, currencies):
    fund(user, "100")
    hold = services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                amount=D("25"), key="h")
    assert services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                amount=D("25"), key="h").pk == hold.pk
    with capture_logs() as logs, pytest.raises(Conflict) as other_hold:
        services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                             amount=D("26"), key="h")
    assert other_hold.value.code == "idempotency_conflict"
    assert [e["event"] for e in logs] == ["hold_replay_conflict"]
    assert wallet(user).held == D("25")
    services.hold_release(key="h", amount=D("5"))
    assert wallet(user).held == D("20")
    with pytest.raises(Conflict):
        services.hold_release(key="h", amount=D("21"))
    released = services.hold_release(key="h")
    assert released.status == Hold.Status.CLOSED and released.remaining == 0
    services.hold_release(key="h")  # releasing everything again is a no-op
    assert wallet(user).held == 0
    assert selectors.reconcile() == []


def test_settle_trade_moves_both_legs_and_fees(currencies):
    buyer, seller = UserFactory(), UserFactory()
    fund(buyer, "1000")
    fund(seller, "2", currency="BTC")
    services.hold_create(user_id=buyer.pk, wallet_type="SPOT", currency="USDT",
                         amount=D("501"), key="bh")
    services.hold_create(user_id=seller.pk, wallet_type="SPOT", currency="BTC",
                         amount=D("1"), key="sh")
    kwargs = dict(key="trade:1", wallet_type="SPOT", base="BTC", quote="USDT",
                  quantity=D("0.5"), quote_amount=D("500"),
                  buyer=TradeParty(user_id=buyer.pk, hold_key="bh", fee=D("1")),
                  seller=TradeParty(user_id=seller.pk, hold_key="sh", fee=D("0.5")))
    services.settle_trade(**kwargs)
    services.settle_trade(**kwargs)  # a retried settlement settles once
    with pytest.raises(Conflict) as other_fill:  # the trade id names one trade only
        services.settle_trade(**{**kwargs, "quantity": D("0.4")})
    assert other_fill.value.code == "idempotency_conflict"
    assert wallet(buyer).balance == D("499") and wallet(buyer).held == 0
    assert wallet(buyer, currency="BTC").balance == D("0.5")
    assert wallet(seller).balance == D("499.5")
    assert wallet(seller, currency="BTC").balance == D("1.5")
    assert wallet(seller, currency="BTC").held == D("0.5")
    assert selectors.system_balance(system=SystemAccount.FEES, wallet_type="SPOT",
                                    currency="USDT") == D("1.5")
    assert selectors.reconcile() == []


def test_settle_beyond_hold_fails_whole(currencies):
    buyer = UserFactory()
    fund(buyer, "1000")
    services.hold_create(user_id=buyer.pk, wallet_type="SPOT",
                         currency="USDT", amount=D("10"), key="bh")
    with pytest.raises(Conflict, match="cannot pay"):
        services.settle_trade(key="t", wallet_type="SPOT", base="BTC", quote="USDT",
                              quantity=D("1"), quote_amount=D("11"),
                              buyer=TradeParty(user_id=buyer.pk, hold_key="bh"),
                              seller=TradeParty(system=SystemAccount.EXCHANGE_OMNIBUS))
    assert not Journal.objects.filter(key="t").exists()
    assert wallet(buyer).held == D("10")


def test_paper_trade_against_paper_market_only(user, currencies):
    services.grant_paper_funds(user_id=user.pk, currency="USD", amount=D("1000"), key="g")
    services.hold_create(user_id=user.pk, wallet_type="PAPER", currency="USD", amount=D("110"),
                         key="ph")
    with pytest.raises(InvalidInput, match="PAPER"):
        services.settle_trade(key="x", wallet_type="SPOT", base="EUR", quote="USD",
                              quantity=D("1"), quote_amount=D("1"),
                              buyer=TradeParty(user_id=user.pk),
                              seller=TradeParty(system=SystemAccount.PAPER_MARKET))
    services.settle_trade(key="p1", wallet_type="PAPER", base="EUR", quote="USD",
                          quantity=D("100"), quote_amount=D("109.50"),
                          buyer=TradeParty(user_id=user.pk, hold_key="ph", fee=D("0.11")),
                          seller=TradeParty(system=SystemAccount.PAPER_MARKET))
    assert wallet(user, "PAPER", "EUR").balance == D("100")
    assert wallet(user, "PAPER", "USD").balance == D("890.39")
    assert wallet(user, "PAPER", "USD").held == D("0.39")
    assert selectors.reconcile() == []


def test_admin_adjust_and_reverse(user, currencies):
    admin = UserFactory(is_staff=True, is_superuser=True)
    fund(user, "10")
    with pytest.raises(InvalidInput, match="reason"):
        services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                              amount=D("5"), reason=" ", admin_id=admin.pk, key="a0")
    journal = services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                                    amount=D("-4"), reason="duplicate credit", admin_id=admin.pk,
                                    key="a1")
    assert wallet(user).balance == D("6") and journal.memo == "duplicate credit"
    with pytest.raises(InsufficientFunds):
        services.admin_adjust(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                              amount=D("-7"), reason="too much", admin_id=admin.pk, key="a2")
    reversal = services.reverse_journal(journal_id=journal.pk, reason="mistake",
                                        admin_id=admin.pk)
    assert reversal.reverses_id == journal.pk
    assert wallet(user).balance == D("10")
    with pytest.raises(Conflict, match="already reversed"):
        services.reverse_journal(journal_id=journal.pk, reason="again", admin_id=admin.pk)
    assert selectors.reconcile() == []


@pytest.mark.mariadb  # SQLite stores decimals as 8-byte floats
def test_balances_keep_all_36_digits(user, currencies):
    big = D("123456789012345678.123456789012345678")
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="ETH", amount=big, key="b1")
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="ETH",
                     amount=D("0.000000000000000001"), key="b2")
    assert wallet(user, currency="ETH").balance == D("123456789012345678.123456789012345679")


@pytest.mark.mariadb  # SQLite checks foreign keys only at commit
def test_an_unknown_user_is_refused_before_anything_is_written(currencies):
    with pytest.raises(InvalidInput) as raised:
        services.deposit(user_id=10**12, wallet_type="SPOT", currency="USDT", amount=D("1"),
                         key="nobody")
    assert raised.value.code == "unknown_owner"
    assert not Journal.objects.exists() and not Wallet.objects.exists()
