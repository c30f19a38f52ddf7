"""The demo market maker: a bot account that keeps a few post-only levels on each side of
an ecosystem market around a reference price, so a newcomer sees a live book.

It is a client of the trading core like any trader: it places and cancels through
``trading.services.order_place`` / ``order_cancel`` (holds, the engine's commands, fees and
settlement as for anyone), its money comes in through the ledger's deposit path
(``wallets.services.deposit``, once per account and currency), and its account is tagged
as a bot (``accounts.services.bot_account_ensure``), so the engine marks its trades
(``TradeRecord.bot``) and volume can leave them out.

Contract:
- ``refresh`` moves the reference by a seeded random walk (whole ticks), then makes the
  bot's live orders match the wanted levels: an order at a wanted (side, price) stays
  (it keeps its queue position), each missing level is placed, then every other order is
  cancelled (placed first, so the book never stands empty; for a moment that holds the
  funds of both, and a level it cannot fund waits for a later round). A cancel is a
  command the engine applies later, so an order asked to cancel is not asked again while
  it is still live. The walk must stay under twice the spread (``Quoting`` checks), so
  that a new level never crosses an old one of the other side.
- Orders are post-only LIMIT GTC: the bot never takes liquidity. A level that another
  trader's order crosses (by the engine's last quote) is left out; one the book moved
  through since is refused by the engine rather than traded.
- A level the bot cannot fund (InsufficientFunds) or that the venue refuses (Conflict,
  InvalidInput) is skipped and logged; ``refresh`` never raises for one level.
- Run it from one thread or process per market (``run_marketmaker``, or the web process's
  thread in ``make run``): two would each cancel the other's orders as unwanted.
"""
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

import structlog
from django.db import close_old_connections

from apps.accounts import services as account_services
from apps.core import conf
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.marketdata import streams
from apps.marketdata.selectors import latest_quote
from apps.trading import selectors as trading_selectors
from apps.trading import services as trading_services
from apps.trading.constants import (
    LIVE_STATUSES,
    VENUE_WALLET_TYPE,
    MarketStatus,
    OrderType,
    Side,
    TimeInForce,
    Venue,
)
from apps.trading.models import Market
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)

VENUE: Final = Venue.ECOSYSTEM


@dataclass(frozen=True)
class Quoting:
    """How the bot quotes: ``levels`` per side, the first ``spread_ticks`` away from the
    reference, each next one ``step_ticks`` further, ``amount`` each; the reference moves
    by up to ``walk_ticks`` per refresh."""

    levels: int = 3
    spread_ticks: int = 5
    step_ticks: int = 5
    amount: Decimal = Decimal("1")
    walk_ticks: int = 3

    def __post_init__(self) -> None:
        for name in ("levels", "spread_ticks", "step_ticks"):
            if type(getattr(self, name)) is not int or getattr(self, name) <= 0:  # noqa: E721
                raise InvalidInput(f"{name} must be a positive integer.")
        if type(self.walk_ticks) is not int or self.walk_ticks < 0:  # noqa: E721
            raise InvalidInput("walk_ticks must be an integer, zero or more.")
        if self.walk_ticks >= 2 * self.spread_ticks:
            raise InvalidInput("walk_ticks must stay under twice spread_ticks.")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise InvalidInput("amount must be a positive amount.")


def wanted_levels(*, reference_ticks: int, quoting: Quoting) -> list[tuple[str, int]]:
    """The (side, price in ticks) the bot wants around ``reference_ticks``: bids below,
    asks above, nearest first; bids that would be at or below zero are left out."""
    offsets = [quoting.spread_ticks + i * quoting.step_ticks for i in range(quoting.levels)]
    bids = [(Side.BUY, reference_ticks - o) for o in offsets if reference_ticks - o > 0]
    return bids + [(Side.SELL, reference_ticks + o) for o in offsets]


