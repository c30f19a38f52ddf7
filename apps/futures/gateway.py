"""The futures venue as the trading core sees it: a queued venue on the internal engine
(``apps.engine.gateway.EngineGateway``) whose fills move margin and PnL.

``margined``: its orders hold the contract's quote currency on either side, sized by
``order_hold`` (margin plus fee, ``services.orders.order_hold_amount``), and the
settlement hands it each order's fills (``settle_fills``: positions, not base for
quote). An order's leverage and reduce-only flag come as the core's venue options and are
recorded with its engine command (a conditional order's when it is placed: a position's
exits, ``services.exits``, triggered by the MARK).
"""
from collections.abc import Mapping, Sequence
from decimal import Decimal

from apps.engine.gateway import EngineGateway
from apps.futures.services import exits, insurance, orders
from apps.trading.constants import TriggerSource, Venue
from apps.trading.models import Fill, Market, Order


class FuturesGateway(EngineGateway):
    venue = Venue.FUTURES
    margined = True
    # Besides the engine's last trade and book, a contract's mark price (its exits').
    trigger_sources = frozenset({TriggerSource.LAST, TriggerSource.BID_ASK,
                                 TriggerSource.MARK})
    # A budget is not a margined order's term (its hold is margin at a leverage, sized
    # from an amount): a MARKET BUY by quote_amount is refused here.
    quote_budget = False

    def order_hold(self, *, order: Order, decimals: int,
                   options: Mapping[str, object]) -> Decimal:
        if options.get("closes"):  # the liquidation engine's close: its fee, never paid
            return insurance.close_hold(order=order, decimals=decimals)
        return orders.order_hold_amount(order=order, decimals=decimals, options=options)

    def enqueue(self, *, order: Order, market: Market, kind: str,
                options: Mapping[str, object] | None = None) -> None:
        if kind == "place" and order.triggered_at is not None:
            # A conditional order firing: its terms were recorded when it was placed; a
            # position's exit goes for the position's size now.
            if order.close_position:
                exits.exit_fire_size(order=order)
        elif kind == "place":
            orders.terms_record(order=order, options=options or {})
        super().enqueue(order=order, market=market, kind=kind, options=options)

    def settle_fills(self, *, order: Order, fills: Sequence[Fill], close_hold: bool) -> None:
        orders.fills_settle(order=order, fills=fills, close_hold=close_hold)
