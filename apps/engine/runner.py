"""The engine runner: the single writer of its markets' books.

Contract (what a runner guarantees, per market):
- **One writer.** ``start`` takes the market's ``EngineLease`` (owner, epoch + 1,
  expiry) under its row lock, and refuses with ``LeaseHeld`` (saying who holds it and
  until when) while another owner's lease is unexpired. The lease is renewed while the
  runner works; every settlement transaction locks the lease row first and checks the
  owner and epoch (a fencing token): a runner that lost its lease (paused past its
  expiry, another runner took over) settles nothing and stops.
- **Durable order.** Commands are read from ``EngineCommand`` in the market's gapless
  sequence, after ``applied_seq``; each batch of up to ``ENGINE_BATCH`` is applied to the
  ``OrderBook`` and its results settled in ONE transaction: lease row (fencing check),
  the touched order rows (id order), the fills' ledger batch (``settle_trades``, one
  journal per fill key: exactly once), the orders' states and fills (the core's
  ``settlement.plan``/``settle``), ``applied_seq``/``book_seq`` and the batch's
  ``EngineOutbox`` row. If that transaction fails, the in-memory book is thrown away and
  restored (it had applied commands that did not settle).
- **After commit** the outbox is sent: the order store (``apps.orderstore``: the orders'
  states with the command sequence as their version, the trades), the ``depth@`` and
  ``trades@`` streams (``apps.marketdata.books``), the market's quote (last, bid, ask on
  the quote bus); then the row is marked sent. While ``run`` works (or inside
  ``dispatching()``) this is the dispatcher's thread's (``apps.engine.dispatch``: in
  commit order, bounded, fail-stop), so the next batch settles meanwhile; the book's
  depth and best prices are taken on the runner's thread when the batch is handed off.
  A row left unsent by a crash is sent again when a runner starts (every write there is
  idempotent).
- **Deterministic restore.** The latest ``EngineSnapshot`` (every
  ``ENGINE_SNAPSHOT_EVERY`` commands) plus a replay of the commands after it, up to
  ``applied_seq``; refused (``RestoreRefused``) if the replay ends at another event
  sequence than the one recorded, if the book is crossed or breaks an invariant, or if
  its open orders differ from the order store's.
- **One market's failure is its own.** A batch that raises (anything but ``Fenced`` and
  ``DispatchFailed``, which stop the runner) rolls back; its book is thrown away and the
  market is halted: logged once with the command it stopped at, reported to the
  readiness check (``apps.engine.health``), and retried (restored from the record, then
  stepped) after ``HALT_RETRY_FIRST`` seconds, twice as long after each failure up to
  ``HALT_RETRY_MAX``, while the runner's other markets go on. A retry that gets through
  settles the market's commands exactly once (the batch that failed committed nothing).
- **Its markets follow the listing.** Given ``markets_of``, a runner re-reads its markets
  at each lease renewal: a new one (listed, enabled, mapped to it) has its lease taken
  (one another runner holds is skipped until a later renewal) and its book restored; one
  no longer its (disabled, delisted, mapped to another runner) is stepped no more and,
  once the batches handed off are sent, its lease released.
Lock order: lease row, order rows by id, user wallets by id (the core's order).
"""
import gc
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from apps.core import conf
from apps.engine import books, health, venues, wakeup
from apps.engine.dispatch import Dispatcher, DispatchFailed
from apps.engine.models import (
    EngineCommand,
    EngineLease,
    EngineOutbox,
    EngineSnapshot,
)
from apps.marketdata import books as book_streams
from apps.marketdata.quotes import Quote
from apps.marketdata.services import publish as quote_publish
from apps.matching import (
    CrossedBookError,
    DepthSnapshot,
    InternalStateError,
    MarketSpec,
    OrderBook,
    RestingOrder,
    StpMode,
    Trade,
)
from apps.matching import Side as BookSide
from apps.orderstore.base import get_store
from apps.orderstore.records import OrderRecord, TradeRecord
from apps.trading.constants import OrderStatus
from apps.trading.models import Market, Order
from apps.trading.services import settlement
from apps.trading.stores import store_for
from apps.trading.venues import Submission
from apps.wallets import selectors as wallet_selectors

