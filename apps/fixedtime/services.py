"""Fixed-time trades: recording the prices that settle them, opening, settling, pruning.

Every function here:
- runs in one transaction where it writes more than one row, locking its own row first
  (the trade, ``SELECT ... FOR UPDATE``) and then every user wallet it will write, through
  ``apps.wallets.services`` (pk order), before its first write;
- raises ``apps.core.errors`` subclasses for what the caller asked wrongly (each a 4xx with
  a stable code), never a bare exception, and writes nothing when it raises;
- sends its events (the ``fixedtime`` stream, the settlement task) after commit only.

Money moves only through ``apps.wallets.services``: the stake is a hold at opening
(``hold_create``), the outcome one journal keyed ``fixedtime:<trade id>``
(``settle_fixed_time``). A trade settles exactly once however often its settlement runs,
whoever runs it (the task scheduled for its expiry, a redelivery, the beat sweep): the
trade row is locked and its status checked, and the journal key is unique besides.

The price history: the quote bus offers every quote to ``quote_record``, which keeps those
of the instruments that are enabled or still have open trades as ``RecordedQuote`` rows, a
SQL table (not a Redis sorted set) because the settlement reads it in the same transaction
and database as the trade it settles, its evidence is a durable row the admin can show,
and losing Redis (a restart without persistence) must not void every open trade.
``quotes_prune`` keeps it small, never deleting a quote an open trade may still need.
"""
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core import conf
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.fixedtime import rules, selectors
from apps.fixedtime.constants import WALLET_TYPE, Direction, Mode, TradeStatus
from apps.fixedtime.models import Instrument, RecordedQuote, Trade
from apps.marketdata import streams
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading.constants import Venue
from apps.trading.venues import gateway_for
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)

# The recorder's view of which tickers to keep, refreshed every
# FIXEDTIME_TICKERS_REFRESH_SECONDS: a quote costs no query to be told apart.
_recorded: dict[str, object] = {"tickers": frozenset(), "until": 0.0}


def _tickers() -> frozenset[tuple[str, str]]:
    now = time.monotonic()
    if now >= _recorded["until"]:
        _recorded["tickers"] = frozenset(selectors.recorded_tickers())
        _recorded["until"] = now + conf.FIXEDTIME_TICKERS_REFRESH_SECONDS
    return _recorded["tickers"]


def quote_record(quote: Quote) -> RecordedQuote | None:
    """Quote-bus listener: keep ``quote`` as a ``RecordedQuote`` if its ticker is a
    fixed-time instrument's (enabled, or with open trades); else nothing. One INSERT, in
    autocommit (the bus publishes outside transactions). An instrument enabled is heard
    within FIXEDTIME_TICKERS_REFRESH_SECONDS."""
    if (quote.venue, quote.symbol) not in _tickers():
        return None
    return RecordedQuote.objects.create(
        venue=quote.venue, symbol=quote.symbol, timestamp=quote.timestamp, price=quote.price,
        bid=quote.bid, ask=quote.ask, source=quote.source[:32])


def instrument_configure(*, venue: str, symbol: str, enabled: bool, **fields) -> Instrument:
    """Create or change the fixed-time settings of the market ``symbol`` of ``venue``
    (``fields``: any of the ``Instrument`` settings; a new instrument needs ``min_stake``,
    ``max_stake`` and ``payout_percent``). The whole row is validated as the admin
    validates it. Raises NotFound (no such market), InvalidInput (a setting's problems,
    all named). Locks nothing: settings apply to trades opened after the change."""
    market = selectors.market_get(venue=venue, symbol=symbol)
    instrument = Instrument.objects.filter(market=market).first() or Instrument(market=market)
    instrument.enabled = enabled
    for name, value in fields.items():
        setattr(instrument, name, value)
    try:
        instrument.full_clean()
    except ValidationError as exc:
        raise InvalidInput("; ".join(exc.messages)) from None
    instrument.save()
    return instrument


def _text(value: Decimal | None) -> str | None:
    """A price or amount as plain text, trailing zeros dropped (the columns pad them)."""
    return None if value is None else f"{value.normalize():f}"


def trade_event(trade: Trade, *, event: str) -> dict:
    """The ``fixedtime`` stream's message for ``trade`` after ``event``."""
    return {
        "event": event, "id": trade.pk, "venue": trade.venue, "symbol": trade.symbol,
        "mode": trade.mode, "direction": trade.direction, "stake": _text(trade.stake),
        "currency": trade.currency, "payout_percent": _text(trade.payout_percent),
        "status": trade.status, "opened_at": trade.opened_at.isoformat(),
        "expires_at": trade.expires_at.isoformat(), "entry_price": _text(trade.entry_price),
        "exit_price": _text(trade.exit_price), "payout": _text(trade.payout),
        "reason": trade.reason,
    }


