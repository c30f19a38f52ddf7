"""TwelveData paper trading: catalog import, paper orders and their exactly-once execution.

Lock order (every function here follows it, so none can deadlock another): the order
row, then every wallet the function may write, at once (``wallets_lock``: pk order), then
the market row and holds. The market row comes after the wallets because MariaDB takes it
by itself there: updating an order's status re-checks the order's market foreign key (its
index holds the status), a shared lock on the market row. ``order_place`` locks the
market row for update after the wallets; ``markets_set_flags`` locks only market rows.
Money moves only through ``apps.wallets.services``; paper orders trade against the
PAPER_MARKET system account, fees go to FEES.

Execution rules:
- MARKET fills at once against the latest quote if it is fresh (ask for a buy, bid for a
  sell, the last price where the feed has no book) as TAKER.
- LIMIT that the latest fresh quote already crosses fills at once at the quote's price
  (price improvement, as on a real venue) as TAKER; otherwise it rests.
- A resting LIMIT fills at its limit price as MAKER when a quote crosses it
  (buy: ask <= limit; sell: bid >= limit), if that quote is fresh and newer than the order.
- The fee rates an order pays are the market's when it was placed (its hold was sized
  with them); an admin's later change applies to new orders only.
- Each fill of a resting order is its own transaction. An order that cannot settle (not a
  passing database error) is set aside with the reason (``settle_error``) and skipped
  until an admin clears it: it never holds up the other orders.
- Quote amounts round in the platform's favour: a buyer pays the cost rounded up, a seller
  receives the proceeds rounded down; fees round up.
"""
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.crypto import decrypt_secret, encrypt_secret
from apps.core.errors import Conflict, DomainError, InvalidInput, NotFound
from apps.core.identifiers import is_canonical
from apps.core.money import EXACT, AmountError, exact_mul, quantize_exact, round_down, round_up
from apps.marketdata import streams
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.twelvedata import gateway, selectors
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdOrder, TwdProvider
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount, WalletType

log = structlog.get_logger(__name__)
ZERO = Decimal(0)

# --- provider -----------------------------------------------------------------------------


def provider_set_key(*, provider: TwdProvider, api_key: str) -> None:
    """Store ``api_key`` encrypted (blank clears it)."""
    provider.api_key_encrypted = encrypt_secret(api_key) if api_key else ""
    provider.save(update_fields=["api_key_encrypted", "updated_at"])


def provider_test_connection(*, provider: TwdProvider) -> int:
    """Make one authenticated request with the provider's key; returns the forex pair
    count. Raises GatewayError, Conflict (no key)."""
    key = settings.TWELVEDATA_API_KEY or (
        decrypt_secret(provider.api_key_encrypted) if provider.api_key_encrypted else "")
    if not key:
        raise Conflict(f"Provider {provider} has no API key.", code="provider_no_key")
    return gateway.probe(td=gateway.client(apikey=key))


# --- catalog ------------------------------------------------------------------------------

# kind -> (market type, price precision, amount precision)
_KIND_DEFAULTS = {
    "forex": (TwdMarket.Type.FOREX, 5, 2),
    "crypto": (TwdMarket.Type.CRYPTO, 2, 6),
    "stocks": (TwdMarket.Type.STOCKS, 2, 4),
    "etf": (TwdMarket.Type.ETF, 2, 4),
    "indices": (TwdMarket.Type.INDICES, 2, 4),
}
_UPSERT_FIELDS = ["type", "name", "base_currency", "quote_currency", "exchange", "mic_code",
                  "metadata", "price_precision", "amount_precision", "updated_at"]
_FIAT_DECIMALS = 2
_CHUNK = 1000