log = structlog.get_logger(__name__)


class LeaseHeld(RuntimeError):
    """Another runner holds the market's lease."""


class Fenced(RuntimeError):
    """This runner's lease was taken over: it must stop writing."""


class RestoreRefused(RuntimeError):
    """The restored book cannot be trusted (crossed, diverged from its record or from
    the order store)."""


# A halted market's first retry comes this many seconds after its failure, each later one
# twice as long after the last, at most HALT_RETRY_MAX: a deadlock or a lost connection
# gets through at once, a poison command costs a query a minute.
HALT_RETRY_FIRST = 1.0
HALT_RETRY_MAX = 60.0


def runner_owner(name: str) -> str:
    return f"{name}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class MarketState:
    market: Market
    book: OrderBook
    applied_seq: int
    decimals: int
    since_snapshot: int = 0
    stp_default: StpMode = StpMode.CANCEL_TAKER


@dataclass
class Halt:
    """A market whose batch (or restore) failed: not stepped before ``retry_at``
    (``time.monotonic()``), ``delay`` seconds after its last failure."""

    error: str
    since: datetime
    delay: float
    retry_at: float
    failures: int = 1


@dataclass(frozen=True)
class BookView:
    """What the streams and the quote bus get of a batch: the book as the batch left it
    (taken on the runner's thread: the book moves on while the dispatcher sends)."""

    spec: MarketSpec
    depth: DepthSnapshot
    changes: list
    bid: int | None
    ask: int | None

    @classmethod
    def of(cls, book: OrderBook, *, changes: list) -> "BookView":
        return cls(spec=book.spec, depth=book.depth(levels=book_streams.DEPTH_LEVELS),
                   changes=changes, bid=book.best_bid(), ask=book.best_ask())


def replay(*, market: Market, stp_default: StpMode, upto: int,
           snapshot: EngineSnapshot | None = None) -> OrderBook:
    """The book after commands 1..``upto`` of ``market``: from ``snapshot`` (None: an
    empty book) and the commands after it, in sequence. Pure of side effects."""
    if snapshot is not None:
        book = OrderBook.restore(snapshot.book)
        start = snapshot.command_seq
    else:
        book = OrderBook(books.market_spec(market, stp_default=stp_default))
        start = 0
    commands = (EngineCommand.objects.filter(market_id=market.pk, seq__gt=start,
                                             seq__lte=upto)
                .order_by("seq").values_list("seq", "kind", "payload"))
    expected = start + 1
    for seq, kind, payload in commands.iterator(chunk_size=2000):
        if seq != expected:
            raise RestoreRefused(f"{market}: command {expected} is missing")
        books.apply(book, kind=kind, payload=payload)
        expected += 1
    if expected != upto + 1:
        raise RestoreRefused(f"{market}: commands end at {expected - 1}, not {upto}")
    return book


