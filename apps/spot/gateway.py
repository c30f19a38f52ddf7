"""The spot venue's ``VenueGateway``: orders routed to the active provider's exchange
through ``ccxt`` (the one module here that places, queries and cancels orders there).

- Asynchronous: the core holds first and writes the order NEW; ``dispatch`` sends it to
  the exchange from a Celery task after commit (``tasks.order_submit_task``). Every order
  carries a deterministic client order id (``client_id``: ``x-ep-<order id>``), so a
  submit repeated after a crash, a timeout or a redelivery can never place a second
  order: the exchange refuses the duplicate id, and the gateway answers with what the
  exchange has under it (``fetch``).
- Only a definite refusal (insufficient balance, a filter, a bad symbol: ccxt's
  ``InvalidOrder``, ``InsufficientFunds``, ``BadRequest``, ``BadSymbol``) is REJECTED.
  Anything else (a timeout, a 5xx, a rate limit, a network error) is raised: the core
  writes the order UNKNOWN and only ``fetch`` (reconciliation) decides it.
- ``fetch`` asks for the order by its client order id, with its trades; an order the
  exchange never received (not found, NEW or UNKNOWN here) is submitted again under the
  same id, but never while an earlier request for it may still reach the exchange: each
  send claims the order's ``SpotSubmission`` row first (``claim_send``), and a request is
  valid there for ``SPOT_RECV_WINDOW_MS`` only (``resend_after``).
- Binance keeps client order ids unique among OPEN orders only: a second request for an
  order that already closed would place it again. The claim makes sure no such request
  leaves the platform; a network that delivers one request twice can still do it (the
  emulator's tests use unique ids among all orders for that fault).
- Cancels (``cancel``) claim the same row (``claim_cancel``): an order never sent is
  CANCELED at once and never sent after; one whose request may still reach the exchange
  is never called CANCELED from "not found": it stays UNKNOWN ("Cancel pending") until the
  exchange has it (cancelled there, or its fills settled) or, once ``resend_after()`` has
  passed, surely never had it. A send that lands after the cancel cancels it there
  itself, and reconciliation (``fetch``) of an order whose cancel was requested cancels
  it there again: a cancel whose answer was lost is UNKNOWN until then. The hold is
  released only by that final answer.
- Executions are keyed ``<exchange symbol>-<trade id>`` (Binance numbers trades per
  symbol), so the core settles each exactly once however often it is reported.
- A MARKET BUY is sent as a LIMIT IOC at the price its hold was sized at
  (``order.reference_price``: the ask plus ``SPOT_MARKET_BUY_SLIPPAGE``, or a triggered
  order's trigger plus the conditional margin): it never fills beyond what is held. A
  MARKET SELL is a MARKET order (it holds its amount, whatever the price).
- Conditional orders: STOP_LIMIT and TAKE_PROFIT_LIMIT are the exchange's own
  (STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT) where ccxt's ``features`` says it takes trigger
  prices (``conditional_types``); they are sent at once and triggered there. The other
  types (and all of them on an exchange without native triggers) are the platform's,
  triggered on the spot venue's quotes (``trigger_sources``). The API's ``trigger_by``
  says which for an order.
- ``order_check`` refuses (4xx, before anything is held) an order type, time in force or
  post-only the exchange does not offer for the market (its ``orderTypes`` and ccxt's
  ``features``), and an amount or price ccxt's ``amount_to_precision`` /
  ``price_to_precision`` would change.
"""
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import ccxt
import structlog
from django.db import transaction
from django.utils import timezone

from apps.core import conf
from apps.core.errors import Conflict
from apps.core.money import positive_decimal
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.spot import exchange as exchanges
from apps.spot.models import SpotMarket, SpotSubmission
from apps.trading.constants import (
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
    Venue,
    executes_as,
    is_conditional,
)
from apps.trading.models import Market, Order
from apps.trading.services import rules
from apps.trading.venues import Execution, Submission
from apps.wallets.constants import SystemAccount