def parse_catalog_entry(*, kind: str, entry: dict) -> TwdMarket | None:
    """One TwelveData catalog entry as an (unsaved) market, or None if unusable.

    Pairs (forex, crypto) split ``BASE/QUOTE``; stocks, ETFs and indices trade the symbol
    itself against the listing ``currency``.
    """
    market_type, price_precision, amount_precision = _KIND_DEFAULTS[kind]
    symbol = str(entry.get("symbol") or "").strip()
    if not symbol or len(symbol) > 32:
        return None
    if kind in ("forex", "crypto"):
        base, sep, quote = symbol.partition("/")
        if not sep or not base or not quote:
            return None
        name = f"{entry.get('currency_base', base)} / {entry.get('currency_quote', quote)}"
        if kind == "forex" and quote == "JPY":
            price_precision = 3
        exchange, mic = "", ""
    else:
        base, quote = symbol, str(entry.get("currency") or "")
        name = str(entry.get("name") or symbol)
        exchange, mic = str(entry.get("exchange") or ""), str(entry.get("mic_code") or "")
    # Codes are stored only as canonical as the API asks them (apps.core.identifiers):
    # a listing in "GBp" (pence) must not become GBP, nor a look-alike a real code.
    if not (is_canonical(symbol, kind="symbol") and is_canonical(base, kind="currency")
            and is_canonical(quote, kind="currency")):
        return None
    metadata = {k: v for k, v in entry.items()
                if k not in {"symbol", "name", "currency", "exchange", "mic_code"}}
    return TwdMarket(symbol=symbol, type=market_type, name=name[:128], base_currency=base,
                     quote_currency=quote, exchange=exchange[:64], mic_code=mic[:16],
                     metadata=metadata, price_precision=price_precision,
                     amount_precision=amount_precision)


def catalog_import(*, kind: str, job: TwdImportJob | None = None) -> tuple[int, int]:
    """Import the catalog of ``kind`` (forex, stocks, indices, etf, crypto or all).

    Bulk upsert keyed by symbol: new markets are disabled; a re-import updates the
    provider's fields and never touches status, trending, hot or fees (the admin's
    choices). Missing currencies are created. Reports progress on ``job``. Returns
    (created, updated). Raises Conflict (no provider), GatewayError.
    """
    if kind != "all" and kind not in gateway.CATALOG_KINDS:
        raise InvalidInput(f"Unknown catalog kind {kind!r}.")
    kinds = list(gateway.CATALOG_KINDS) if kind == "all" else [kind]
    td = gateway.client(apikey=selectors.provider_api_key())
    created = updated = 0
    for step, one_kind in enumerate(kinds):
        markets: dict[str, TwdMarket] = {}
        for entry in gateway.fetch_catalog(td=td, kind=one_kind):
            market = parse_catalog_entry(kind=one_kind, entry=entry)
            if market is not None:
                markets.setdefault(market.symbol, market)  # the first listing wins
        c, u = _upsert_markets(list(markets.values()))
        created, updated = created + c, updated + u
        if job is not None:
            TwdImportJob.objects.filter(pk=job.pk).update(
                progress=int(100 * (step + 1) / len(kinds)), created=created, updated=updated,
                updated_at=timezone.now())
    log.info("twd_catalog_imported", kind=kind, created=created, updated=updated)
    return created, updated


def _upsert_markets(markets: list[TwdMarket]) -> tuple[int, int]:
    currencies = {}
    for m in markets:
        currencies.setdefault(m.quote_currency, (m.quote_currency, m.quote_currency,
                                                 _FIAT_DECIMALS))
        currencies.setdefault(m.base_currency, (m.base_currency, m.name, m.amount_precision))
    wallet_services.currencies_ensure(currencies=currencies.values())
    decimals = wallet_selectors.currency_decimals_map(codes=list(currencies))
    created = 0
    for start in range(0, len(markets), _CHUNK):
        chunk = markets[start:start + _CHUNK]
        for m in chunk:
            # An amount finer than the base currency could not be held in a wallet.
            m.amount_precision = min(m.amount_precision, decimals[m.base_currency])
        existing = set(TwdMarket.objects.filter(symbol__in=[m.symbol for m in chunk])
                       .values_list("symbol", flat=True))
        created += len(chunk) - len(existing)
        # MySQL's ON DUPLICATE KEY takes no conflict target (symbol is its only unique key).
        target = (["symbol"] if connection.features.supports_update_conflicts_with_target
                  else None)
        TwdMarket.objects.bulk_create(chunk, update_conflicts=True, unique_fields=target,
                                      update_fields=_UPSERT_FIELDS)
    return created, len(markets) - created


