"""The spot venue's writes: the provider, the import of the exchange's markets, the
tracking of orders at the exchange, and the reconciliation with its account.

Orders themselves are the trading core's (``apps.trading.services``: placing holds
first, ``order_submit``/``order_reconcile``/``order_cancel_remote`` apply the exchange's
answers through ``apps.spot.gateway``). Nothing here changes a balance. Locks: the
provider rows (``provider_activate``, all of them in pk order); the core's services take
their own. Errors: Conflict (no active provider), InvalidInput; ccxt's errors from the
exchange are turned into ``ExchangeUnavailable`` (502) where an admin or a command
asked.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import ccxt
import structlog
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core import conf
from apps.core.crypto import encrypt_secret
from apps.core.errors import DomainError, NotFound
from apps.core.identifiers import is_canonical
from apps.core.jobs import job_run
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quotes
from apps.spot import exchange as exchanges
from apps.spot import selectors
from apps.spot.gateway import client_id
from apps.spot.models import SpotImportJob, SpotMarket, SpotProvider
from apps.trading import selectors as trading_selectors
from apps.trading import services as trading_services
from apps.trading.constants import (
    LIVE_STATUSES,
    RESTING_STATUSES,
    MarketKind,
    OrderStatus,
    Venue,
)
from apps.trading.models import Fill, Market, Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount, WalletType

log = structlog.get_logger(__name__)


class ExchangeUnavailable(DomainError):
    status = 502
    code = "exchange_error"


# --- provider -----------------------------------------------------------------------------


def provider_set_credentials(*, provider: SpotProvider, api_key: str | None,
                             api_secret: str | None) -> None:
    """Store the key and secret encrypted (None: keep; blank: clear)."""
    fields = []
    for value, name in ((api_key, "api_key_encrypted"), (api_secret, "api_secret_encrypted")):
        if value is not None:
            setattr(provider, name, encrypt_secret(value) if value else "")
            fields.append(name)
    if fields:
        provider.save(update_fields=[*fields, "updated_at"])


def provider_activate(*, provider_id: int) -> SpotProvider:
    """Make ``provider_id`` the one active provider (the others inactive), under the
    provider rows' locks (pk order). The process's exchange object follows at its next
    use (``exchange.client`` compares the provider's stamp)."""
    with transaction.atomic():
        rows = list(SpotProvider.objects.select_for_update().order_by("pk"))
        SpotProvider.objects.filter(is_active=True).exclude(pk=provider_id).update(
            is_active=False, updated_at=timezone.now())
        SpotProvider.objects.filter(pk=provider_id).update(is_active=True,
                                                           updated_at=timezone.now())
    return next(p for p in rows if p.pk == provider_id)


def provider_deactivate(*, provider_id: int) -> None:
    SpotProvider.objects.filter(pk=provider_id).update(is_active=False,
                                                       updated_at=timezone.now())


def provider_test_connection(*, provider: SpotProvider) -> dict[str, int]:
    """Load the provider's markets and read its account (one signed request). Returns
    the market and balance counts. Raises ExchangeUnavailable."""
    ex = exchanges.build(provider)
    try:
        markets = ex.load_markets()
        balance = ex.fetch_balance()
    except ccxt.BaseError as exc:
        raise ExchangeUnavailable(f"{provider}: {type(exc).__name__}: {exc}"[:500]) from exc
    return {"markets": len(markets), "balances": len(balance.get("total") or {})}


def provider_record_opening_balances(*, provider: SpotProvider) -> dict[str, str]:
    """Store the exchange account's totals as the provider's opening balances (what
    ``reconcile`` counts the platform's fills from); done once, before trading there.
    Raises ExchangeUnavailable."""
    totals = _exchange_totals(exchanges.build(provider))
    provider.opening_balances = {code: f"{v.normalize():f}" for code, v in totals.items()}
    provider.save(update_fields=["opening_balances", "updated_at"])
    return provider.opening_balances


def _exchange_totals(ex: ccxt.Exchange) -> dict[str, Decimal]:
    try:
        balance = ex.fetch_balance()
    except ccxt.BaseError as exc:
        raise ExchangeUnavailable(f"fetch_balance: {type(exc).__name__}: {exc}"[:500]) from exc
    return {code: Decimal(str(v)) for code, v in (balance.get("total") or {}).items()
            if v is not None}


# --- import -------------------------------------------------------------------------------


def _step(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).normalize()


def _places(step: Decimal | None, default: int = 8) -> int:
    if step is None:
        return default
    return max(0, -step.as_tuple().exponent)


@dataclass(frozen=True)
class Listing:
    """One market of the exchange, as the import keeps it."""

    venue: str
    kind: str
    symbol: str
    market: dict = field(repr=False)


def listings(markets: dict[str, dict]) -> list[Listing]:
    """The exchange's spot markets and linear perpetuals the platform can name (canonical
    codes and symbols, a price and amount step), by symbol; the rest is skipped."""
    out = []
    for m in markets.values():
        if m.get("spot"):
            venue, kind = Venue.SPOT, MarketKind.SPOT
        elif m.get("swap") and m.get("linear"):
            venue, kind = Venue.FUTURES, MarketKind.PERPETUAL
        else:
            continue
        base, quote = m.get("base") or "", m.get("quote") or ""
        symbol = f"{base}/{quote}"
        precision = m.get("precision") or {}
        if not (is_canonical(base, kind="currency") and is_canonical(quote, kind="currency")
                and is_canonical(symbol, kind="symbol") and precision.get("price")
                and precision.get("amount")):
            continue
        out.append(Listing(venue=venue, kind=kind, symbol=symbol, market=m))
    return sorted(out, key=lambda x: (x.venue, x.symbol))


def _trading_market(listing: Listing, *, decimals: dict[str, int]) -> Market:
    m = listing.market
    limits = m.get("limits") or {}
    amount, cost = limits.get("amount") or {}, limits.get("cost") or {}
    lot = _step(m["precision"]["amount"])
    # An amount finer than the base currency could not be held.
    lot = max(lot, Decimal(1).scaleb(-decimals[m["base"]]))
    min_amount = _step(amount.get("min")) or Decimal(0)
    max_amount = _step(amount.get("max"))
    min_notional = _step(cost.get("min")) or Decimal(0)
    max_notional = _step(cost.get("max"))
    return Market(
        venue=listing.venue, symbol=listing.symbol, kind=listing.kind,
        base_currency=m["base"], quote_currency=m["quote"],
        tick_size=_step(m["precision"]["price"]), lot_size=lot, min_amount=min_amount,
        max_amount=max_amount if max_amount is None or max_amount >= min_amount else None,
        min_notional=min_notional,
        max_notional=(max_notional if max_notional is None or max_notional >= min_notional
                      else None),
        maker_fee=_step(m.get("maker")) or Decimal("0.001"),
        taker_fee=_step(m.get("taker")) or Decimal("0.001"))


_SPOT_MARKET_FIELDS = ["exchange_symbol", "type", "order_types", "contract_size",
                       "settle_currency", "metadata", "updated_at"]
_CHUNK = 200


def markets_import(*, job: SpotImportJob | None = None) -> tuple[int, int]:
    """Import the active provider's markets from ``load_markets``: its spot markets into
    the spot venue and its linear perpetuals into the futures venue (kind perpetual), as
    ``trading.Market`` rows with their ``SpotMarket`` details; currencies created if
    missing with the exchange's precision. New markets are disabled; a re-import updates
    the exchange's facts (currencies, steps, order types) and never the admin's choices
    (status, flags, fees, limits). Reports progress on ``job``. Returns (created,
    updated). Raises Conflict (no provider), ExchangeUnavailable."""
    provider = selectors.provider_active()
    ex = exchanges.build(provider)
    try:
        found = listings(ex.load_markets(reload=True))
    except ccxt.BaseError as exc:
        raise ExchangeUnavailable(f"load_markets: {type(exc).__name__}: {exc}"[:500]) from exc
    currencies: dict[str, tuple[str, str, int]] = {}
    for listing in found:
        m = listing.market
        precision = m["precision"]
        for code, step in ((m["base"], precision.get("base") or precision["amount"]),
                           (m["quote"], precision.get("quote") or precision["price"])):
            places = max(_places(_step(step)), 2)
            known = currencies.get(code)
            if known is None or known[2] < places:
                currencies[code] = (code, code, min(places, 18))
    wallet_services.currencies_ensure(currencies=currencies.values())
    decimals = wallet_selectors.currency_decimals_map(codes=list(currencies))
    with_target = connection.features.supports_update_conflicts_with_target
    created = updated = 0
    for start in range(0, len(found), _CHUNK):
        chunk = found[start:start + _CHUNK]
        with transaction.atomic():
            for venue in (Venue.SPOT, Venue.FUTURES):
                part = [x for x in chunk if x.venue == venue]
                if not part:
                    continue
                existing = set(SpotMarket.objects.filter(
                    provider=provider, ccxt_symbol__in=[x.market["symbol"] for x in part])
                    .values_list("ccxt_symbol", flat=True))
                created += len(part) - len(existing)
                updated += len(existing)
                ids = trading_services.markets_import(venue=venue, markets=[
                    _trading_market(x, decimals=decimals) for x in part])
                SpotMarket.objects.bulk_create([SpotMarket(
                    market_id=ids[x.symbol], provider=provider, ccxt_symbol=x.market["symbol"],
                    exchange_symbol=x.market["id"], type=x.market.get("type") or "",
                    order_types=list((x.market.get("info") or {}).get("orderTypes") or []),
                    contract_size=_step(x.market.get("contractSize")),
                    settle_currency=x.market.get("settle") or "",
                    metadata={k: x.market.get(k) for k in ("precision", "limits", "maker",
                                                           "taker", "active")})
                    for x in part], update_conflicts=True,
                    unique_fields=["provider", "ccxt_symbol"] if with_target else None,
                    update_fields=_SPOT_MARKET_FIELDS)
        if job is not None:
            SpotImportJob.objects.filter(pk=job.pk).update(
                progress=int(100 * min(start + _CHUNK, len(found)) / len(found)),
                created=created, updated=updated, updated_at=timezone.now())
    log.info("spot_markets_imported", created=created, updated=updated)
    return created, updated


def import_job_start(*, requested_by_id: int | None,
                     enqueue: Callable[[int], None]) -> SpotImportJob:
    """Record an import job of the active provider and hand it to ``enqueue`` (the
    Celery task) after commit. Raises Conflict (no active provider)."""
    provider = selectors.provider_active()
    job = SpotImportJob.objects.create(provider=provider, requested_by_id=requested_by_id)
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def import_job_run(*, job_id: int) -> SpotImportJob:
    """Run one queued import job, recording its outcome on the job row: DONE, or FAILED
    with the reason whatever the error (``core.jobs.job_run``)."""
    return job_run(model=SpotImportJob, job_id=job_id,
                   work=lambda job: markets_import(job=job))


# --- tracking -----------------------------------------------------------------------------


def orders_track() -> dict[str, int]:
    """Bring the spot venue's unfinished orders up to date with the exchange (the beat
    task, every SPOT_TRACK_SECONDS): a NEW order untouched for SPOT_RESUBMIT_AFTER_SECONDS
    (its worker died between commit and submit, or during it) and the UNKNOWN ones are
    reconciled: asked for by client order id, and sent (again) only if the exchange does
    not have them (``gateway.SpotGateway.fetch``, one send at a time);
    resting ones are compared with the exchange's open orders per market and reconciled
    when they differ (filled more, or no longer open); the pending conditional orders get
    the latest quotes again (``triggers_sweep``). Each order on its own: one that fails
    is logged and left for the next run. Returns counts."""
    cutoff = timezone.now() - timedelta(seconds=conf.SPOT_RESUBMIT_AFTER_SECONDS)
    counts = {"reconciled": 0, "failed": 0}
    # A NEW one is asked for before it is sent again: its worker may have sent it and
    # died before the answer (and an order that closed at once there would be placed
    # twice by a blind resend: client ids are unique among open orders only).
    uncertain = list(Order.objects.filter(
        Q(status=OrderStatus.NEW, updated_at__lt=cutoff) | Q(status=OrderStatus.UNKNOWN),
        venue=Venue.SPOT).values_list("pk", flat=True))
    for pk in uncertain:
        counts["reconciled" if _each(trading_services.order_reconcile, pk) else "failed"] += 1
    for pk in _resting_changed():
        counts["reconciled" if _each(trading_services.order_reconcile, pk) else "failed"] += 1
    counts["triggered"] = triggers_sweep()
    return counts


def _each(action: Callable[..., Order], order_id: int) -> bool:
    try:
        action(order_id=order_id)
    except Exception:
        log.warning("spot_order_track_failed", order_id=order_id, exc_info=True)
        return False
    return True


def _resting_changed() -> list[int]:
    """The resting spot orders whose exchange state differs from the platform's: not
    open there any more, or filled more (one open-orders request per market)."""
    resting = list(Order.objects.filter(venue=Venue.SPOT, status__in=RESTING_STATUSES)
                   .select_related("market__spot"))
    if not resting:
        return []
    ex = exchanges.client()
    changed = []
    by_symbol: dict[str, list[Order]] = {}
    for order in resting:
        by_symbol.setdefault(order.market.spot.ccxt_symbol, []).append(order)
    for symbol, orders in by_symbol.items():
        try:
            open_there = {o.get("clientOrderId"): o for o in ex.fetch_open_orders(symbol)}
        except ccxt.BaseError:
            log.warning("spot_open_orders_failed", symbol=symbol, exc_info=True)
            continue
        for order in orders:
            there = open_there.get(client_id(order))
            if there is None or Decimal(str(there.get("filled") or 0)) != order.filled:
                changed.append(order.pk)
    return changed


# --- platform-triggered conditional orders ------------------------------------------------


def quote_trigger(*, quote: Quote) -> int:
    """Fire the platform-triggered conditional spot orders ``quote`` reaches
    (``trading.services.conditional_trigger``: the fired order is then sent to the
    exchange after commit like any); returns how many fired. A stale quote, or one of a
    market not enabled, fires nothing."""
    if quote.venue != Venue.SPOT or quote.age_seconds() > conf.SPOT_QUOTE_MAX_AGE_SECONDS:
        return 0
    try:
        market = trading_selectors.market_get_enabled(venue=Venue.SPOT, symbol=quote.symbol)
    except NotFound:
        return 0
    return trading_services.conditional_trigger(market=market, quote=quote)


def triggers_sweep() -> int:
    """The safety net of ``quote_trigger`` (run by the tracker): offer each market with
    pending orders its latest quote again (firing is idempotent)."""
    symbols = set(Order.objects.filter(venue=Venue.SPOT, status=OrderStatus.PENDING)
                  .values_list("market__symbol", flat=True).distinct())
    fired = 0
    for quote in latest_quotes(venue=Venue.SPOT, symbols=sorted(symbols)).values():
        fired += quote_trigger(quote=quote)
    return fired


# --- reconciliation -----------------------------------------------------------------------


def reconcile() -> list[str]:
    """Every difference between the platform and the exchange account, as sentences
    (none: they agree):

    - balances: for each currency, the exchange's total against the provider's opening
      balance moved by every settled spot fill as the exchange reported it (a BUY adds
      its amount and pays its price x amount, a SELL the reverse; the exchange's
      commission comes off in its currency), and the omnibus account's ledger balance
      against the same fills (it is the other side of every one of them);
    - orders: a live order here that is not open there (or filled differently), an open
      order there under one of our client ids that is not live here, and an open order
      there that is none of ours.

    Raises Conflict (no active provider), ExchangeUnavailable."""
    provider = selectors.provider_active()
    ex = exchanges.client()
    problems = []
    expected = {code: Decimal(v) for code, v in provider.opening_balances.items()}
    ledger: dict[str, Decimal] = {}
    fills = Fill.objects.filter(venue=Venue.SPOT).select_related("order__market")
    for fill in fills.iterator():
        market, side = fill.order.market, fill.order.side
        trade = fill.evidence.get("trade") or {}
        sign = 1 if side == "BUY" else -1
        base, quote = market.base_currency, market.quote_currency
        cost = Decimal(trade.get("price", fill.price)) * Decimal(trade.get("amount",
                                                                           fill.amount))
        expected[base] = expected.get(base, Decimal(0)) + sign * fill.amount
        expected[quote] = expected.get(quote, Decimal(0)) - sign * cost
        fee_currency = trade.get("fee_currency")
        if fee_currency:
            expected[fee_currency] = (expected.get(fee_currency, Decimal(0))
                                      - Decimal(trade.get("fee") or 0))
        ledger[base] = ledger.get(base, Decimal(0)) - sign * fill.amount
        ledger[quote] = ledger.get(quote, Decimal(0)) + sign * fill.quote_amount
    actual = _exchange_totals(ex)
    for code in sorted(set(expected) | {c for c, v in actual.items() if v}):
        want, have = expected.get(code, Decimal(0)), actual.get(code, Decimal(0))
        if want != have:
            problems.append(f"balance {code}: the exchange holds {have.normalize():f}, the "
                            f"platform's fills make it {want.normalize():f}")
    for code, want in sorted(ledger.items()):
        have = wallet_selectors.system_balance(system=SystemAccount.EXCHANGE_OMNIBUS,
                                               wallet_type=WalletType.SPOT, currency=code)
        if have != want:
            problems.append(f"omnibus {code}: the ledger holds {have.normalize():f}, the "
                            f"fills make it {want.normalize():f}")
    problems += _order_differences(ex)
    return problems


def _order_differences(ex: ccxt.Exchange) -> list[str]:
    problems = []
    spot_markets = list(SpotMarket.objects.select_related("market").filter(
        market__venue=Venue.SPOT))
    live = {o.pk: o for o in Order.objects.filter(venue=Venue.SPOT,
                                                  status__in=[*LIVE_STATUSES,
                                                              OrderStatus.UNKNOWN])}
    for spot in spot_markets:
        mine = [o for o in live.values() if o.market_id == spot.market_id]
        try:
            open_there = ex.fetch_open_orders(spot.ccxt_symbol)
        except ccxt.BaseError as exc:
            raise ExchangeUnavailable(f"fetch_open_orders {spot.ccxt_symbol}: {exc}") from exc
        by_client = {o.get("clientOrderId"): o for o in open_there}
        for o in open_there:
            cid = o.get("clientOrderId") or ""
            if not cid.startswith("x-ep-") or not cid[5:].isdigit():
                problems.append(f"order {spot.ccxt_symbol} {o.get('id')}: open on the "
                                f"exchange, not placed by the platform")
                continue
            if int(cid[5:]) not in live:
                problems.append(f"order #{cid[5:]}: open on the exchange, not live here")
        for order in mine:
            if order.status in (OrderStatus.PENDING, OrderStatus.WAITING):
                continue  # the platform's trigger: the exchange never saw it
            there = by_client.get(client_id(order))
            if there is None:
                problems.append(f"order #{order.pk}: {order.status} here, not open on the "
                                f"exchange")
            elif Decimal(str(there.get("filled") or 0)) != order.filled:
                problems.append(f"order #{order.pk}: filled {order.filled.normalize():f} "
                                f"here, {there.get('filled')} on the exchange")
    return problems
