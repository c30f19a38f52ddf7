"""Reconcile checks CLEARING: an engine venue's trades net to zero there per currency (its
two fills settle at one price in one transaction); FUTURES's CLEARING holds what the open
positions are owed and is left to the check the futures venue registers
(tests/futures/test_reconcile_clearing.py)."""
import pytest
from django.core.management import CommandError, call_command

from apps.wallets import selectors, services
from apps.wallets.constants import JournalKind, SystemAccount, WalletType
from apps.wallets.services import Leg
from tests.engine.helpers import CLEARING, D, drain, eco_market, place, runner, system_total, trader
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_engine_trade_settled_on_one_side_only_is_reported_per_currency(currencies, capsys):
    market = eco_market()
    seller, buyer = trader(), trader()
    r = runner(market)
    place(seller, side="SELL", price="10.00", amount="2")
    place(buyer, side="BUY", price="10.00", amount="2")
    assert drain(r) == 2
    assert system_total(CLEARING, "USDT") == 0 and system_total(CLEARING, "ABC") == 0
    assert selectors.reconcile() == []
    # One fill settled without its other side (a balanced journal: only CLEARING shows it).
    services.post(key="test:one-sided", kind=JournalKind.TRADE, legs=[
        Leg(WalletType.ECO, "USDT", D("-10"), user_id=buyer.pk),
        Leg(WalletType.ECO, "USDT", D("10"), system=SystemAccount.CLEARING),
        Leg(WalletType.ECO, "ABC", D("-1"), system=SystemAccount.CLEARING),
        Leg(WalletType.ECO, "ABC", D("1"), user_id=buyer.pk),
    ])
    problems = selectors.reconcile()
    assert len(problems) == 2
    assert any("system CLEARING ECO USDT): CLEARING is 10" in p for p in problems)
    assert any("system CLEARING ECO ABC): CLEARING is -1" in p for p in problems)
    with pytest.raises(CommandError, match="2 ledger invariant"):
        call_command("wallets_reconcile")
    assert "CLEARING is 10" in capsys.readouterr().err


def test_futures_clearing_is_left_to_the_registered_checks(currencies, monkeypatch, capsys):
    monkeypatch.setattr(selectors, "_reconcile_checks", {})  # the futures venue's apart
    # A realised profit paid from CLEARING while the loser's position stays open.
    user = UserFactory()
    services.post(key="test:pnl", kind=JournalKind.PNL, legs=[
        Leg(WalletType.FUTURES, "USDT", D("-5"), system=SystemAccount.CLEARING),
        Leg(WalletType.FUTURES, "USDT", D("5"), user_id=user.pk),
    ])
    assert selectors.reconcile() == []
    selectors.register_reconcile_check("venue", lambda: ["CLEARING is owed 5 more"])
    assert selectors.reconcile() == ["venue: CLEARING is owed 5 more"]
    with pytest.raises(CommandError, match="1 ledger invariant"):
        call_command("wallets_reconcile")
    assert "venue: CLEARING is owed 5 more" in capsys.readouterr().err