class Runner:
    """Runs ``markets`` (one book each) until ``stop()``; given ``markets_of`` (what the
    runner should run now, as ``selectors.markets_of_runner`` says), it follows that at
    each lease renewal. ``stp_default_of`` gives a market's default self-trade prevention
    mode, ``bot_users`` the market makers' user ids (their trades are marked): by default
    what the venues registered (``apps.engine.venues``)."""

    def __init__(self, *, name: str, markets: Sequence[Market],
                 markets_of: Callable[[], Sequence[Market]] | None = None,
                 stp_default_of: Callable[[Market], StpMode] = venues.stp_default_of,
                 bot_users: Callable[[], set[int]] = venues.bot_users) -> None:
        self.name = name
        self.owner = runner_owner(name)
        self.markets = list(markets)  # those whose leases it holds
        self.markets_of = markets_of
        self.stp_default_of = stp_default_of
        self.bot_users = bot_users
        self.epochs: dict[int, int] = {}
        # A market without a state has its book restored before it is stepped again.
        self.states: dict[int, MarketState] = {}
        self.halts: dict[int, Halt] = {}
        self._stopping = False
        self._renewed = 0.0
        self.dispatcher = Dispatcher(name=name)

    # --- the lease ---------------------------------------------------------------------

    def acquire(self, markets: Sequence[Market] | None = None) -> None:
        """Take the lease of every market of ``markets`` (None: the runner's), or none:
        raises LeaseHeld naming the holder."""
        now = timezone.now()
        until = now + timedelta(seconds=conf.ENGINE_LEASE_SECONDS)
        with transaction.atomic():
            for market in sorted(self.markets if markets is None else markets,
                                 key=lambda m: m.pk):
                EngineLease.objects.get_or_create(market_id=market.pk)
                lease = EngineLease.objects.select_for_update().get(market_id=market.pk)
                if lease.owner and lease.owner != self.owner and lease.expires_at \
                        and lease.expires_at > now:
                    raise LeaseHeld(
                        f"market {market} is run by {lease.owner} (epoch {lease.epoch}) "
                        f"until {lease.expires_at.isoformat()}; stop it or wait for its "
                        f"lease to expire")
                lease.owner, lease.epoch, lease.expires_at = self.owner, lease.epoch + 1, until
                lease.save(update_fields=["owner", "epoch", "expires_at", "updated_at"])
                self.epochs[market.pk] = lease.epoch
        if markets is None:
            self._renewed = time.monotonic()

    def renew(self) -> None:
        """Extend the leases (fenced: one taken over raises Fenced)."""
        until = timezone.now() + timedelta(seconds=conf.ENGINE_LEASE_SECONDS)
        for market_id, epoch in self.epochs.items():
            if not EngineLease.objects.filter(market_id=market_id, owner=self.owner,
                                              epoch=epoch).update(expires_at=until):
                raise Fenced(f"market {market_id}: lease lost (epoch {epoch})")
        self._renewed = time.monotonic()

    def release(self, market_ids: Sequence[int] | None = None) -> None:
        """Give up the leases of ``market_ids`` (None: all the runner's), if still its."""
        for market_id in list(self.epochs) if market_ids is None else market_ids:
            EngineLease.objects.filter(market_id=market_id, owner=self.owner,
                                       epoch=self.epochs[market_id]).update(
                owner="", expires_at=None)
            if self.halts.pop(market_id, None) is not None:
                health.halt_clear(market_id=market_id)

    def refresh_markets(self) -> None:
        """Follow ``markets_of`` (nothing without it): release the markets no longer the
        runner's, once the batches handed off are sent (the next runner's restore compares
        the book with the order store), and take the lease of each new one (its book is
        restored at its first step, a failure there halting it alone). A market whose
        lease another runner holds is skipped, logged, until a later renewal."""
        if self.markets_of is None:
            return
        wanted = {m.pk: m for m in self.markets_of()}
        gone = [m for m in self.markets if m.pk not in wanted]
        if gone:
            self.dispatcher.flush()
            self.release([m.pk for m in gone])
            for market in gone:
                self.markets.remove(market)
                self.states.pop(market.pk, None)
                del self.epochs[market.pk]
                log.info("engine_market_released", market=str(market), market_id=market.pk)
        held = {m.pk for m in self.markets}
        for market in wanted.values():
            if market.pk in held:
                continue
            try:
                self.acquire([market])
            except LeaseHeld as exc:
                log.warning("engine_market_skipped", market=str(market), reason=str(exc))
                continue
            self.markets.append(market)
            log.info("engine_market_added", market=str(market), market_id=market.pk)

    # --- start ------------------------------------------------------------------------

    def start(self) -> None:
        """Acquire the leases, send what a previous runner left in the outbox, restore
        every book and check it (``restore``); publish each book as a depth snapshot."""
        self.acquire()
        for market in self.markets:
            self.open(market)

    def open(self, market: Market) -> None:
        """Ready ``market``'s book: send its unsent batches (this runner's first: the
        order store must have them before the restore compares), restore and check the
        book, publish it as a depth snapshot."""
        self.dispatcher.flush()
        self.flush_outbox(market=market)
        state = self.states[market.pk] = self.restore(market)
        book_streams.depth_snapshot_set(
            venue=market.venue, symbol=market.symbol, spec=state.book.spec,
            depth=state.book.depth(levels=book_streams.DEPTH_LEVELS))

    def restore(self, market: Market) -> MarketState:
        lease = EngineLease.objects.get(market_id=market.pk)
        snapshot = (EngineSnapshot.objects.filter(market_id=market.pk,
                                                  command_seq__lte=lease.applied_seq)
                    .order_by("-command_seq").first())
        stp = self.stp_default_of(market)
        try:
            book = replay(market=market, stp_default=stp, upto=lease.applied_seq,
                          snapshot=snapshot)
            book.validate_internal_state()
        except (CrossedBookError, InternalStateError) as exc:
            raise RestoreRefused(f"{market}: {exc}") from exc
        if book.seq != lease.book_seq:
            raise RestoreRefused(f"{market}: replay ends at event {book.seq}, the settled "
                                 f"record says {lease.book_seq}")
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise RestoreRefused(f"{market}: crossed book (bid {bid} >= ask {ask})")
        records = get_store().open_orders(venue=market.venue, market=market.symbol)
        stored = {r.order_id: r.remaining for r in records}
        mine = {o.order_id: book.spec.qty(o.qty) for o in book.open_orders()}
        if stored != mine:
            differ = sorted(set(stored.items()) ^ set(mine.items()))[:5]
            raise RestoreRefused(f"{market}: the book and the order store's open orders "
                                 f"differ (e.g. {differ})")
        # The book rebuilt from the store (refused if crossed) has the same levels.
        spec = book.spec
        try:
            rebuilt = OrderBook.rebuild(spec=spec, orders=[RestingOrder(
                r.order_id, r.user_id, BookSide.BUY if r.side == "BUY" else BookSide.SELL,
                spec.to_ticks(r.price), spec.to_lots(r.remaining)) for r in records
                if r.price is not None])
        except CrossedBookError as exc:
            raise RestoreRefused(f"{market}: the order store's book: {exc}") from exc
        levels = max(len(book), 1)
        if rebuilt.depth(levels=levels)[1:3] != book.depth(levels=levels)[1:3]:
            raise RestoreRefused(f"{market}: the book rebuilt from the order store has "
                                 f"other price levels")
        decimals = wallet_selectors.currency_decimals(code=market.quote_currency)
        log.info("engine_restored", market=str(market), market_id=market.pk,
                 applied_seq=lease.applied_seq, book_seq=book.seq, orders=len(book),
                 snapshot=snapshot and snapshot.command_seq, state_hash=book.state_hash())
        return MarketState(market=market, book=book, applied_seq=lease.applied_seq,
                           decimals=decimals, stp_default=stp)

    # --- the loop ---------------------------------------------------------------------

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Work until ``stop()`` (or ``until()`` is true between passes), the committed
        batches sent by the dispatcher's thread; returns once they are all sent."""
        with self.dispatching():
            while not self._stopping and not (until and until()):
                if not self.step():
                    # 0: what stop() wakes (a runner may have no market yet).
                    wakeup.wait(market_ids=[0, *(m.pk for m in self.markets)],
                                timeout=conf.ENGINE_POLL_SECONDS)
        if self._stopping:
            self.release()

    @contextmanager
    def dispatching(self) -> Iterator[None]:
        """Inside: ``step`` hands each committed batch to the dispatcher's thread. On the
        way out every batch handed off is sent (DispatchFailed if one could not be)."""
        self.dispatcher.start()
        try:
            yield
            self.dispatcher.flush()
        finally:
            self.dispatcher.stop()

    def stop(self) -> None:
        self._stopping = True
        wakeup.wake(market_id=0)

    def step(self) -> int:
        """One pass over the markets: apply and settle one batch of each (a halted one
        only once its retry is due, restored first). Returns how many commands were
        applied. Raises Fenced and DispatchFailed (the runner must stop); a market's other
        errors halt that market (``_halt``)."""
        if time.monotonic() - self._renewed > conf.ENGINE_LEASE_SECONDS / 3:
            self.renew()
            self.refresh_markets()
        done = 0
        for market in list(self.markets):
            halt = self.halts.get(market.pk)
            if halt is not None and time.monotonic() < halt.retry_at:
                continue
            seq = None
            try:
                if market.pk not in self.states:
                    self.open(market)
                seq = self.states[market.pk].applied_seq + 1
                done += self.step_market(market.pk)
            except (Fenced, DispatchFailed):
                raise
            except Exception as exc:
                self._halt(market, exc, seq=seq)
            else:
                if halt is not None:
                    del self.halts[market.pk]
                    health.halt_clear(market_id=market.pk)
                    log.info("engine_market_resumed", market=str(market),
                             market_id=market.pk, failures=halt.failures,
                             halted_for=(timezone.now() - halt.since).total_seconds())
        return done

    def _halt(self, market: Market, exc: Exception, *, seq: int | None) -> None:
        """Halt ``market`` after ``exc``: its next retry after the doubled delay, logged on
        the first failure only, the error reported to the readiness check."""
        now, halt = timezone.now(), self.halts.get(market.pk)
        error = f"{type(exc).__name__}: {exc}"[:500]
        if halt is None:
            halt = self.halts[market.pk] = Halt(error=error, since=now,
                                                delay=HALT_RETRY_FIRST, retry_at=0.0)
            log.exception("engine_batch_failed", market=str(market), market_id=market.pk,
                          seq=seq, retry_in=halt.delay)
        else:
            halt.error, halt.failures = error, halt.failures + 1
            halt.delay = min(halt.delay * 2, HALT_RETRY_MAX)
        halt.retry_at = time.monotonic() + halt.delay
        health.halt_report(market_id=market.pk, owner=self.owner, error=error,
                           since=halt.since, failures=halt.failures,
                           expires=2 * HALT_RETRY_MAX)

    def step_market(self, market_id: int) -> int:
        """Apply and settle one batch of ``market_id``'s commands; hand the committed batch
        to the dispatcher. If it raises, the market's book is dropped (it had applied what
        did not settle): ``open`` restores it from the record."""
        state = self.states[market_id]
        commands = list(EngineCommand.objects.filter(
            market_id=market_id, seq__gt=state.applied_seq).order_by("seq")
            .values_list("seq", "kind", "payload")[:conf.ENGINE_BATCH])
        if not commands:
            return 0
        try:
            sent = self._apply_and_settle(state, commands)
        except Exception:
            del self.states[market_id]
            raise
        outbox, events, orders, trades = sent
        view = BookView.of(state.book, changes=events)
        self.dispatcher.send(lambda: self.dispatch(market=state.market, outbox=outbox,
                                                   view=view, orders=orders, trades=trades))
        state.since_snapshot += len(commands)
        if state.since_snapshot >= conf.ENGINE_SNAPSHOT_EVERY:
            self.snapshot(state)
        return len(commands)

    def _apply_and_settle(self, state: MarketState, commands: list) -> tuple:
        market, book, spec = state.market, state.book, state.book.spec
        now = timezone.now()
        outcome_of: dict[int, books.Outcome] = {}
        events: list = []
        for seq, kind, payload in commands:
            produced = books.apply(book, kind=kind, payload=payload)
            books.outcomes(produced, spec=spec, executed_at=now, outcome_of=outcome_of,
                           command_seq=seq)
            events += [e for e in produced if books.is_depth_event(e)]
        first, last = commands[0][0], commands[-1][0]
        with transaction.atomic():
            lease = EngineLease.objects.select_for_update().get(market_id=market.pk)
            if (lease.owner, lease.epoch) != (self.owner, self.epochs[market.pk]):
                raise Fenced(f"{market}: lease now {lease.owner} epoch {lease.epoch}")
            if lease.applied_seq != state.applied_seq:
                raise Fenced(f"{market}: applied {lease.applied_seq}, not "
                             f"{state.applied_seq}: another writer settled")
            orders, fees = self._settle(state, outcome_of)
            lease.applied_seq, lease.book_seq = last, book.seq
            lease.save(update_fields=["applied_seq", "book_seq", "updated_at"])
            trades = self._trades(market, events, fees, now)
            outbox = EngineOutbox.objects.create(
                market_id=market.pk, first_seq=first, last_seq=last,
                payload={"orders": sorted(o.pk for o in orders),
                         "trades": [_trade_json(t) for t in trades]})
        state.applied_seq = last
        return outbox, events, orders, trades

    def _settle(self, state: MarketState, outcome_of: dict[int, books.Outcome]
                ) -> tuple[list[Order], dict[str, Decimal]]:
        """Plan and settle the batch's outcomes (the caller's transaction holds the lease
        row); the orders written and each fill's fee by its trade id."""
        if not outcome_of:
            return [], {}
        market = state.market
        locked = store_for(market.venue).lock(order_ids=list(outcome_of))
        prior = settlement.prior_fills([o for o in locked if o.filled and
                                        o.pk in outcome_of and outcome_of[o.pk].executions])
        pending = []
        for order in locked:
            outcome = outcome_of.get(order.pk)
            if outcome is None:
                continue
            status = outcome.status
            if status is None:  # resting: OPEN, or as it was if it already rested
                status = OrderStatus.OPEN if order.status == OrderStatus.NEW else order.status
            event = "filled" if outcome.executions else status.lower()
            pending.append(settlement.plan(
                order=order, market=market, event=event, decimals=state.decimals,
                prior=prior.get(order.pk, []),
                submission=Submission(status=status, executions=tuple(outcome.executions),
                                      reason=outcome.reason)))
        if pending:
            settlement.settle(pending, locked=locked)
        for p in pending:
            p.order.market = market  # the record's symbol, without a query per order
        return [p.order for p in pending], {f.trade_id: f.fee for p in pending for f in p.fills}

    def _trades(self, market: Market, events: list, fees: dict[str, Decimal],
                now: datetime) -> list[TradeRecord]:
        bots = self.bot_users()
        found = []
        spec = self.states[market.pk].book.spec
        for e in events:
            if e[0] is not Trade:
                continue
            _, seq, mid, maker, taker, maker_owner, taker_owner, maker_side, price, qty = e
            tid = f"{mid}:{seq}"
            found.append(TradeRecord(
                venue=market.venue, market=market.symbol, trade_id=tid, seq=seq,
                price=spec.price(price), amount=spec.qty(qty),
                taker_side="SELL" if int(maker_side) == 0 else "BUY",
                maker_order_id=maker, taker_order_id=taker, maker_user_id=maker_owner,
                taker_user_id=taker_owner, maker_fee=fees.get(f"{tid}:M", Decimal(0)),
                taker_fee=fees.get(f"{tid}:T", Decimal(0)), executed_at=now,
                bot=maker_owner in bots or taker_owner in bots))
        return found

    # --- after commit -----------------------------------------------------------------

    def dispatch(self, *, market: Market, outbox: EngineOutbox, view: BookView | None,
                 orders: list[Order], trades: list[TradeRecord]) -> None:
        """Send a committed batch: the order store, then (given the book's ``view``) the
        streams and the quote; then mark it sent. Every part is idempotent, so a row sent
        twice (a crash before the mark) does no harm."""
        store = get_store()
        store.put_orders(records=[order_record(o, version=outbox.last_seq) for o in orders])
        if trades:
            store.put_trades(records=trades)
        if view is not None:
            book_streams.depth_publish(venue=market.venue, symbol=market.symbol,
                                       spec=view.spec, depth=view.depth, changes=view.changes)
            book_streams.trades_publish(venue=market.venue, symbol=market.symbol,
                                        spec=view.spec, trades=view.changes,
                                        executed_at=outbox.created_at)
            self._quote(market, view, trades)
        EngineOutbox.objects.filter(pk=outbox.pk).update(sent_at=timezone.now())

    def _quote(self, market: Market, view: BookView, trades: list[TradeRecord]) -> None:
        spec, bid, ask = view.spec, view.bid, view.ask
        sides = [spec.price(p) for p in (bid, ask) if p is not None]
        price = trades[-1].price if trades else (sum(sides) / len(sides) if sides else None)
        if price is None:
            return  # an empty book that never traded has no price
        quote_publish(quote=Quote(
            venue=market.venue, symbol=market.symbol, price=price,
            bid=None if bid is None else spec.price(bid),
            ask=None if ask is None else spec.price(ask),
            timestamp=timezone.now(), source="engine"))

    def flush_outbox(self, *, market: Market) -> int:
        """Send the batches a previous runner committed but did not send (the order
        store and the trades; the streams get a fresh snapshot at start)."""
        sent = 0
        for outbox in EngineOutbox.objects.filter(market_id=market.pk,
                                                  sent_at__isnull=True).order_by("id"):
            orders = list(Order.objects.filter(pk__in=outbox.payload["orders"])
                          .select_related("market"))
            trades = [_trade_from_json(t) for t in outbox.payload["trades"]]
            self.dispatch(market=market, outbox=outbox, view=None, orders=orders,
                          trades=trades)
            sent += 1
        return sent

    def snapshot(self, state: MarketState) -> EngineSnapshot:
        """Record the book after ``applied_seq`` (restores start from the latest)."""
        book = state.book
        snap, _ = EngineSnapshot.objects.get_or_create(
            market_id=state.market.pk, command_seq=state.applied_seq,
            defaults={"book_seq": book.seq, "state_hash": book.state_hash(),
                      "book": book.snapshot()})
        state.since_snapshot = 0
        return snap


