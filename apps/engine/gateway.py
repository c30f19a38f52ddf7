"""The trading core's view of a venue on the internal engine: ``EngineGateway``, the
queued ``VenueGateway`` every engine venue (ecosystem, futures) builds on.

Its orders stay NEW in the core until the market's runner applies their command; the
runner settles what the book did (fills against other users, through the CLEARING
account). A MARKET order is held and sent at a protective limit (``reference_price``).
A venue sets ``venue`` and what differs (its trigger sources, its hold, its settlement).
"""
from collections.abc import Mapping
from decimal import Decimal

from apps.core import conf
from apps.core.errors import Conflict
from apps.engine import books
from apps.engine.services import command_enqueue
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading.constants import Side, TriggerSource
from apps.trading.models import Market, Order
from apps.trading.venues import Submission
from apps.wallets.constants import SystemAccount


class EngineGateway:
    venue: str
    synchronous = False
    queued = True
    counterparty = SystemAccount.CLEARING
    # A MARKET BUY by quote budget: the book spends it level by level (books.py).
    quote_budget = True
    # Conditional orders wait PENDING in the core and the platform triggers them on the
    # engine's quotes (the last trade; the book's bid/ask): none are the engine's own.
    conditional_types: frozenset[str] = frozenset()
    trigger_sources: frozenset[str] = frozenset({TriggerSource.LAST, TriggerSource.BID_ASK})

    def reference_price(self, *, market: Market, side: str) -> Decimal:
        """The best opposite price the engine last published, moved by
        ENGINE_MARKET_PROTECTION against the taker. Raises Conflict (no_liquidity) when
        that side of the book is empty."""
        quote = latest_quote(venue=self.venue, symbol=market.symbol)
        best = None if quote is None else (quote.ask if side == Side.BUY else quote.bid)
        price = books.protective_price(best=best, side=side, tick=market.tick_size,
                                       band=Decimal(conf.ENGINE_MARKET_PROTECTION))
        if price is None:
            raise Conflict(f"No {'asks' if side == Side.BUY else 'bids'} in "
                           f"{market.symbol} to trade against.", code="no_liquidity")
        return price

    def trigger_quote(self, *, market: Market) -> Quote:
        """The engine's latest quote of ``market`` (the book's state after its last
        batch: it does not go stale while nothing trades). Raises Conflict (no_price)
        before the market's first order."""
        quote = latest_quote(venue=self.venue, symbol=market.symbol)
        if quote is None:
            raise Conflict(f"{market.symbol} has no price yet.", code="no_price")
        return quote

    def before_place(self, *, user_id: int) -> None:
        return None

    def enqueue(self, *, order: Order, market: Market, kind: str,
                options: Mapping[str, object] | None = None) -> None:
        command_enqueue(order=order, market=market, kind=kind, options=options)

    # A queued venue is never sent an order nor asked after one: the engine's runner
    # settles what its book did. Reconciliation has nothing to ask.
    def submit(self, *, order: Order, market: Market) -> Submission:
        raise Conflict(f"The engine takes {self.venue} orders as commands.",
                       code="queued_venue")

    def cancel(self, *, order: Order, market: Market) -> Submission:
        raise Conflict(f"The engine takes {self.venue} cancels as commands.",
                       code="queued_venue")

    def fetch(self, *, order: Order, market: Market) -> Submission:
        return Submission(status=order.status)