@dataclass
class MarketMaker:
    """One bot on one market (see the module docstring): an ecosystem market, or a
    futures contract, whose orders carry ``venue_options`` (the leverage) and whose
    reference is the latest quote of ``reference_venue`` (the mark) rather than of the
    market's own venue."""

    user_id: int
    market: Market
    reference: Decimal
    quoting: Quoting = field(default_factory=Quoting)
    seed: int = 0
    venue_options: Mapping[str, object] | None = None
    reference_venue: str | None = None
    _cancelling: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        # A demo's price path, reproducible by its seed: nothing secret depends on it.
        self._random = random.Random(self.seed)  # noqa: S311
        self._reference_ticks = self._to_ticks(self.reference)

    def _to_ticks(self, price: Decimal) -> int:
        return max(1, int(price / self.market.tick_size))

    def reference_ticks(self) -> int:
        """The reference for this refresh: the latest quote of ``reference_venue`` (by
        default the market's last price: the engine's quote, its last trade, else the
        middle of its book) if it has one, else the previous reference; moved by the random
        walk and kept above the deepest bid."""
        quote = latest_quote(venue=self.reference_venue or self.market.venue,
                             symbol=self.market.symbol)
        ticks = self._to_ticks(quote.price) if quote is not None else self._reference_ticks
        walk = self.quoting.walk_ticks
        ticks += self._random.randint(-walk, walk) if walk else 0
        floor = self.quoting.spread_ticks + self.quoting.step_ticks * self.quoting.levels
        self._reference_ticks = max(ticks, floor)
        return self._reference_ticks

    def refresh(self) -> tuple[int, int]:
        """One round (see the module docstring): returns (orders placed, cancels asked)."""
        wanted = {(side, self.market.tick_size * ticks) for side, ticks in
                  wanted_levels(reference_ticks=self.reference_ticks(), quoting=self.quoting)}
        # A level another trader's order already crosses would be refused (post-only):
        # leave it out. The bot's own old levels never cross its new ones (``Quoting``).
        venue = self.market.venue
        quote = latest_quote(venue=venue, symbol=self.market.symbol)
        if quote is not None:
            wanted = {(side, price) for side, price in wanted
                      if not (side == Side.SELL and quote.bid is not None and price <= quote.bid)
                      and not (side == Side.BUY and quote.ask is not None and price >= quote.ask)}
        live = list(trading_selectors.order_list(
            user_id=self.user_id, venue=venue, symbol=self.market.symbol)
            .filter(status__in=LIVE_STATUSES))
        self._cancelling &= {order.pk for order in live}
        covered, stale = set(), []
        for order in live:
            key = (order.side, order.price)
            if key in wanted and key not in covered and order.pk not in self._cancelling:
                covered.add(key)
            elif order.pk not in self._cancelling:
                stale.append(order)
        # The new levels first, the old ones cancelled after: the book never stands empty
        # between (post-only levels around the new reference cross none of the old ones
        # while the walk stays under twice the spread).
        placed = 0
        for side, price in sorted(wanted - covered):
            try:
                trading_services.order_place(
                    user_id=self.user_id, venue=venue, symbol=self.market.symbol, side=side,
                    type=OrderType.LIMIT, amount=self.quoting.amount, price=price,
                    time_in_force=TimeInForce.GTC, post_only=True,
                    venue_options=self.venue_options)
                placed += 1
            except (Conflict, InvalidInput) as exc:  # InsufficientFunds is a Conflict
                log.warning("marketmaker_level_skipped", symbol=self.market.symbol,
                            side=side, price=str(price), reason=str(exc))
        cancels = 0
        for order in stale:
            try:
                trading_services.order_cancel(user_id=self.user_id, venue=venue,
                                              order_id=order.pk)
                cancels += 1
            except (Conflict, NotFound) as exc:  # it ended meanwhile
                log.info("marketmaker_cancel_skipped", order=order.pk, reason=str(exc))
            self._cancelling.add(order.pk)
        return placed, cancels


def bot_setup(*, username: str, market: Market, base_amount: Decimal,
              quote_amount: Decimal) -> int:
    """The bot account (``accounts.services.bot_account_ensure``), funded once in the
    wallets of the market's venue (ECO, FUTURES) with ``base_amount`` of the market's
    base and ``quote_amount`` of its quote currency from the EXTERNAL account (deposits
    keyed per account and currency: running this again adds nothing; a zero amount
    deposits nothing, for a bot its operator funds otherwise). Returns the bot's user id.
    Raises Conflict (a person's account of that name), InvalidInput (a bad amount)."""
    user_id = account_services.bot_account_ensure(username=username)
    for currency, amount in ((market.base_currency, base_amount),
                             (market.quote_currency, quote_amount)):
        if amount == 0:
            continue
        wallet_services.deposit(user_id=user_id, wallet_type=VENUE_WALLET_TYPE[market.venue],
                                currency=currency, amount=amount,
                                key=f"marketmaker-fund:{user_id}:{currency}",
                                memo="market maker's demo funds")
    return user_id