def import_job_run(*, job_id: int) -> TwdImportJob:
    """Run one queued import job, recording its outcome on the job row: DONE, or FAILED
    with the reason whatever the error (it is logged, not raised)."""
    job = TwdImportJob.objects.get(pk=job_id)
    TwdImportJob.objects.filter(pk=job_id).update(status=TwdImportJob.Status.RUNNING)
    try:
        created, updated = catalog_import(kind=job.kind, job=job)
    except DomainError as exc:
        TwdImportJob.objects.filter(pk=job_id).update(status=TwdImportJob.Status.FAILED,
                                                      message=exc.message)
    except Exception as exc:
        # Anything else (a bug, a lost database connection) must still end the job: left
        # RUNNING, the admin would wait for it forever.
        log.exception("twd_import_job_crashed", job_id=job_id)
        TwdImportJob.objects.filter(pk=job_id).update(status=TwdImportJob.Status.FAILED,
                                                      message=f"{type(exc).__name__}: {exc}")
    else:
        TwdImportJob.objects.filter(pk=job_id).update(
            status=TwdImportJob.Status.DONE, progress=100, created=created, updated=updated,
            message=f"{created} created, {updated} updated")
    job.refresh_from_db()
    return job


def import_job_start(*, kind: str, requested_by_id: int | None,
                     enqueue: Callable[[int], None]) -> TwdImportJob:
    """Record an import job and hand it to ``enqueue`` (the Celery task) after commit."""
    if kind != "all" and kind not in gateway.CATALOG_KINDS:
        raise InvalidInput(f"Unknown catalog kind {kind!r}.")
    job = TwdImportJob.objects.create(kind=kind, requested_by_id=requested_by_id)
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def markets_set_flags(*, market_ids: list[int], **flags: bool) -> int:
    """Set status / is_trending / is_hot on many markets at once. Disabling takes the
    market rows' locks, so it waits for (and then stops) any order being placed."""
    allowed = {"status", "is_trending", "is_hot"}
    if not flags or set(flags) - allowed:
        raise InvalidInput(f"Only {sorted(allowed)} can be set.")
    with transaction.atomic():
        ids = list(TwdMarket.objects.select_for_update().filter(pk__in=market_ids)
                   .order_by("pk").values_list("pk", flat=True))
        return TwdMarket.objects.filter(pk__in=ids).update(**flags, updated_at=timezone.now())


# --- paper orders -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fill:
    price: Decimal
    liquidity: str


def paper_account_ensure(*, user_id: int) -> None:
    """Grant the demo balance on a user's first paper action (once: keyed per user)."""
    wallet_services.grant_paper_funds(
        user_id=user_id, currency=settings.PAPER_DEMO_CURRENCY,
        amount=Decimal(settings.PAPER_DEMO_BALANCE), key=f"paper:grant:{user_id}")


def _exact_or_invalid(value: Decimal, *, decimals: int, what: str) -> Decimal:
    try:
        return quantize_exact(value, decimals=decimals)
    except AmountError as exc:
        raise InvalidInput(f"{what} {exc}.", fields={what.lower(): [f"{what} {exc}."]}) \
            from None


def _is_fresh(quote: Quote) -> bool:
    return quote.age_seconds() <= settings.PAPER_QUOTE_MAX_AGE_SECONDS


def _fresh_quote(symbol: str) -> Quote | None:
    quote = latest_quote(symbol=symbol)
    return quote if quote is not None and _is_fresh(quote) else None


def _taker_price(side: str, quote: Quote) -> Decimal:
    if side == TwdOrder.Side.BUY:
        return quote.ask if quote.ask is not None else quote.price
    return quote.bid if quote.bid is not None else quote.price


