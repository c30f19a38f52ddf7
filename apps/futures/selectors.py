"""Reads of the futures venue (no writes, no cache writes)."""
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.core.money import EXACT, decimal_text, exact_sums
from apps.futures import margin
from apps.futures.constants import MARK_VENUE, PositionSide, PositionStatus, sign
from apps.futures.models import Contract, FundingCharge, Liquidation, MarginTier, Position
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading.constants import TAKE_PROFIT_TYPES, MarketStatus, OrderStatus, Venue
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.constants import SystemAccount, WalletType

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def contract_get(*, symbol: str) -> Contract:
    """The contract of the futures market ``symbol`` (exact), enabled or halted (a halted
    market's positions still have a liquidation price and funding); NotFound otherwise
    (unknown, disabled, delisted)."""
    contract = (Contract.objects.select_related("market")
                .filter(market__venue=Venue.FUTURES, market__symbol=symbol,
                        market__status__in=[MarketStatus.ENABLED, MarketStatus.HALTED])
                .first())
    if contract is None or contract.market.symbol != symbol:
        raise NotFound(f"No futures contract {symbol!r}.")
    return contract


def contract_tiers(*, contract_id: int) -> list[margin.Tier]:
    """The contract's maintenance tiers, sorted by floor."""
    return [margin.Tier(floor=t.floor, cap=t.cap, max_leverage=t.max_leverage, mmr=t.mmr,
                        cum=t.maintenance_amount)
            for t in MarginTier.objects.filter(contract_id=contract_id).order_by("floor")]


def liquidation_candidates(*, contract_id: int, mark) -> list[int]:
    """The ids of the open positions of the contract whose stored liquidation price the
    mark reached (long: at or above the mark; short: at or below), by one range per side
    on the (contract, status, side, liquidation_price) index, sent as one UNION ALL (one
    round trip), in id order (the lock order)."""
    base = Position.objects.filter(contract_id=contract_id, status=PositionStatus.OPEN)
    longs = base.filter(side=PositionSide.LONG, liquidation_price__gte=mark)
    shorts = base.filter(side=PositionSide.SHORT, liquidation_price__lte=mark)
    return sorted(longs.values_list("pk", flat=True).union(
        shorts.values_list("pk", flat=True), all=True))


def positions_of(*, user_id: int) -> QuerySet[Position]:
    return (Position.objects.filter(user_id=user_id, status=PositionStatus.OPEN)
            .select_related("contract__market").order_by("pk"))


def position_of(*, user_id: int, position_id: int) -> Position:
    """The user's own position; NotFound for anyone else's."""
    position = Position.objects.filter(pk=position_id, user_id=user_id).first()
    if position is None:
        raise NotFound("No such position.")
    return position


def latest_mark(*, contract: Contract) -> Quote | None:
    """The last published mark of the contract (the quote bus's ``mark`` venue)."""
    return latest_quote(venue=MARK_VENUE, symbol=contract.market.symbol)