def run(*, maker: MarketMaker, interval: float, stop: threading.Event,
        rounds: int | None = None) -> None:
    """Refresh every ``interval`` seconds until ``stop`` is set (or ``rounds`` are done).
    A round that fails (the database away, say) is logged and the next one tries again."""
    done = 0
    while not stop.is_set() and (rounds is None or done < rounds):
        close_old_connections()
        try:
            placed, cancels = maker.refresh()
            log.debug("marketmaker_refreshed", symbol=maker.market.symbol, placed=placed,
                      cancels=cancels)
        except Exception:
            log.exception("marketmaker_round_failed", symbol=maker.market.symbol)
        done += 1
        stop.wait(interval)


# What ``make run``'s bot is given once, in the market's base and quote currency.
DEMO_FUNDS: Final = (Decimal("100000"), Decimal("1000000"))
DEMO_USERNAME: Final = "marketmaker"
# The futures bot (its own account: its deposits are keyed per account and currency):
# quote currency only (a position is margin, not base), levels wide enough for a mark
# that follows the spot index by up to 0.2 % a second in the demo, at 10x.
FUTURES_DEMO_FUNDS: Final = (Decimal(0), Decimal("1000000"))
# No longer than the spot bot's: the admin's wallet list keeps a user on one line, and the
# demo's must fit a 1366 px screen (tests/trade/test_browser_pleasant.py).
FUTURES_DEMO_USERNAME: Final = "mm-futures"
FUTURES_DEMO_QUOTING: Final = Quoting(levels=3, spread_ticks=500, step_ticks=250,
                                      amount=Decimal("0.05"), walk_ticks=0)
FUTURES_DEMO_LEVERAGE: Final = 10


def _start(*, venue: str, symbol: str, username: str, funds: tuple[Decimal, Decimal],
           reference_venue: str | None = None, **maker) -> threading.Thread:
    """A daemon thread that waits for ``venue``'s market ``symbol`` to be enabled (and, with
    ``reference_venue``, for its first quote there: the reference), sets the bot up
    (``bot_setup`` with ``funds``) and runs a ``MarketMaker`` (``maker``: its other
    fields) every ``MARKETMAKER_INTERVAL_SECONDS``."""

    def main() -> None:
        while True:
            close_old_connections()
            market = Market.objects.filter(venue=venue, symbol=symbol,
                                           status=MarketStatus.ENABLED).first()
            reference = (latest_quote(venue=reference_venue, symbol=symbol)
                         if market is not None and reference_venue else None)
            if market is not None and (reference is not None or not reference_venue):
                break
            time.sleep(1)
        user_id = bot_setup(username=username, market=market, base_amount=funds[0],
                            quote_amount=funds[1])
        bot = MarketMaker(user_id=user_id, market=market, reference_venue=reference_venue,
                          reference=(reference.price if reference is not None
                                     else Decimal(conf.MARKETMAKER_REFERENCE)), **maker)
        log.info("marketmaker_started", venue=venue, symbol=symbol, user_id=user_id)
        run(maker=bot, interval=conf.MARKETMAKER_INTERVAL_SECONDS, stop=threading.Event())

    thread = threading.Thread(target=main, name=f"marketmaker-{venue}", daemon=True)
    thread.start()
    return thread


def start_in_background() -> list[threading.Thread]:
    """``make run``'s bots: one on the ecosystem market ``MARKETMAKER_SYMBOL``, quoting
    around ``MARKETMAKER_REFERENCE`` (then its last price), and with
    ``MARKETMAKER_FUTURES_SYMBOL`` one on that futures contract, quoting around its mark
    (``mark@``) at ``FUTURES_DEMO_LEVERAGE``."""
    threads = []
    if conf.MARKETMAKER_SYMBOL:
        threads.append(_start(venue=VENUE, symbol=conf.MARKETMAKER_SYMBOL,
                              username=DEMO_USERNAME, funds=DEMO_FUNDS))
    if conf.MARKETMAKER_FUTURES_SYMBOL:
        threads.append(_start(
            venue=Venue.FUTURES, symbol=conf.MARKETMAKER_FUTURES_SYMBOL,
            username=FUTURES_DEMO_USERNAME, funds=FUTURES_DEMO_FUNDS,
            reference_venue=streams.MARK_VENUE, quoting=FUTURES_DEMO_QUOTING,
            venue_options={"leverage": FUTURES_DEMO_LEVERAGE}))
    return threads