def trade_open(*, user_id: int, venue: str, symbol: str, mode: str, direction: str,
               stake: Decimal, expiry_seconds: int,
               schedule: Callable[[Trade], None]) -> Trade:
    """Open a fixed-time trade: the stake held at once in the mode's wallet (DEMO: PAPER,
    LIVE: SPOT) in the market's quote currency, the payout percentage and the entry quote
    (the latest, with its evidence) fixed now, settlement scheduled for the expiry.

    Checks, in order, each refusal writing nothing: the instrument (NotFound
    "unknown_instrument": unknown, disabled, its market not enabled, or a look-alike
    symbol), the expiry (InvalidInput "expiry_not_allowed"), the stake (InvalidInput
    "stake_out_of_bounds", or beyond the currency's precision), the trading hours at
    opening and at expiry (Conflict "market_closed"), the quote (Conflict "stale_quote":
    none, or older than FIXEDTIME_QUOTE_MAX_AGE_SECONDS), the user's open trades on the
    instrument in this mode (Conflict "too_many_open_trades"), the funds
    (InsufficientFunds). A DEMO trade first gets the paper venue's demo grant (once per
    user, through the trading core's gateway registry).

    Locks the user's wallet of the stake (``wallets_lock``) before counting open trades
    and writing: two opens by one user never both pass the limit (the count runs after
    the lock, and under READ COMMITTED, the project's isolation on MariaDB, it sees every
    trade committed before the lock was granted). ``schedule(trade)`` is
    called after commit (``tasks.settlement_schedule``: the settlement task at
    ``settle_due_at``).
    """
    instrument = selectors.instrument_for_trading(venue=venue, symbol=symbol)
    market = instrument.market
    if mode not in Mode.values:
        raise InvalidInput(f"Unknown mode {mode!r}.")
    if direction not in Direction.values:
        raise InvalidInput(f"Unknown direction {direction!r}.")
    if not isinstance(stake, Decimal) or not stake.is_finite():
        raise InvalidInput("The stake must be a finite Decimal.")
    if expiry_seconds not in instrument.expiries:
        raise InvalidInput(
            f"Expiry {expiry_seconds}s is not offered on {market.symbol}; choose one of "
            f"{', '.join(f'{e}s' for e in sorted(instrument.expiries))}.",
            code="expiry_not_allowed")
    if not instrument.min_stake <= stake <= instrument.max_stake:
        raise InvalidInput(
            f"The stake must be from {instrument.min_stake.normalize():f} to "
            f"{instrument.max_stake.normalize():f} {market.quote_currency}.",
            code="stake_out_of_bounds")
    now = timezone.now()
    expires_at = now + timedelta(seconds=expiry_seconds)
    for instant in (now, expires_at):
        if not rules.is_open(sessions=instrument.sessions, timezone=instrument.timezone,
                             at=instant):
            raise Conflict(f"{market.symbol} is closed for fixed-time trades "
                           f"{'now' if instant == now else 'at that expiry'}.",
                           code="market_closed")
    quote = latest_quote(venue=market.venue, symbol=market.symbol)
    if quote is None or quote.age_seconds(now=now) > conf.FIXEDTIME_QUOTE_MAX_AGE_SECONDS:
        raise Conflict(f"No fresh price for {market.symbol}; try again shortly.",
                       code="stale_quote")
    wallet_type = WALLET_TYPE[mode]
    if mode == Mode.DEMO:
        gateway_for(Venue.PAPER).before_place(user_id=user_id)
    owner = (user_id, None, wallet_type, market.quote_currency)
    with transaction.atomic():
        wallet_services.wallets_lock(owners=[owner])
        open_now = Trade.objects.filter(user_id=user_id, instrument=instrument, mode=mode,
                                        status=TradeStatus.OPEN).count()
        if open_now >= instrument.max_open_trades:
            raise Conflict(f"You have {open_now} open {mode} trades on {market.symbol}, "
                           f"the most allowed.", code="too_many_open_trades")
        trade = Trade.objects.create(
            user_id=user_id, instrument=instrument, venue=market.venue, symbol=market.symbol,
            mode=mode, wallet_type=wallet_type, currency=market.quote_currency,
            direction=direction, stake=stake, payout_percent=instrument.payout_percent,
            expiry_seconds=expiry_seconds, hold_key=f"fixedtime:{uuid.uuid4().hex}",
            opened_at=now, expires_at=expires_at, entry_price=quote.price,
            entry_evidence=quote.to_dict())
        wallet_services.hold_create(user_id=user_id, wallet_type=wallet_type,
                                    currency=market.quote_currency, amount=stake,
                                    key=trade.hold_key)
        streams.publish_user_event(user_id=user_id, stream=streams.FIXEDTIME,
                                   data=trade_event(trade, event="opened"))
        transaction.on_commit(lambda: schedule(trade))
    log.info("fixedtime_opened", trade_id=trade.pk, user_id=user_id, mode=mode,
             symbol=market.symbol, stake=str(stake))
    return trade


def settle_due_at(trade: Trade) -> datetime:
    """When ``trade`` may settle: its expiry plus FIXEDTIME_SETTLE_GRACE_SECONDS, the time
    a quote stamped at or before the expiry is given to reach the recorder."""
    return trade.expires_at + timedelta(seconds=conf.FIXEDTIME_SETTLE_GRACE_SECONDS)


