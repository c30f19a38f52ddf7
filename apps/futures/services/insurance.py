"""The insurance fund's positions closed in the book by the liquidation engine.

A liquidation leaves the insurance fund a position (``Position`` without a user, no
margin: ``takeover.take_over``; or a reduce-only fill's part no trader may hold). The
liquidation engine closes it on the futures engine like any trader would, as its own bot
account (``accounts.services.bot_account_ensure``, ``LIQUIDATION_ENGINE_USERNAME``; its
trades are marked like the market maker's, so volume can leave them out):

- ``insurance_close`` (after every mark tick's liquidations, so also from the beat sweep):
  for each of the contract's open fund positions with no live close order, one LIMIT IOC
  order for its whole remaining size at the engine's protective price (the best opposite
  price moved by ENGINE_MARKET_PROTECTION: a market order with a bound), reduce-only,
  recorded as closing that position (``OrderTerms.closes``). Its client order id is
  ``liq-<position>-<n>``, n its close orders so far: two ticks placing at once place one
  order, and what an order did not fill (partial fill, a book gone thin) is a new order
  at the next tick or sweep. No liquidity, or a refusal: logged, tried again then.
- The close orders pay no trading fee (the liquidation fee is the engine's charge). Their
  hold (the fee at the market's higher rate, as any reduce-only order) comes from the
  engine's FUTURES wallet, which INSURANCE tops up by what it lacks before each order
  (``wallets.services.insurance_float``) and which gets it back when the order ends: the
  engine's FUTURES balance is part of the fund.
- ``close_fills_settle`` (the engine's settlement, through ``orders.fills_settle``): per
  fill, exactly once (an ``AppliedFill`` keyed by the fill's settlement key), the fund's
  position locked, the closed share of its entry value (pro rata, half-even; all of it on
  the last fill) against the fill's notional is the fund's realised PnL, paid from
  CLEARING to INSURANCE or back (``wallets.services.insurance_settle``): what the close
  earns beyond the price the fund took the position at goes to the fund, a loss beyond it
  is paid by it. With the liquidation's own journal (what the margin left beyond the loss
  at the mark), the fund ends with what the close earned beyond the trader's bankruptcy
  price. Each fill logged with its order, trade and PnL.
"""
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import structlog
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count

from apps.accounts import services as account_services
from apps.core.errors import Conflict, DomainError, NotFound
from apps.core.money import EXACT, ROUNDING
from apps.futures import margin
from apps.futures.constants import (
    LIQUIDATION_ENGINE_USERNAME,
    PositionSide,
    PositionStatus,
    sign,
)
from apps.futures.models import AppliedFill, Contract, OrderTerms, Position
from apps.trading import services as trading
from apps.trading.constants import FINAL_STATUSES, OrderType, Side, TimeInForce, Venue
from apps.trading.models import Fill, Order
from apps.trading.venues import gateway_for
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as ledger
from apps.wallets.constants import WalletType

log = structlog.get_logger(__name__)
ZERO = Decimal(0)


def engine_user_found() -> int | None:
    """The liquidation engine's bot account, if it was made (reads only)."""
    return get_user_model().objects.filter(username=LIQUIDATION_ENGINE_USERNAME) \
        .values_list("pk", flat=True).first()


def engine_user_id() -> int:
    """The liquidation engine's bot account (made on first use)."""
    found = engine_user_found()
    if found is not None:
        return found
    try:
        return account_services.bot_account_ensure(username=LIQUIDATION_ENGINE_USERNAME)
    except IntegrityError:  # a concurrent tick made it first
        return get_user_model().objects.filter(username=LIQUIDATION_ENGINE_USERNAME) \
            .values_list("pk", flat=True).get()


def close_hold(*, order: Order, decimals: int) -> Decimal:
    """What a close order holds: the fee of its notional at its price at the market's
    higher rate (what a reduce-only order holds; it pays none of it)."""
    return margin.fee(notional=EXACT.multiply(order.amount, order.price),
                      rate=max(order.maker_fee_rate, order.taker_fee_rate),
                      decimals=decimals)


def insurance_close(*, contract_id: int) -> list[Order]:
    """Put each open fund position of the contract without a live close order to the
    book (see the module docstring); returns the orders placed. Never raises for one
    position: what cannot be placed now is logged and left to the next tick or sweep.
    One query when the fund holds nothing there; with no opposite side in the book, two
    and a cache read per side."""
    positions = list(Position.objects.filter(contract_id=contract_id, user__isnull=True,
                                             status=PositionStatus.OPEN).order_by("pk"))
    if not positions:
        return []
    contract = Contract.objects.select_related("market").get(pk=contract_id)
    prices: dict[str, Decimal] = {}
    for side in {_closing_side(p) for p in positions}:
        try:
            prices[side] = gateway_for(Venue.FUTURES).reference_price(market=contract.market,
                                                                      side=side)
        except Conflict as exc:  # nothing to trade against: the next tick tries again
            log.warning("futures_insurance_close_waits", contract=contract_id, side=side,
                        positions=sum(_closing_side(p) == side for p in positions),
                        reason=str(exc))
    positions = [p for p in positions if _closing_side(p) in prices]
    if not positions:
        return []
    terms = OrderTerms.objects.filter(closes__in=positions)
    live = set(terms.exclude(order__status__in=FINAL_STATUSES)
               .values_list("closes_id", flat=True))
    tried = dict(terms.values_list("closes_id").annotate(n=Count("pk")))
    placed, user_id = [], engine_user_id()
    for position in positions:
        if position.pk in live:
            continue  # its order waits for the runner
        try:
            placed.append(_place(position, contract=contract, user_id=user_id,
                                 price=prices[_closing_side(position)],
                                 attempt=tried.get(position.pk, 0)))
        except DomainError as exc:
            log.warning("futures_insurance_close_not_placed", position=position.pk,
                        size=str(position.size), reason=str(exc))
    return placed