def _crosses(*, side: str, limit: Decimal, quote: Quote) -> bool:
    return (_taker_price(side, quote) <= limit if side == TwdOrder.Side.BUY
            else _taker_price(side, quote) >= limit)


def _quote_decimals(market: TwdMarket) -> int:
    return wallet_selectors.currency_decimals(code=market.quote_currency)


def _buy_cost(amount: Decimal, price: Decimal, rate: Decimal,
              decimals: int) -> tuple[Decimal, Decimal]:
    """(cost, fee) of buying: both rounded up, as the buyer pays them."""
    cost = round_up(exact_mul(amount, price), decimals=decimals)
    return cost, round_up(exact_mul(cost, rate), decimals=decimals)


def _wallets_lock(*, user_id: int, market: TwdMarket, side: str, fills: bool) -> None:
    """Lock every PAPER wallet an order writes: the one its hold is in and, if it fills,
    the user's other wallet of the market, PAPER_MARKET's two and FEES' quote wallet."""
    paper, base, quote = WalletType.PAPER, market.base_currency, market.quote_currency
    if not fills:
        held = quote if side == TwdOrder.Side.BUY else base
        wallet_services.wallets_lock(owners=[(user_id, None, paper, held)])
        return
    market_account, fees = SystemAccount.PAPER_MARKET, SystemAccount.FEES
    wallet_services.wallets_lock(owners=[
        (user_id, None, paper, base), (user_id, None, paper, quote),
        (None, market_account, paper, base), (None, market_account, paper, quote),
        (None, fees, paper, quote)])


def order_place(*, user_id: int, symbol: str, side: str, type: str, amount: Decimal,
                price: Decimal | None = None, client_order_id: str | None = None) -> TwdOrder:
    """Place a paper order.

    Validates (market enabled, amount and price precision, minimum value), grants the
    demo balance on first use, then in one transaction: locks every wallet the order
    writes, then the market row (an admin disabling it meanwhile makes this fail cleanly),
    records the market's fee rates on the order, holds the funds (BUY: cost plus the
    highest fee at the limit or market price, in quote currency; SELL: the base amount),
    and fills at once when the rules above say so. A replay with the same
    ``client_order_id`` returns the first order. Raises NotFound (unknown market),
    InvalidInput, Conflict (disabled or just re-imported market, stale quote for MARKET,
    duplicate id), InsufficientFunds.
    """
    if side not in TwdOrder.Side.values or type not in TwdOrder.Type.values:
        raise InvalidInput("side must be BUY or SELL and type MARKET or LIMIT.")
    market = TwdMarket.objects.filter(symbol=symbol).first()
    if market is None or not market.status:
        raise NotFound(f"No enabled paper market {symbol!r}.", code="unknown_market")
    amount = _exact_or_invalid(amount, decimals=market.amount_precision, what="Amount")
    if type == TwdOrder.Type.LIMIT:
        if price is None:
            raise InvalidInput("A LIMIT order needs a price.", fields={"price": ["Required."]})
        price = _exact_or_invalid(price, decimals=market.price_precision, what="Price")
    elif price is not None:
        raise InvalidInput("A MARKET order takes no price.", fields={"price": ["Not allowed."]})
    client_order_id = client_order_id or uuid.uuid4().hex
    existing = TwdOrder.objects.filter(user_id=user_id, client_order_id=client_order_id).first()
    if existing is not None:
        return _replayed(existing, market=market, side=side, type=type, amount=amount,
                         price=price)
    decimals = _quote_decimals(market)
    quote = _fresh_quote(market.symbol)
    if type == TwdOrder.Type.MARKET and quote is None:
        raise Conflict(f"No fresh price for {market.symbol}; try again shortly.",
                       code="stale_quote")
    fill = None
    if quote is not None and (type == TwdOrder.Type.MARKET or _crosses(side=side, limit=price,
                                                                      quote=quote)):
        fill = _Fill(price=_taker_price(side, quote), liquidity=TwdOrder.Liquidity.TAKER)
    reference = price if price is not None else fill.price
    if round_down(exact_mul(amount, reference), decimals=decimals) <= 0:
        raise InvalidInput(f"Order value is below 1 unit of {market.quote_currency}.")
    paper_account_ensure(user_id=user_id)

    try:
        with transaction.atomic():
            _wallets_lock(user_id=user_id, market=market, side=side, fills=fill is not None)
            locked = TwdMarket.objects.select_for_update().get(pk=market.pk)
            if not locked.status:
                raise Conflict(f"Market {symbol} was just disabled.", code="market_disabled")
            if (locked.base_currency, locked.quote_currency) != (market.base_currency,
                                                                 market.quote_currency):
                # A catalog re-import changed them after the wallets were chosen.
                raise Conflict(f"Market {symbol} just changed; try again.",
                               code="market_changed")
            order = TwdOrder.objects.create(
                user_id=user_id, market=locked, client_order_id=client_order_id, type=type,
                side=side, price=price, amount=amount, remaining=amount,
                maker_fee_rate=locked.maker_fee, taker_fee_rate=locked.taker_fee)
            _publish_order(order, event="placed", symbol=locked.symbol)
            if side == TwdOrder.Side.BUY:
                rate = max(order.maker_fee_rate, order.taker_fee_rate)
                cost, fee = _buy_cost(amount, reference, rate, decimals)
                wallet_services.hold_create(
                    user_id=user_id, wallet_type=WalletType.PAPER,
                    currency=locked.quote_currency, amount=cost + fee, key=order.hold_key)
            else:
                wallet_services.hold_create(
                    user_id=user_id, wallet_type=WalletType.PAPER,
                    currency=locked.base_currency, amount=amount, key=order.hold_key)
            if fill is not None:
                _execute(order=order, market=locked, quote=quote, fill=fill, decimals=decimals)
    except IntegrityError:
        # A concurrent request with the same client_order_id won the unique key.
        existing = TwdOrder.objects.filter(user_id=user_id,
                                           client_order_id=client_order_id).first()
        if existing is None:
            raise
        return _replayed(existing, market=market, side=side, type=type, amount=amount,
                         price=price)
    return order


