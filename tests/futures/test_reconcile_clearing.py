"""`wallets_reconcile` checks FUTURES's CLEARING identity (docs/FUTURES.md "Money"): per
currency CLEARING holds what the open positions are owed plus the funding collected, and
every contract's open longs and shorts are the same size (futures.selectors
``clearing_problems``, registered from the venue's AppConfig)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from apps.core.money import decimal_text
from apps.futures import selectors, services
from apps.futures.models import AutoDeleverage, FundingCharge, Liquidation, Position
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import JournalKind, SystemAccount, WalletType
from tests.factories import ContractFactory
from tests.futures.helpers import clearing_owed, fill_pair, futures_trader, system
from tests.futures.test_adl import queue_setup, tick
from tests.futures.test_services import T0, tick_at

pytestmark = pytest.mark.django_db
D = Decimal


def test_open_partial_close_liquidation_and_adl_reconcile_clean(currencies, capsys):
    contract, (a, b, c, d, e) = queue_setup()
    # A partial close on both sides at a profit for one, a loss for the other: realised
    # PnL through CLEARING, the rest of both positions still owed there.
    fill_pair(contract, buyer=b, seller=e, amount="0.1", price="61000", key="close")
    assert Position.objects.get(user=b).size == D("0.2")
    assert Position.objects.get(user=e).size == D("0.4")
    assert wallet_selectors.reconcile() == []
    tick(contract, "60000")
    tick(contract, "54200")  # A liquidated: the fund holds its position, open
    inherited = Position.objects.get(taken_over_from=Liquidation.objects.get())
    assert inherited.status == "OPEN" and system(SystemAccount.CLEARING) != 0
    assert selectors.clearing_problems() == []
    assert wallet_selectors.reconcile() == []
    contract.adl_after_seconds = 0
    contract.save()
    tick(contract, "54300")  # the book never closed it: deleveraged
    assert AutoDeleverage.objects.exists()
    assert Position.objects.get(pk=inherited.pk).status == "FLAT"
    assert wallet_selectors.reconcile() == []
    call_command("wallets_reconcile")
    assert "no violations" in capsys.readouterr().out


def test_funding_collected_stays_in_clearing_and_reconciles_clean(currencies):
    contract = ContractFactory()
    alice, bob = futures_trader(), futures_trader()
    # Sized so that the charges have more places than USDT: the payment is rounded up,
    # the receipt down, and CLEARING keeps the difference.
    fill_pair(contract, buyer=alice, seller=bob, amount="0.333", price="60000", key="t1",
              now=T0)
    tick_at(contract, "60000.37", T0 + timedelta(minutes=30))
    (charged,) = services.funding_run(contract_id=contract.pk,
                                      now=T0 + timedelta(hours=1, seconds=5))
    assert FundingCharge.objects.filter(funding=charged).count() == 2
    # Both close: nothing is open, CLEARING keeps what the charges netted.
    fill_pair(contract, buyer=bob, seller=alice, amount="0.333", price="60500", key="t2",
              now=T0 + timedelta(hours=2))
    assert not Position.objects.filter(status="OPEN").exists()
    collected = sum(FundingCharge.objects.values_list("amount", flat=True))
    assert collected > 0
    assert system(SystemAccount.CLEARING) == collected
    assert clearing_owed(contract, "1") == collected
    assert wallet_selectors.reconcile() == []


@pytest.fixture
def traded(currencies):
    """Two traders' open positions, long and short 0.5 at 60,000, and a partial close at
    61,000: CLEARING owes the rest."""
    contract = ContractFactory()
    alice, bob = futures_trader(), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="0.5", price="60000", key="t1")
    fill_pair(contract, buyer=bob, seller=alice, amount="0.2", price="61000", key="t2")
    assert wallet_selectors.reconcile() == []
    return contract, alice, bob


def test_a_clearing_journal_nobody_owes_is_reported_with_the_difference(traded, capsys):
    contract, alice, _ = traded
    owed = clearing_owed(contract, "60000")
    # Balanced, so the ledger's own checks pass: only the positions show it is wrong.
    ledger.post(key="test:clearing", kind=JournalKind.PNL, legs=[
        ledger.Leg(WalletType.FUTURES, "USDT", D("-7.5"), system=SystemAccount.CLEARING),
        ledger.Leg(WalletType.FUTURES, "USDT", D("7.5"), user_id=alice.pk),
    ])
    assert wallet_selectors.reconcile() == [
        f"futures clearing: FUTURES USDT: CLEARING is {decimal_text(owed - D('7.5'))}, the "
        f"open positions are owed {decimal_text(owed)} with the funding collected "
        f"(difference -7.5)"]
    with pytest.raises(CommandError, match="1 ledger invariant"):
        call_command("wallets_reconcile")
    assert "(difference -7.5)" in capsys.readouterr().err


def test_a_position_size_changed_behind_the_ledger_is_reported(traded, capsys):
    contract, alice, _ = traded
    Position.objects.filter(user=alice).update(size=F("size") + D("0.1"))
    problems = wallet_selectors.reconcile()
    assert problems == [f"futures clearing: contract {contract.pk}: open longs less shorts "
                        f"is 0.1, not 0 (a fill without its counterparty)"]
    # What the positions are owed now depends on the price: at no price is it CLEARING's.
    assert clearing_owed(contract, "60000") != clearing_owed(contract, "61000")
    with pytest.raises(CommandError, match="1 ledger invariant"):
        call_command("wallets_reconcile")
    assert "open longs less shorts is 0.1" in capsys.readouterr().err