def _closing_side(position: Position) -> str:
    return Side.SELL if position.side == PositionSide.LONG else Side.BUY


def _place(position: Position, *, contract: Contract, user_id: int, price: Decimal,
           attempt: int) -> Order:
    market = contract.market
    side = _closing_side(position)
    decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
    need = margin.fee(notional=EXACT.multiply(position.size, price),
                      rate=max(market.maker_fee, market.taker_fee), decimals=decimals)
    client_order_id = f"liq-{position.pk}-{attempt}"
    with transaction.atomic():
        # Its row lock orders the placing after a concurrent deleveraging of the position
        # (``adl``), which skips a position with a live close order.
        if not Position.objects.select_for_update().filter(
                pk=position.pk, status=PositionStatus.OPEN, size=position.size).exists():
            raise Conflict("The position changed meanwhile (deleveraged).")
        try:
            available = wallet_selectors.wallet_get(
                user_id=user_id, wallet_type=WalletType.FUTURES,
                currency=market.quote_currency).available
        except NotFound:  # its first order
            available = ZERO
        if need > available:
            ledger.insurance_float(key=f"liquidation-float:{client_order_id}",
                                   user_id=user_id, currency=market.quote_currency,
                                   amount=need - available)
        order = trading.order_place(
            user_id=user_id, venue=Venue.FUTURES, symbol=market.symbol, side=side,
            type=OrderType.LIMIT, amount=position.size, price=price,
            time_in_force=TimeInForce.IOC, client_order_id=client_order_id,
            venue_options={"leverage": 1, "reduce_only": True, "closes": position.pk})
    log.info("futures_insurance_close_placed", position=position.pk, order=order.pk,
             side=side, size=str(position.size), price=str(price))
    return order


def close_fills_settle(*, order: Order, terms: OrderTerms, contract: Contract,
                       fills: Sequence[Fill], close_hold: bool, decimals: int) -> None:
    """Settle a close order's new ``fills`` into the fund position it closes, each exactly
    once (see the module docstring), and with ``close_hold`` release its hold. Runs in
    the engine's batch transaction, which holds the order row. Locks the fund's position
    row, then nothing else (CLEARING and INSURANCE are system accounts) but the engine's
    wallet and the order's hold at the end. Raises Conflict if a fill is larger than the
    position (never: one close order at a time, for the size at its placing)."""
    currency = contract.market.quote_currency
    for fill in fills:
        if AppliedFill.objects.filter(key=fill.settlement_key).exists():
            continue
        position = Position.objects.select_for_update().get(pk=terms.closes_id)
        if fill.amount > position.size:
            raise Conflict(f"A close fill of {fill.amount} exceeds the fund's position "
                           f"{position.pk} ({position.size}).")
        pnl = fund_fill_apply(position, key=fill.settlement_key, side=order.side,
                              amount=fill.amount, price=fill.price, filled_at=fill.executed_at,
                              currency=currency, decimals=decimals)
        order.fee -= fill.fee
        fill.fee = ZERO
        log.info("futures_insurance_close_fill", position=position.pk, order=order.pk,
                 fill=fill.settlement_key, amount=str(fill.amount), price=str(fill.price),
                 pnl=str(pnl), left=str(position.size))
    if close_hold and wallet_selectors.hold_remaining(key=order.hold_key) is not None:
        ledger.hold_release(key=order.hold_key)


def fund_fill_apply(position: Position, *, key: str, side: str, amount: Decimal,
                    price: Decimal, filled_at: datetime, currency: str,
                    decimals: int) -> Decimal:
    """Close ``amount`` (at most its size) of the locked fund ``position`` at ``price``,
    once per ``key`` (the caller checks it is unused; an ``AppliedFill`` records it): the
    closed share of its entry value (pro rata, half-even; all of it on the last part)
    against ``amount`` x ``price`` is the fund's realised PnL, paid from CLEARING to
    INSURANCE or back (``wallets.services.insurance_settle``, keyed ``<key>:insurance``).
    Saves the position; returns the PnL."""
    portion = position.value if amount == position.size else ROUNDING.divide(
        ROUNDING.multiply(position.value, amount), position.size).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN, context=ROUNDING)
    pnl = sign(position.side) * (EXACT.multiply(amount, price) - portion)
    if pnl:
        ledger.insurance_settle(key=f"{key}:insurance", currency=currency, amount=pnl,
                                position=f"futures:{position.pk}")
    position.size -= amount
    position.value -= portion
    position.realised_pnl += pnl
    if not position.size:
        position.status, position.value = PositionStatus.FLAT, ZERO
    position.save()
    AppliedFill.objects.create(
        key=key, position=position, side=side, amount=amount, price=price, fee_rate=ZERO,
        leverage=1, fee=ZERO, realised_pnl=pnl, filled_at=filled_at)
    return pnl