def _replayed(order: TwdOrder, *, market: TwdMarket, side: str, type: str, amount: Decimal,
              price: Decimal | None) -> TwdOrder:
    if (order.market_id, order.side, order.type, order.amount, order.price) != (
            market.pk, side, type, amount, price):
        raise Conflict("client_order_id was already used for a different order.",
                       code="duplicate_client_order_id")
    return order


def _execute(*, order: TwdOrder, market: TwdMarket, quote: Quote, fill: _Fill,
             decimals: int) -> None:
    """Fill ``order`` in full at ``fill.price``, at the fee rate the order was placed with.
    The caller holds the order row (locked, or just created in this transaction) and the
    wallets (``_wallets_lock``) and guarantees the order is OPEN."""
    rate = (order.maker_fee_rate if fill.liquidity == TwdOrder.Liquidity.MAKER
            else order.taker_fee_rate)
    paper = wallet_services.TradeParty(system=SystemAccount.PAPER_MARKET)
    if order.side == TwdOrder.Side.BUY:
        cost, fee = _buy_cost(order.amount, fill.price, rate, decimals)
        buyer = wallet_services.TradeParty(user_id=order.user_id, hold_key=order.hold_key,
                                           fee=fee, close_hold=True)
        seller = paper
    else:
        cost = round_down(exact_mul(order.amount, fill.price), decimals=decimals)
        fee = round_up(exact_mul(cost, rate), decimals=decimals)
        buyer = paper
        seller = wallet_services.TradeParty(user_id=order.user_id, hold_key=order.hold_key,
                                            fee=fee, close_hold=True)
    wallet_services.settle_trade(
        key=f"twd:fill:{order.pk}", wallet_type=WalletType.PAPER, base=market.base_currency,
        quote=market.quote_currency, quantity=order.amount, quote_amount=cost, buyer=buyer,
        seller=seller, memo=f"paper {order.side} {order.amount} {market.symbol} @ {fill.price}")
    now = timezone.now()
    TwdOrder.objects.filter(pk=order.pk).update(
        status=TwdOrder.Status.CLOSED, filled=order.amount, remaining=ZERO, cost=cost, fee=fee,
        fee_currency=market.quote_currency, liquidity=fill.liquidity, fill_price=fill.price,
        quote_price=quote.price, quote_bid=quote.bid, quote_ask=quote.ask,
        quote_timestamp=quote.timestamp, quote_source=quote.source, filled_at=now,
        updated_at=now)
    order.refresh_from_db()
    _publish_order(order, event="filled", symbol=market.symbol)