def freeze_heap() -> None:
    """Move what the process holds so far (Django, the restored books) out of the cyclic
    garbage collector's generations, after one last collection. A runner's process lives
    long and those objects with it; a full collection walking them all cost about a third
    of a 1,071-command drain's CPU (0.16 s a pass, bench/internal_market_profile.py).
    Frozen objects are still freed by their reference counts. Called by the runner's
    entry points once it has started (``run_engine``, the embedded runner; the benches
    as they do), not by ``Runner`` itself: tests start runners by the hundred."""
    gc.collect()
    gc.freeze()


def order_record(order: Order, *, version: int) -> OrderRecord:
    return OrderRecord(
        venue=order.venue, market=order.market.symbol, order_id=order.pk,
        user_id=order.user_id, client_order_id=order.client_order_id, side=order.side,
        type=order.type, time_in_force=order.time_in_force, post_only=order.post_only,
        price=order.price, amount=order.amount, filled=order.filled,
        remaining=order.remaining, cost=order.cost, fee=order.fee,
        fee_currency=order.fee_currency, status=order.status, reason=order.reason,
        created_at=order.created_at, updated_at=order.updated_at, version=version)


def _trade_json(t: TradeRecord) -> dict:
    return {"trade_id": t.trade_id, "seq": t.seq, "price": str(t.price),
            "amount": str(t.amount), "taker_side": t.taker_side,
            "maker_order_id": t.maker_order_id, "taker_order_id": t.taker_order_id,
            "maker_user_id": t.maker_user_id, "taker_user_id": t.taker_user_id,
            "maker_fee": str(t.maker_fee), "taker_fee": str(t.taker_fee), "bot": t.bot,
            "venue": t.venue, "market": t.market, "executed_at": t.executed_at.isoformat()}


def _trade_from_json(d: dict) -> TradeRecord:
    return TradeRecord(**{**d, "price": Decimal(d["price"]), "amount": Decimal(d["amount"]),
                          "maker_fee": Decimal(d["maker_fee"]),
                          "taker_fee": Decimal(d["taker_fee"]),
                          "executed_at": datetime.fromisoformat(d["executed_at"])})
