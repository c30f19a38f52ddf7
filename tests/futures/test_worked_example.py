"""The reference's worked example (docs/FUTURES.md "Worked example"), every number of the
page's block checked against what the services did."""
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from apps.futures import margin, selectors, services
from apps.futures.models import AutoDeleverage, FundingCharge, Liquidation, Position
from apps.wallets import selectors as wallet_selectors
from apps.wallets.constants import SystemAccount
from tests.factories import ContractFactory
from tests.futures.helpers import (
    clearing_owed,
    fill_pair,
    futures_trader,
    index_quote,
    system,
    wallet,
)

pytestmark = pytest.mark.django_db
D = Decimal
DOC = Path(__file__).resolve().parents[2] / "docs" / "FUTURES.md"
T0 = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)


def documented() -> dict[str, Decimal]:
    block = re.search(r"```worked-example\n(.*?)```", DOC.read_text(), re.S).group(1)
    return {name: D(value) for name, value in re.findall(r"^(\S+) = (\S+)$", block, re.M)}


def shown(price: Decimal) -> Decimal:
    return price.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def run_example(final_mark: str):
    """Steps 1-5 of the example with the last mark ``final_mark``; returns what each
    step's numbers are, named as in the page."""
    contract = ContractFactory(contract_size=D("0.001"), liquidation_fee_rate=D("0.003"))
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    trader, other = futures_trader("10000"), futures_trader("100000")
    seen: dict[str, Decimal] = {}

    # 1. Long 1 BTC @ 60,000, 10x.
    fill_pair(contract, buyer=trader, seller=other, amount="1", price="60000", key="t1",
              now=T0)
    pos = Position.objects.get(user=trader)
    seen.update({"1.initial_margin": pos.margin, "1.fee": pos.fees,
                 "1.maintenance": margin.maintenance(tiers, pos.value),
                 "1.liquidation_price": shown(pos.liquidation_price),
                 "1.bankruptcy_price": shown(pos.bankruptcy_price)})
    seen["1.balance"], seen["1.held"] = wallet(trader)

    # 2. The mark at 62,000 (a tick of the interval the 08:00 stamp ends: its mark).
    index_quote("62000", now=T0 + timedelta(minutes=30))
    services.mark_refresh(contract=contract, now=T0 + timedelta(minutes=30))
    args = dict(side=pos.side, size=pos.size, value=pos.value)
    seen["2.unrealised_pnl"] = margin.unrealised(**args, price=D(62000))
    seen["2.margin_balance"] = margin.margin_balance(**args, margin=pos.margin,
                                                     price=D(62000))
    seen["2.maintenance"] = margin.maintenance(tiers, D(62000))
    seen["2.margin_ratio"] = seen["2.maintenance"] / seen["2.margin_balance"]
    seen["2.roe"] = (seen["2.unrealised_pnl"] / pos.margin).quantize(D("0.0001"))

    # 3. Funding at the 08:00 stamp, at its interval's mark 62,000 (no premium).
    at = T0 + timedelta(hours=1, seconds=5)
    index_quote("62000", now=at)
    (funding,) = services.funding_run(contract_id=contract.pk, now=at)
    pos.refresh_from_db()
    seen["3.rate"] = funding.rate
    seen["3.funding"] = FundingCharge.objects.get(position=pos).amount
    seen["3.margin"] = pos.margin
    seen["3.liquidation_price"] = shown(pos.liquidation_price)
    seen["3.balance"] = wallet(trader)[0]

    # 4. Reduce: sell 0.5 @ 62,000 (the counterparty buys its short back).
    sold, _ = fill_pair(contract, buyer=other, seller=trader, amount="0.5", price="62000",
                        key="t2", now=at)
    sold = next(f for f in (sold, _) if f.position.user_id == trader.pk)
    pos.refresh_from_db()
    seen.update({"4.realised_pnl": sold.realised_pnl, "4.fee": sold.fee,
                 "4.margin": pos.margin,
                 "4.maintenance_rate": margin.tier_for(tiers, D("31000")).mmr,
                 "4.liquidation_price": shown(pos.liquidation_price),
                 "4.bankruptcy_price": shown(pos.bankruptcy_price)})
    seen["4.balance"], seen["4.held"] = wallet(trader)
    assert clearing_owed(contract, "61000") == system(SystemAccount.CLEARING)

    # 5. The mark at ``final_mark``: liquidated.
    insurance_before = system(SystemAccount.INSURANCE)
    mark = D(final_mark)
    seen["5.margin_balance"] = margin.margin_balance(
        side=pos.side, size=pos.size, value=pos.value, margin=pos.margin, price=mark)
    seen["5.maintenance"] = margin.maintenance(tiers, pos.size * mark)
    index_quote(final_mark, now=at + timedelta(seconds=1))
    tick = services.mark_refresh(contract=contract, now=at + timedelta(seconds=1))
    assert tick.mark == mark
    liquidation = Liquidation.objects.get(position=pos)
    seen["5.loss"] = liquidation.loss
    seen["5.liquidation_fee"] = liquidation.fee
    seen["5.insurance_delta"] = system(SystemAccount.INSURANCE) - insurance_before
    assert liquidation.insurance_delta == seen["5.insurance_delta"]
    inherited = Position.objects.filter(taken_over_from=liquidation).first()
    if inherited is not None:
        seen["5.insurance_after_book_close_at_54150"] = seen["5.insurance_delta"] + \
            margin.unrealised(side=inherited.side, size=inherited.size,
                              value=inherited.value, price=D(54150))
    for adl in AutoDeleverage.objects.filter(liquidation=liquidation):
        assert adl.counterparty.user == other
        seen["5.adl_price"], seen["5.adl_size"] = adl.price, adl.size
        seen["5.adl_counterparty_pnl"] = adl.realised_pnl
    seen["5.balance"], seen["5.held"] = wallet(trader)
    assert liquidation.evidence["sources"][0]["price"] == final_mark
    assert D(liquidation.evidence["mark"]) == mark
    assert clearing_owed(contract, "50000") == system(SystemAccount.CLEARING)
    assert wallet_selectors.reconcile() == []
    return seen


def test_the_worked_example_matches_the_page_number_by_number(currencies):
    expected = {k: v for k, v in documented().items() if not k.startswith("5g.")}
    assert len(expected) == 33
    seen = run_example("54200")
    assert {name: seen[name] for name in expected} == expected


def test_a_gap_past_the_bankruptcy_price_with_an_empty_fund_is_deleveraged(currencies):
    expected = {k[:1] + k[2:]: v for k, v in documented().items() if k.startswith("5g.")}
    seen = run_example("53900")
    assert {name: seen[name] for name in expected} == expected