log = structlog.get_logger(__name__)

# ccxt's order status -> the core's. None: an ACK-only answer (accepted, nothing more).
_STATUS = {"open": OrderStatus.OPEN, "closed": OrderStatus.FILLED,
           "canceled": OrderStatus.CANCELED, "expired": OrderStatus.EXPIRED,
           "rejected": OrderStatus.REJECTED, None: OrderStatus.OPEN}
# The exchange's (Binance's) order type each native type is sent as.
_NATIVE = {OrderType.STOP_LIMIT: ("STOP_LOSS_LIMIT", "triggerPrice"),
           OrderType.TAKE_PROFIT_LIMIT: ("TAKE_PROFIT_LIMIT", "takeProfitPrice")}
# Definite refusals: the order was not placed.
_REFUSALS = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadRequest, ccxt.BadSymbol)
_DUPLICATE = "Duplicate order"
# The reason an order cancelled by its owner ends with, by the exchange's final answer.
_AFTER_CANCEL = {OrderStatus.CANCELED: "Canceled on the exchange.",
                 OrderStatus.FILLED: "Filled on the exchange before the cancel reached it."}
_TIF_FEATURE = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}


def client_id(order: Order) -> str:
    """The order's client order id at the exchange (``^[a-zA-Z0-9-_]{1,36}$``)."""
    return f"x-ep-{order.pk}"


def _features(ex: ccxt.Exchange) -> dict:
    return ((ex.features or {}).get("spot") or {}).get("createOrder") or {}


def native_conditional_types(ex: ccxt.Exchange) -> frozenset[str]:
    """The conditional types the exchange triggers itself, by ccxt's ``features``."""
    features = _features(ex)
    native = set()
    if features.get("triggerPrice"):
        native.add(OrderType.STOP_LIMIT)
    if features.get("takeProfitPrice"):
        native.add(OrderType.TAKE_PROFIT_LIMIT)
    return frozenset(native)


def _spot_of(market: Market) -> SpotMarket:
    # By venue and symbol, not the row's id: the core may hand over a market object it
    # cached (``trading.selectors``), whose symbol is what the order was checked against.
    return SpotMarket.objects.select_related("market").get(market__venue=market.venue,
                                                           market__symbol=market.symbol)


def resend_after() -> timedelta:
    """How long after a send the exchange may still act on its request: its signed
    timestamp's window (``SPOT_RECV_WINDOW_MS``) and the request's timeout, plus a
    second for the clocks."""
    return timedelta(milliseconds=conf.SPOT_RECV_WINDOW_MS + conf.SPOT_REQUEST_TIMEOUT_MS
                     + 1000)


def _locked_submission(order: Order) -> SpotSubmission:
    SpotSubmission.objects.get_or_create(order_id=order.pk)
    return SpotSubmission.objects.select_for_update().get(order_id=order.pk)


def claim_send(order: Order) -> bool:
    """Take the right to send ``order`` to the exchange now: False if it was sent less
    than ``resend_after()`` ago, or its cancel was requested (never sent after that).
    Locks the order's ``SpotSubmission`` row (its own short transaction: called outside
    any), so two senders, or a sender and a cancel, never both pass."""
    now = timezone.now()
    with transaction.atomic():
        row = _locked_submission(order)
        if row.cancel_requested_at is not None or (
                row.sent_at is not None and now - row.sent_at < resend_after()):
            return False
        row.sent_at, row.attempts = now, row.attempts + 1
        row.save(update_fields=["sent_at", "attempts"])
    return True


def claim_cancel(order: Order) -> datetime | None:
    """Record that ``order`` is being cancelled (no send after this: ``claim_send``) and
    return when it was last sent (None: never, and now never will be). Locks the order's
    ``SpotSubmission`` row in its own short transaction, so a send either claimed the row
    first (its request may be in flight: the caller must not finalise from "not found")
    or is refused."""
    with transaction.atomic():
        row = _locked_submission(order)
        if row.cancel_requested_at is None:
            row.cancel_requested_at = timezone.now()
            row.save(update_fields=["cancel_requested_at"])
    return row.sent_at