def order_cancel(*, user_id: int, order_id: int) -> TwdOrder:
    """Cancel the user's OPEN order and release its hold. Locks the order row, then the
    hold's wallet. Raises NotFound (unknown or another user's order), Conflict (not OPEN)."""
    with transaction.atomic():
        # Not select_related: FOR UPDATE over a join would lock the market row too.
        order = (TwdOrder.objects.select_for_update()
                 .filter(pk=order_id, user_id=user_id, deleted_at__isnull=True).first())
        if order is None:
            raise NotFound(f"No order {order_id}.")
        if order.status != TwdOrder.Status.OPEN:
            raise Conflict(f"Order {order_id} is {order.status}, not OPEN.",
                           code="order_not_open")
        _wallets_lock(user_id=user_id, market=order.market, side=order.side, fills=False)
        wallet_services.hold_release(key=order.hold_key)
        TwdOrder.objects.filter(pk=order.pk).update(status=TwdOrder.Status.CANCELED,
                                                    updated_at=timezone.now())
        order.refresh_from_db()
        _publish_order(order, event="canceled", symbol=order.market.symbol)
        return order


def _decimal_str(value: Decimal | int | None) -> str | None:
    # Normalised, so a fresh row (Python values) and a re-read one (the column's 18
    # places) read the same; exactly, as amounts have up to 36 digits.
    return None if value is None else f"{EXACT.normalize(Decimal(value)):f}"


def _publish_order(order: TwdOrder, *, event: str, symbol: str) -> None:
    """Tell the owner's ``orders`` stream about ``order`` as it stands now, once the
    surrounding transaction commits."""
    streams.publish_user_event(user_id=order.user_id, stream=streams.ORDERS, data={
        "event": event, "id": order.pk, "client_order_id": order.client_order_id,
        "symbol": symbol, "side": order.side, "type": order.type, "status": order.status,
        "price": _decimal_str(order.price), "amount": _decimal_str(order.amount),
        "filled": _decimal_str(order.filled), "remaining": _decimal_str(order.remaining),
        "fill_price": _decimal_str(order.fill_price), "cost": _decimal_str(order.cost),
        "fee": _decimal_str(order.fee), "fee_currency": order.fee_currency,
        "liquidity": order.liquidity,
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
    })


# --- execution of resting orders ----------------------------------------------------------


def crossing_order_ids(*, market_id: int, quote: Quote) -> list[int]:
    """Ids of the OPEN limit orders ``quote`` crosses and may fill, oldest first: placed
    before the quote's time and not set aside. One query whose two ranges both lie on the
    (market, status, side, price) index, never a scan of all open orders."""
    crossed = (Q(side=TwdOrder.Side.BUY, price__gte=_taker_price("BUY", quote))
               | Q(side=TwdOrder.Side.SELL, price__lte=_taker_price("SELL", quote)))
    return list(TwdOrder.objects.filter(crossed, market_id=market_id,
                                        status=TwdOrder.Status.OPEN,
                                        created_at__lt=quote.timestamp, settle_error="")
                .order_by("pk").values_list("pk", flat=True))