def trade_settle(*, trade_id: int, now: datetime | None = None) -> Trade:
    """Settle trade ``trade_id`` on the last recorded quote at or before its expiry: WON,
    LOST or DRAW by ``rules.outcome``, paid by ``rules.payout``; VOID (the stake refunded,
    the reason saying so) when no quote was recorded within FIXEDTIME_EXIT_TOLERANCE_SECONDS
    before the expiry. The exit quote's evidence (its row id, price, time, source) is kept.

    Exactly once: locks the trade row, then the user's wallet; a trade already settled is
    returned unchanged (a redelivered task, a sweep racing it), and the journal key
    ``fixedtime:<id>`` is unique besides. Raises NotFound (no such trade), Conflict
    "not_due" (before ``settle_due_at``: its task arrived early; nothing is written).
    """
    now = now or timezone.now()
    with transaction.atomic():
        trade = Trade.objects.select_for_update().filter(pk=trade_id).first()
        if trade is None:
            raise NotFound(f"No trade {trade_id}.", code="unknown_trade")
        if trade.status != TradeStatus.OPEN:
            return trade
        if now < settle_due_at(trade):
            due = settle_due_at(trade).isoformat()
            raise Conflict(f"Trade {trade_id} settles at {due}.", code="not_due",
                           fields={"settles_at": due})
        wallet_services.wallets_lock(owners=[(trade.user_id, None, trade.wallet_type,
                                              trade.currency)])
        tolerance = timedelta(seconds=conf.FIXEDTIME_EXIT_TOLERANCE_SECONDS)
        exit_quote = selectors.quote_at(venue=trade.venue, symbol=trade.symbol,
                                        at=trade.expires_at)
        if exit_quote is None or exit_quote.timestamp < trade.expires_at - tolerance:
            trade.status = TradeStatus.VOID
            trade.reason = (f"No price was recorded within {tolerance.seconds}s before the "
                            "expiry: the trade is void and the stake refunded.")
        else:
            trade.status = rules.outcome(direction=trade.direction, entry=trade.entry_price,
                                         exit=exit_quote.price)
            trade.exit_price = exit_quote.price
            trade.exit_evidence = {
                "recorded_quote_id": exit_quote.pk, "price": _text(exit_quote.price),
                "bid": _text(exit_quote.bid), "ask": _text(exit_quote.ask),
                "timestamp": exit_quote.timestamp.isoformat(), "source": exit_quote.source,
                "received_at": exit_quote.received_at.isoformat()}
        decimals = wallet_selectors.currency_decimals(code=trade.currency)
        trade.payout = rules.payout(status=trade.status, stake=trade.stake,
                                    payout_percent=trade.payout_percent, decimals=decimals)
        trade.journal_key = f"fixedtime:{trade.pk}"
        trade.settled_at = now
        wallet_services.settle_fixed_time(
            key=trade.journal_key, user_id=trade.user_id, wallet_type=trade.wallet_type,
            currency=trade.currency, hold_key=trade.hold_key, stake=trade.stake,
            payout=trade.payout, memo=f"fixed-time trade {trade.pk}: {trade.status}")
        trade.save(update_fields=["status", "reason", "exit_price", "exit_evidence", "payout",
                                  "journal_key", "settled_at"])
        streams.publish_user_event(user_id=trade.user_id, stream=streams.FIXEDTIME,
                                   data=trade_event(trade, event="settled"))
    log.info("fixedtime_settled", trade_id=trade.pk, status=str(trade.status),
             payout=_text(trade.payout))
    return trade


def trades_settle_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The beat sweep's safety net: settle every open trade past its ``settle_due_at``,
    each in its own transaction (one that fails is logged and does not stop the others).
    Returns how many it settled or found settled."""
    now = now or timezone.now()
    due = selectors.trades_due(
        now=now - timedelta(seconds=conf.FIXEDTIME_SETTLE_GRACE_SECONDS), limit=limit)
    done = 0
    for trade_id in due:
        try:
            trade_settle(trade_id=trade_id, now=now)
            done += 1
        except Exception:
            log.exception("fixedtime_sweep_failed", trade_id=trade_id)
    return done


def quotes_prune(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete recorded quotes older than FIXEDTIME_QUOTE_RETENTION_SECONDS, but none that
    an open trade may still settle on (anything from the tolerance before the earliest
    open expiry on is kept, on every ticker). Deletes in batches of ``batch`` rows (short
    statements, no long lock). Returns how many were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.FIXEDTIME_QUOTE_RETENTION_SECONDS)
    oldest = selectors.oldest_open_expiry()
    if oldest is not None:
        cutoff = min(cutoff, oldest - timedelta(
            seconds=conf.FIXEDTIME_EXIT_TOLERANCE_SECONDS))
    deleted = 0
    while True:
        ids = list(RecordedQuote.objects.filter(timestamp__lt=cutoff)
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += RecordedQuote.objects.filter(pk__in=ids).delete()[0]