def _cancel_requested(order: Order) -> SpotSubmission | None:
    return SpotSubmission.objects.filter(order_id=order.pk,
                                         cancel_requested_at__isnull=False).first()


class SpotGateway:
    venue = Venue.SPOT
    synchronous = False
    counterparty = SystemAccount.EXCHANGE_OMNIBUS
    trigger_sources = frozenset({TriggerSource.LAST, TriggerSource.BID_ASK})

    @property
    def conditional_types(self) -> frozenset[str]:
        return native_conditional_types(exchanges.client())

    # --- before placing -------------------------------------------------------------

    def _fresh_quote(self, market: Market) -> Quote | None:
        quote = latest_quote(venue=Venue.SPOT, symbol=market.symbol)
        if quote is None or quote.age_seconds() > conf.SPOT_QUOTE_MAX_AGE_SECONDS:
            return None
        return quote

    def trigger_quote(self, *, market: Market) -> Quote:
        quote = self._fresh_quote(market)
        if quote is None:
            raise Conflict(f"No fresh price for {market.symbol}.", code="stale_quote")
        return quote

    def reference_price(self, *, market: Market, side: str) -> Decimal:
        """A BUY: the ask plus SPOT_MARKET_BUY_SLIPPAGE, up to the tick (what it is held
        at and the limit it is sent with); a SELL: the bid."""
        quote = self.trigger_quote(market=market)
        if side == Side.SELL:
            return quote.bid if quote.bid is not None else quote.price
        ask = quote.ask if quote.ask is not None else quote.price
        limit = ask * (1 + Decimal(conf.SPOT_MARKET_BUY_SLIPPAGE))
        return rules.to_tick(limit, tick=market.tick_size, rounding=ROUND_CEILING)

    def before_place(self, *, user_id: int) -> None:
        pass

    def order_check(self, *, market: Market, spec) -> None:
        """Refuse what the exchange does not offer for ``market`` (InvalidInput)."""
        ex = exchanges.client()
        spot = _spot_of(market)
        offered = set(spot.order_types)
        features = _features(ex)
        tifs = features.get("timeInForce") or {}
        native = native_conditional_types(ex)
        if spec.type in native:
            wanted = _NATIVE[spec.type][0]
        elif spec.type == OrderType.MARKET and spec.side == Side.BUY:
            wanted = "LIMIT"  # a LIMIT IOC at the held price
            if not tifs.get("IOC"):
                raise rules.refuse(f"{market.symbol}: the exchange offers no IOC orders, "
                                   f"which a MARKET BUY is sent as.", "type")
        else:
            wanted = executes_as(spec.type) if is_conditional(spec.type) else spec.type
            if spec.post_only:
                wanted = "LIMIT_MAKER"
        if wanted not in offered:
            raise rules.refuse(f"{spec.type} orders are not offered on {market.symbol} "
                               f"(the exchange offers {', '.join(sorted(offered))}).", "type")
        if spec.post_only and not tifs.get("PO"):
            raise rules.refuse("The exchange offers no post-only orders.", "post_only")
        if not tifs.get(_TIF_FEATURE[spec.time_in_force]):
            raise rules.refuse(f"The exchange offers no {spec.time_in_force} orders.",
                               "time_in_force")
        symbol = spot.ccxt_symbol
        try:
            amount = Decimal(ex.amount_to_precision(symbol, str(spec.amount)))
            prices = [p for p in (spec.price, spec.trigger.stop_price if spec.trigger else None)
                      if p is not None]
            exact = all(Decimal(ex.price_to_precision(symbol, str(p))) == p for p in prices)
        except ccxt.BaseError as exc:
            raise rules.refuse(f"The exchange refuses these numbers: {exc}", "amount") from None
        if amount != spec.amount:
            raise rules.refuse(f"Amount must be a multiple of {market.lot_size.normalize():f} "
                               f"on the exchange.", "amount")
        if not exact:
            raise rules.refuse(f"Price must be a multiple of {market.tick_size.normalize():f} "
                               f"on the exchange.", "price")

    # --- the exchange's answers ----------------------------------------------------

    def submit(self, *, order: Order, market: Market) -> Submission:
        ex = exchanges.client()
        spot = _spot_of(market)
        kind, price, params = self._terms(order, ex)
        if not claim_send(order):
            # Sent moments ago (another worker, the tracker): that request may still
            # reach the exchange, so this one must not; its answer or the tracker decides.
            # Or cancelled meanwhile: as it stands now (it may have closed since read).
            return Submission(status=Order.objects.values_list("status", flat=True)
                              .get(pk=order.pk))
        try:
            answer = ex.create_order(spot.ccxt_symbol, kind, order.side.lower(),
                                     str(order.amount), None if price is None else str(price),
                                     params)
        except ccxt.InvalidOrder as exc:
            if _DUPLICATE in str(exc):
                # Placed before (a retried or repeated submit): what it became there.
                return self._query(order, spot, ex, resubmit=False)
            return Submission(status=OrderStatus.REJECTED, reason=f"Exchange: {exc}"[:255])
        except _REFUSALS as exc:
            return Submission(status=OrderStatus.REJECTED, reason=f"Exchange: {exc}"[:255])
        pending = _cancel_requested(order)
        if pending is not None:
            # Cancelled while this request was in flight, and that cancel may have found
            # nothing there yet: the order is there now, so it is cancelled there now.
            return self._cancel_there(order, spot, ex, sent_at=pending.sent_at)
        return self._answer(answer, spot, executions=self._executions(
            answer.get("trades") or [], spot, answer))

    def _terms(self, order: Order, ex: ccxt.Exchange) -> tuple[str, Decimal | None, dict]:
        params = {"clientOrderId": client_id(order)}
        if order.type in native_conditional_types(ex) and order.triggered_at is None:
            params[_NATIVE[order.type][1]] = str(order.stop_price)
            params["timeInForce"] = order.time_in_force
            return "limit", order.price, params
        works_as = executes_as(order.type)
        if works_as == OrderType.MARKET and order.side == Side.BUY:
            params["timeInForce"] = TimeInForce.IOC
            return "limit", order.reference_price, params
        if works_as == OrderType.MARKET:
            return "market", None, params
        if order.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = order.time_in_force
        return "limit", order.price, params

    def cancel(self, *, order: Order, market: Market) -> Submission:
        """Cancel ``order`` by its client order id. Never sent (and, from here, never
        will be: ``claim_cancel``): CANCELED at once. Otherwise what the exchange says;
        where it knows no such order while a request for it may still arrive, UNKNOWN
        with a "cancel pending" reason, for reconciliation (``fetch``) to finish."""
        ex = exchanges.client()
        spot = _spot_of(market)
        sent_at = claim_cancel(order)
        if sent_at is None and order.status == OrderStatus.NEW:
            return Submission(status=OrderStatus.CANCELED, reason="Canceled before it "
                                                                  "reached the exchange.")
        return self._cancel_there(order, spot, ex, sent_at=sent_at)

    def _cancel_there(self, order: Order, spot: SpotMarket, ex: ccxt.Exchange, *,
                      sent_at: datetime | None) -> Submission:
        try:
            ex.cancel_order(None, spot.ccxt_symbol, {"clientOrderId": client_id(order)})
        except ccxt.OrderNotFound:
            pass  # already closed there, or not placed (yet): what it is says the lookup
        answer = self._lookup(order, spot, ex)
        if answer is not None:
            # Its reason replaces a "Cancel pending" one the order may carry.
            return replace(answer, reason=answer.reason or _AFTER_CANCEL.get(answer.status, ""))
        if order.status not in (OrderStatus.NEW, OrderStatus.UNKNOWN):
            return Submission(status=order.status)  # nothing to say yet
        if sent_at is not None and timezone.now() - sent_at < resend_after():
            return Submission(status=OrderStatus.UNKNOWN, reason=(
                "Cancel pending: the exchange has not seen the order yet, but may still "
                "receive it."))
        # Its last request can no longer reach the exchange, and none follows a cancel.
        return Submission(status=OrderStatus.CANCELED, reason="Canceled: the exchange never "
                                                              "received it.")

    def fetch(self, *, order: Order, market: Market) -> Submission:
        """What became of ``order`` there; one whose cancel was requested is cancelled
        there (again: a cancel whose answer was lost, or that came before the order did)
        and decided as ``cancel`` does; one the exchange never received is sent (again)."""
        ex = exchanges.client()
        spot = _spot_of(market)
        pending = _cancel_requested(order)
        if pending is not None:
            return self._cancel_there(order, spot, ex, sent_at=pending.sent_at)
        return self._query(order, spot, ex)

    def _query(self, order: Order, spot: SpotMarket, ex: ccxt.Exchange, *,
               resubmit: bool = True) -> Submission:
        answer = self._lookup(order, spot, ex)
        if answer is not None:
            return answer
        if resubmit and order.status in (OrderStatus.NEW, OrderStatus.UNKNOWN):
            # Never received (or not yet: ``submit`` sends again only once the last
            # request can no longer reach the exchange).
            log.info("spot_order_resubmit", order_id=order.pk)
            return self.submit(order=order, market=spot.market)
        return Submission(status=order.status)  # nothing to say yet

    def _lookup(self, order: Order, spot: SpotMarket,
                ex: ccxt.Exchange) -> Submission | None:
        """The order as the exchange has it, with its trades; None if it knows none."""
        try:
            found = ex.fetch_order(None, spot.ccxt_symbol, {"clientOrderId": client_id(order)})
        except ccxt.OrderNotFound:
            return None
        trades = []
        if found.get("filled"):
            trades = ex.fetch_my_trades(spot.ccxt_symbol, None, None,
                                        {"orderId": found["id"]})
        return self._answer(found, spot, executions=self._executions(trades, spot, found))

    def _answer(self, answer: dict, spot: SpotMarket, *,
                executions: tuple[Execution, ...]) -> Submission:
        status = _STATUS.get(answer.get("status"), OrderStatus.OPEN)
        return Submission(status=status, executions=executions,
                          external_id=str(answer.get("id") or ""),
                          reason=("" if status not in (OrderStatus.REJECTED, OrderStatus.EXPIRED)
                                  else f"Exchange: {answer.get('status')}"))

    def _executions(self, trades: list[dict], spot: SpotMarket,
                    order: dict) -> tuple[Execution, ...]:
        out = []
        for t in trades:
            trade_id = t.get("id") or (t.get("info") or {}).get("tradeId")
            price, amount = positive_decimal(t.get("price")), positive_decimal(t.get("amount"))
            if trade_id is None or price is None or amount is None:
                continue
            ms = t.get("timestamp") or order.get("timestamp")
            when = datetime.fromtimestamp(ms / 1000, UTC) if ms else timezone.now()
            fee = t.get("fee") or {}
            out.append(Execution(
                price=price, amount=amount,
                liquidity=Liquidity.MAKER if t.get("takerOrMaker") == "maker"
                else Liquidity.TAKER,
                executed_at=when, trade_id=f"{spot.exchange_symbol}-{trade_id}",
                evidence={"trade": {
                    "id": str(trade_id), "order": str(order.get("id") or ""),
                    "price": str(price), "amount": str(amount),
                    "fee": str(positive_decimal(fee.get("cost")) or 0),
                    "fee_currency": fee.get("currency") or "",
                }}))
        return tuple(out)

    def dispatch(self, *, action: str, order_id: int) -> None:
        """Run ``action`` (submit, cancel) for the order from a Celery task (after the
        caller's commit: the core calls this from ``transaction.on_commit``)."""
        from apps.spot import tasks

        {"submit": tasks.order_submit_task,
         "cancel": tasks.order_cancel_task}[action].delay(order_id)
