"""TwelveData: the provider and the catalog import of the paper venue's markets.

Paper orders and their execution are the trading core's (``apps.trading.services``) with
this venue's gateway (``apps.twelvedata.paper``).
"""
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import connection, transaction
from django.utils import timezone

from apps.core import conf
from apps.core.crypto import decrypt_secret, encrypt_secret
from apps.core.errors import Conflict, InvalidInput
from apps.core.identifiers import is_canonical
from apps.core.jobs import job_run
from apps.trading import services as trading_services
from apps.trading.constants import MarketKind, Venue
from apps.trading.models import Market
from apps.twelvedata import gateway, selectors
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdProvider
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services

log = structlog.get_logger(__name__)

# --- provider -----------------------------------------------------------------------------


def provider_set_key(*, provider: TwdProvider, api_key: str) -> None:
    """Store ``api_key`` encrypted (blank clears it)."""
    provider.api_key_encrypted = encrypt_secret(api_key) if api_key else ""
    provider.save(update_fields=["api_key_encrypted", "updated_at"])


def provider_test_connection(*, provider: TwdProvider) -> int:
    """Make one authenticated request with the provider's key; returns the forex pair
    count. Raises GatewayError, Conflict (no key)."""
    key = conf.TWELVEDATA_API_KEY or (
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
# What a re-import may change: the provider's facts, never the admin's choices (status,
# flags, fees, limits).
_TWD_UPSERT_FIELDS = ["type", "name", "exchange", "mic_code", "metadata", "updated_at"]
_FIAT_DECIMALS = 2
_CHUNK = 1000


@dataclass(frozen=True)
class CatalogEntry:
    """One usable instrument of TwelveData's catalog."""

    symbol: str
    type: str
    name: str
    base_currency: str
    quote_currency: str
    exchange: str
    mic_code: str
    metadata: dict
    price_precision: int
    amount_precision: int


def parse_catalog_entry(*, kind: str, entry: dict) -> CatalogEntry | None:
    """One TwelveData catalog entry, or None if unusable.

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
    return CatalogEntry(symbol=symbol, type=market_type, name=name[:128], base_currency=base,
                        quote_currency=quote, exchange=exchange[:64], mic_code=mic[:16],
                        metadata=metadata, price_precision=price_precision,
                        amount_precision=amount_precision)


def catalog_import(*, kind: str, job: TwdImportJob | None = None) -> tuple[int, int]:
    """Import the catalog of ``kind`` (forex, stocks, indices, etf, crypto or all).

    Bulk upsert keyed by symbol, of the instrument and its paper venue market: new
    markets are disabled; a re-import updates the provider's fields (names, currencies,
    steps) and never touches status, trending, hot, fees or limits (the admin's choices).
    Missing currencies are created. Reports progress on ``job``. Returns (created,
    updated). Raises Conflict (no provider), GatewayError.
    """
    if kind != "all" and kind not in gateway.CATALOG_KINDS:
        raise InvalidInput(f"Unknown catalog kind {kind!r}.")
    kinds = list(gateway.CATALOG_KINDS) if kind == "all" else [kind]
    td = gateway.client(apikey=selectors.provider_api_key())
    created = updated = 0
    for step, one_kind in enumerate(kinds):
        entries: dict[str, CatalogEntry] = {}
        for raw in gateway.fetch_catalog(td=td, kind=one_kind):
            entry = parse_catalog_entry(kind=one_kind, entry=raw)
            if entry is not None:
                entries.setdefault(entry.symbol, entry)  # the first listing wins
        def report(done: int, total: int, c: int, u: int, step: int = step,
                   before: tuple[int, int] = (created, updated)) -> None:
            # Each chunk's progress is committed on its own row update, so the admin
            # (another process than the worker) sees it move.
            if job is not None:
                TwdImportJob.objects.filter(pk=job.pk).update(
                    progress=int(100 * (step + done / max(total, 1)) / len(kinds)),
                    created=before[0] + c, updated=before[1] + u, updated_at=timezone.now())

        c, u = _upsert_markets(list(entries.values()), report=report)
        report(1, 1, c, u)
        created, updated = created + c, updated + u
    log.info("twd_catalog_imported", kind=kind, created=created, updated=updated)
    return created, updated


def _step(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _upsert_markets(entries: list[CatalogEntry],
                    report: Callable[[int, int, int, int], None] | None = None
                    ) -> tuple[int, int]:
    """Upsert ``entries`` in chunks, calling ``report(done, total, created, updated)``
    after each."""
    currencies = {}
    for e in entries:
        currencies.setdefault(e.quote_currency, (e.quote_currency, e.quote_currency,
                                                 _FIAT_DECIMALS))
        currencies.setdefault(e.base_currency, (e.base_currency, e.name, e.amount_precision))
    wallet_services.currencies_ensure(currencies=currencies.values())
    decimals = wallet_selectors.currency_decimals_map(codes=list(currencies))
    # MySQL's ON DUPLICATE KEY takes no conflict target (symbol is the table's one unique
    # key besides its id and its market's).
    with_target = connection.features.supports_update_conflicts_with_target
    created = 0
    for start in range(0, len(entries), _CHUNK):
        chunk = entries[start:start + _CHUNK]
        symbols = [e.symbol for e in chunk]
        existing = set(TwdMarket.objects.filter(symbol__in=symbols)
                       .values_list("symbol", flat=True))
        created += len(chunk) - len(existing)
        with transaction.atomic():
            market_ids = trading_services.markets_import(venue=Venue.PAPER, markets=[
                Market(venue=Venue.PAPER, symbol=e.symbol, base_currency=e.base_currency,
                       quote_currency=e.quote_currency, kind=MarketKind.SPOT,
                       tick_size=_step(e.price_precision),
                       # An amount finer than the base currency could not be held.
                       lot_size=_step(min(e.amount_precision, decimals[e.base_currency])))
                for e in chunk])
            TwdMarket.objects.bulk_create(
                [TwdMarket(market_id=market_ids[e.symbol], symbol=e.symbol, type=e.type,
                           name=e.name, exchange=e.exchange, mic_code=e.mic_code,
                           metadata=e.metadata) for e in chunk],
                update_conflicts=True, unique_fields=["symbol"] if with_target else None,
                update_fields=_TWD_UPSERT_FIELDS)
        if report is not None:
            done = start + len(chunk)
            report(done, len(entries), created, done - created)
    return created, len(entries) - created


def import_job_run(*, job_id: int) -> TwdImportJob:
    """Run one queued import job, recording its outcome on the job row: DONE, or FAILED
    with the reason whatever the error (``core.jobs.job_run``)."""
    return job_run(model=TwdImportJob, job_id=job_id,
                   work=lambda job: catalog_import(kind=job.kind, job=job))


def import_job_start(*, kind: str, requested_by_id: int | None,
                     enqueue: Callable[[int], None]) -> TwdImportJob:
    """Record an import job and hand it to ``enqueue`` (the Celery task) after commit."""
    if kind != "all" and kind not in gateway.CATALOG_KINDS:
        raise InvalidInput(f"Unknown catalog kind {kind!r}.")
    job = TwdImportJob.objects.create(kind=kind, requested_by_id=requested_by_id)
    transaction.on_commit(lambda: enqueue(job.pk))
    return job