def funding_stamp(*, contract: Contract, now: datetime) -> datetime:
    """The latest funding stamp at or before ``now`` (multiples of the interval since the
    epoch, UTC)."""
    every = timedelta(hours=contract.funding_interval_hours)
    return _EPOCH + ((now - _EPOCH) // every) * every


def liquidations(*, contract_id: int) -> QuerySet[Liquidation]:
    return Liquidation.objects.filter(position__contract_id=contract_id).order_by("pk")


def exit_prices(*, market_id: int, user_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """The stop prices of the users' live position exits (``Order.close_position``,
    ``services.exits``) in the market: ``{user_id: {"take_profit_price": ...,
    "stop_loss_price": ...}}``, with what is set (one query on the orders' (market,
    status, ...) index)."""
    found: dict[int, dict[str, Decimal]] = {}
    rows = Order.objects.filter(market_id=market_id, status=OrderStatus.PENDING,
                                close_position=True, user_id__in=list(user_ids))
    for user_id, type, stop in rows.values_list("user_id", "type", "stop_price"):
        name = "take_profit_price" if type in TAKE_PROFIT_TYPES else "stop_loss_price"
        found.setdefault(user_id, {})[name] = stop
    return found


def adl_ranking(positions: Iterable[Position], *, price: Decimal, tiers: list[margin.Tier],
                eligible_at: Decimal | None = None) -> list[tuple[Position, Decimal]]:
    """The open ``positions`` (one side's) in profit at ``eligible_at`` (default
    ``price``), each with its ADL score at ``price`` (``margin.adl_score``), first in the
    deleveraging queue first: the higher score, then the older position (the lower
    id)."""
    at = price if eligible_at is None else eligible_at
    scored = [(p, margin.adl_score(side=p.side, size=p.size, value=p.value, margin=p.margin,
                                   price=price, tiers=tiers))
              for p in positions if p.size and margin.unrealised(
                  side=p.side, size=p.size, value=p.value, price=at) > 0]
    return sorted(scored, key=lambda item: (-item[1], item[0].pk))


def adl_quantiles(positions: Iterable[Position], *, mark: Decimal,
                  tiers: list[margin.Tier]) -> dict[int, int]:
    """``{position id: lights}`` for the open user ``positions`` of one contract: 1-5 by
    rank among the positions of its side in profit at ``mark`` (5: the first fifth of the
    ADL queue), 0 for one not in profit (not deleveraged before them)."""
    lights: dict[int, int] = {}
    for side in PositionSide.values:
        mine = [p for p in positions if p.side == side and p.user_id is not None
                and p.status == PositionStatus.OPEN]
        ranked = adl_ranking(mine, price=mark, tiers=tiers)
        lights.update({p.pk: 0 for p in mine})
        lights.update({p.pk: margin.adl_lights(rank, len(ranked))
                       for rank, (p, _) in enumerate(ranked, start=1)})
    return lights


def contract_adl_quantiles(*, contract_id: int, mark: Decimal) -> dict[int, int]:
    """``adl_quantiles`` of every open user position of the contract (one query, and the
    tiers')."""
    positions = Position.objects.filter(contract_id=contract_id, user__isnull=False,
                                        status=PositionStatus.OPEN).only(
        "pk", "user_id", "status", "side", "size", "value", "margin")
    return adl_quantiles(list(positions), mark=mark,
                         tiers=contract_tiers(contract_id=contract_id))


def position_data(position: Position, *, mark: Decimal | None,
                  exits: dict[str, Decimal] | None = None,
                  adl_quantile: int | None = None) -> dict[str, Any]:
    """One ``positions`` stream item (docs/STREAMING.md): the position, its unrealised
    PnL at ``mark`` (null without a mark or when flat), its ``exits``' stop prices and
    its ``adl_quantile`` (``adl_quantiles``; null where the caller did not rank it)."""
    exits = exits or {}
    unrealised = None
    if mark is not None and position.size:
        unrealised = margin.unrealised(side=position.side, size=position.size,
                                       value=position.value, price=mark)
    return {
        "id": position.pk, "symbol": position.contract.market.symbol,
        "status": position.status, "side": position.side,
        "size": decimal_text(position.size), "entry_price": decimal_text(position.entry_price),
        "leverage": position.leverage, "margin": decimal_text(position.margin),
        "mark_price": decimal_text(mark), "unrealised_pnl": decimal_text(unrealised),
        "realised_pnl": decimal_text(position.realised_pnl),
        "liquidation_price": decimal_text(position.liquidation_price),
        "take_profit_price": decimal_text(exits.get("take_profit_price")),
        "stop_loss_price": decimal_text(exits.get("stop_loss_price")),
        "adl_quantile": adl_quantile,
    }


def positions_data(*, user_id: int) -> list[dict[str, Any]]:
    """The user's open positions as ``positions`` stream items, each at its contract's
    latest mark with its ADL quantile there (a subscriber's snapshot)."""
    items = []
    positions = list(positions_of(user_id=user_id))
    quantiles = positions_adl_quantiles(positions=positions)
    for position in positions:
        mark = latest_mark(contract=position.contract)
        exits = exit_prices(market_id=position.contract.market_id, user_ids=[user_id])
        items.append(position_data(position, mark=None if mark is None else mark.price,
                                   exits=exits.get(user_id),
                                   adl_quantile=quantiles.get(position.pk)))
    return items


def positions_adl_quantiles(*, positions: Iterable[Position]) -> dict[int, int | None]:
    """``{position id: ADL lights}`` of ``positions`` (their contracts loaded), each
    ranked in its contract at the latest mark (``contract_adl_quantiles``; None without
    a mark)."""
    found: dict[int, int | None] = {}
    by_contract: dict[int, dict[int, int] | None] = {}
    for position in positions:
        if position.contract_id not in by_contract:
            mark = latest_mark(contract=position.contract)
            by_contract[position.contract_id] = None if mark is None else \
                contract_adl_quantiles(contract_id=position.contract_id, mark=mark.price)
        ranked = by_contract[position.contract_id]
        found[position.pk] = None if ranked is None else ranked.get(position.pk)
    return found



def open_interest() -> dict[str, dict[int, tuple[Decimal, Decimal]]]:
    """``{quote currency: {contract id: (net size, net value)}}`` of the open positions
    (the insurance fund's included): the longs' sums less the shorts'. The net size is 0
    when every fill had its counterparty. One aggregate query (by currency, contract and
    side), whatever the number of positions."""
    found: dict[str, dict[int, tuple[Decimal, Decimal]]] = {}
    rows = Position.objects.filter(status=PositionStatus.OPEN)
    sums = exact_sums(rows, by=["contract__market__quote_currency", "contract_id", "side"],
                       fields=["size", "value"])
    with localcontext(EXACT):
        for (currency, contract_id, side), (size, value) in sums.items():
            net_size, net_value = found.setdefault(currency, {}).get(
                contract_id, (Decimal(0), Decimal(0)))
            found[currency][contract_id] = (net_size + sign(side) * size,
                                            net_value + sign(side) * value)
    return found


def funding_collected() -> dict[str, Decimal]:
    """``{quote currency: Σ funding charges}``: paid less received, by every position at
    every stamp (CLEARING keeps it after the position closes). One aggregate query."""
    sums = exact_sums(FundingCharge.objects.all(),
                       by=["position__contract__market__quote_currency"], fields=["amount"])
    return {currency: amount for (currency,), (amount,) in sums.items()}


def _owed(interest: dict[int, tuple[Decimal, Decimal]], *, funding: Decimal,
          prices: Mapping[int, Decimal]) -> Decimal:
    with localcontext(EXACT):
        return funding + sum((net_size * prices.get(contract_id, Decimal(0)) - net_value
                              for contract_id, (net_size, net_value) in interest.items()),
                             Decimal(0))


def clearing_owed(*, currency: str, prices: Mapping[int, Decimal] | None = None) -> Decimal:
    """What FUTURES's CLEARING in ``currency`` must hold (docs/FUTURES.md "Money"): the
    open positions' unrealised PnL, each contract's at its price in ``prices`` (``{contract
    id: price}``; 0 where none is given: any price gives the same sum when every fill was
    matched), plus the funding collected. Two aggregate queries."""
    return _owed(open_interest().get(currency, {}),
                 funding=funding_collected().get(currency, Decimal(0)), prices=prices or {})


def clearing_problems() -> list[str]:
    """The FUTURES CLEARING identity per currency, one line per violation (empty when
    clean): a contract whose open longs and shorts differ in size (what they are owed then
    depends on the price: no CLEARING balance matches it at every price), and a currency
    whose CLEARING is not what its open positions are owed plus the funding collected
    (``clearing_owed``), with the difference. Read only: three queries and two per
    currency (its CLEARING balance), whatever the number of positions. Registered with
    ``wallets_reconcile`` (``apps.wallets.selectors.register_reconcile_check``)."""
    problems: list[str] = []
    interest = open_interest()
    funding = funding_collected()
    clearing = wallet_selectors.system_wallet_currencies(system=SystemAccount.CLEARING,
                                                         wallet_type=WalletType.FUTURES)
    for currency in sorted(set(clearing) | set(interest) | set(funding)):
        for contract_id, (net_size, _) in sorted(interest.get(currency, {}).items()):
            if net_size:
                problems.append(f"contract {contract_id}: open longs less shorts is "
                                f"{decimal_text(net_size)}, not 0 (a fill without its "
                                f"counterparty)")
        owed = _owed(interest.get(currency, {}), funding=funding.get(currency, Decimal(0)),
                     prices={})
        held = wallet_selectors.system_balance(system=SystemAccount.CLEARING,
                                               wallet_type=WalletType.FUTURES,
                                               currency=currency)
        if held != owed:
            with localcontext(EXACT):
                difference = held - owed
            problems.append(f"FUTURES {currency}: CLEARING is {decimal_text(held)}, the "
                            f"open positions are owed {decimal_text(owed)} with the funding "
                            f"collected (difference {decimal_text(difference)})")
    return problems