def fill_crossing(*, quote: Quote) -> int:
    """Fill every resting order of ``quote.symbol`` that the quote crosses; returns how many
    this call filled. A quote older than PAPER_QUOTE_MAX_AGE_SECONDS fills nothing, and
    none fills an order placed after the quote's time.

    Exactly once: each fill is its own transaction that locks the order row, proceeds only
    if it is still OPEN, then locks the wallets, with the settlement keyed by the order;
    two executors, replayed quotes or a crash mid-fill cannot fill an order twice or lose
    it. A passing database error (a lost connection, a lock timeout) leaves the order OPEN
    for the next quote or the sweep; any other failure sets the order aside with its
    reason (``settle_error``, logged). Neither stops the orders after it.
    """
    if not _is_fresh(quote):
        log.warning("twd_stale_quote_ignored", symbol=quote.symbol,
                    timestamp=quote.timestamp.isoformat())
        return 0
    market = TwdMarket.objects.filter(symbol=quote.symbol, status=True).first()
    if market is None:
        return 0
    decimals = _quote_decimals(market)
    filled = 0
    for order_id in crossing_order_ids(market_id=market.pk, quote=quote):
        try:
            filled += _fill_resting(order_id=order_id, market=market, quote=quote,
                                    decimals=decimals)
        except (OperationalError, InterfaceError) as exc:
            log.warning("twd_fill_deferred", order_id=order_id, error=str(exc))
        except Exception as exc:
            _set_aside(order_id=order_id, reason=f"{type(exc).__name__}: {exc}")
    if filled:
        log.info("twd_orders_filled", symbol=quote.symbol, count=filled)
    return filled


def _fill_resting(*, order_id: int, market: TwdMarket, quote: Quote, decimals: int) -> int:
    """Fill one resting order as MAKER at its limit price in a transaction of its own;
    1 if it filled, 0 if it no longer may (filled, cancelled, set aside, not crossed, or
    placed after the quote). Locks the order row, then its wallets."""
    with transaction.atomic():
        order = (TwdOrder.objects.select_for_update()
                 .filter(pk=order_id, status=TwdOrder.Status.OPEN, settle_error="").first())
        if (order is None or order.created_at >= quote.timestamp
                or not _crosses(side=order.side, limit=order.price, quote=quote)):
            return 0
        _wallets_lock(user_id=order.user_id, market=market, side=order.side, fills=True)
        _execute(order=order, market=market, quote=quote, decimals=decimals,
                 fill=_Fill(price=order.price, liquidity=TwdOrder.Liquidity.MAKER))
        return 1


def _set_aside(*, order_id: int, reason: str) -> None:
    """Mark the OPEN order as not settleable for ``reason`` (called while handling the
    error, whose traceback is logged)."""
    now = timezone.now()
    TwdOrder.objects.filter(pk=order_id, status=TwdOrder.Status.OPEN).update(
        settle_error=reason, settle_error_at=now, updated_at=now)
    log.error("twd_order_set_aside", order_id=order_id, reason=reason, exc_info=True)


def orders_retry_settlement(*, order_ids: list[int]) -> int:
    """Clear the settle error of those of ``order_ids`` that are OPEN and set aside, so that
    the next crossing quote or sweep tries to fill them again (and sets them aside again if
    they still cannot settle). Returns how many were cleared."""
    now = timezone.now()
    cleared = (TwdOrder.objects.filter(pk__in=order_ids, status=TwdOrder.Status.OPEN)
               .exclude(settle_error="")
               .update(settle_error="", settle_error_at=None, updated_at=now))
    log.info("twd_orders_retry_settlement", order_ids=sorted(order_ids), cleared=cleared)
    return cleared


def sweep(*, enqueue: Callable[[Quote], None]) -> int:
    """The safety net: hand every enabled market's fresh quote to ``enqueue``. Returns the
    number of markets swept."""
    symbols = list(TwdMarket.objects.filter(status=True).values_list("symbol", flat=True))
    count = 0
    for symbol in symbols:
        quote = _fresh_quote(symbol)
        if quote is not None:
            enqueue(quote)
            count += 1
    return count

