"""Every setting the apps read, with its default: the one place a host project looks.

The apps never import a project's settings module: each name is read from
``django.conf.settings`` when it is used (``getattr(settings, NAME, default)``), so a host
project sets only what it wants to change, and ``override_settings`` in tests applies at
once. Read a value as an attribute of this module::

    from apps.core import conf
    conf.PAPER_QUOTE_MAX_AGE_SECONDS

A value of the wrong type or out of range is reported by the system checks
(``apps/core/checks.py``, ids ``exchange.E0xx``) when the project starts, not when a
trader first meets it. README "Install as a plug-in" lists the same names.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _int_up_to(most: int) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        return _positive_int(value) and value <= most
    return valid


def _positive_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and value == value and 0 < value < float("inf"))


def _non_negative_number(value: Any) -> bool:
    return _positive_number(value) or (value == 0 and not isinstance(value, bool))


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _url(*schemes: str) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        parts = urlsplit(value)
        return parts.scheme in schemes and bool(parts.netloc)
    return valid


def _amount(value: Any) -> bool:
    try:
        amount = Decimal(value) if isinstance(value, str | int) else None
    except InvalidOperation:
        return False
    return amount is not None and amount.is_finite() and amount >= 0


def _fraction(value: Any) -> bool:
    return _amount(value) and Decimal(value) < 1


def _positive_amount(value: Any) -> bool:
    return _amount(value) and Decimal(value) > 0


def _decimals(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 18


def _dotted_path(value: Any) -> bool:
    return isinstance(value, str) and "." in value


def _secrets(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(secret, str) and secret for secret in value)


def _networks(value: Any) -> bool:
    if not isinstance(value, list | tuple):
        return False
    try:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
    except (TypeError, ValueError):
        return False
    return True


def _rate(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(
        r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value) is not None


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535


def _currency_code(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isalnum() and value.isupper()


def _dotted_paths(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(path, str) and "." in path for path in value)


def _levels(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(level, int) and not isinstance(level, bool) and 0 <= level <= 2
        for level in value.values())


def _limits(value: Any) -> bool:
    return isinstance(value, dict) and {0, 1, 2} <= set(value) and all(
        _amount(limit) for limit in value.values())


def _fernet_keys(value: Any) -> bool:
    # A Fernet key: 32 bytes, URL-safe base64 (44 characters with its padding).
    if not isinstance(value, list | tuple):
        return False
    try:
        return all(isinstance(key, str) and len(base64.urlsafe_b64decode(key)) == 32
                   for key in value)
    except (ValueError, binascii.Error):
        return False


def _weights(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(name, str) and _positive_int(weight) for name, weight in value.items())


def _names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(name, str) for name in value)


def _path(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


# cassandra-driver's ConsistencyLevel names that make sense for one data center or many
# (read by name, so apps.core does not import the driver).
_CONSISTENCY = frozenset({"ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM",
                          "EACH_QUORUM", "LOCAL_ONE"})


# The default of a setting the host must set itself (no default would be safe).
REQUIRED = object()


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    valid: Callable[[Any], bool]
    expected: str  # what a valid value is, for the system check's message


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    # Templates: the pages extend this template (README "Install as a plug-in").
    Setting("EXCHANGE_BASE_TEMPLATE", "trade/layout.html", _string,
            "a template name, such as 'base.html'"),
    # TwelveData (the paper venue's prices).
    Setting("TWELVEDATA_BASE_URL", "https://api.twelvedata.com", _url("http", "https"),
            "an http(s) URL"),
    Setting("TWELVEDATA_WS_URL", "wss://ws.twelvedata.com/v1/quotes/price", _url("ws", "wss"),
            "a ws(s) URL"),
    Setting("TWELVEDATA_API_KEY", "", _string, "a string (empty: the key stored in the admin)"),
    # Paper trading.
    Setting("PAPER_DEMO_BALANCE", "100000", _amount, "a non-negative decimal amount, as a string"),
    Setting("PAPER_DEMO_CURRENCY", "USD", _currency_code, "an upper-case currency code"),
    Setting("PAPER_QUOTE_MAX_AGE_SECONDS", 60, _positive_int, "a positive integer"),
    Setting("PAPER_SWEEP_SECONDS", 5, _positive_int, "a positive integer"),
    Setting("PAPER_FILL_BATCH", 200, _positive_int, "a positive integer"),
    Setting("PAPER_CANDLES_CACHE_SECONDS", 30, _positive_int, "a positive integer"),
    # The portfolio page values every balance in this currency (at the latest price of a
    # market pairing the two; a balance with no such price is shown unvalued).
    Setting("PORTFOLIO_CURRENCY", "USD", _currency_code, "an upper-case currency code"),
    # Spot trading (apps/spot): the exchange's URLs (empty: ccxt's own), its keys (empty:
    # those stored on the provider), ccxt's request timeout, how old a quote may size a
    # MARKET order, how far above the ask a MARKET BUY may fill (it is sent as a LIMIT IOC
    # there, so its hold always covers it), how long a NEW order waits before the
    # tracker sends it itself, and the tracker's period.
    Setting("SPOT_EXCHANGE_URL", "", _string, "an http(s) URL, or empty"),
    Setting("SPOT_EXCHANGE_WS_URL", "", _string, "a ws(s) URL, or empty"),
    Setting("SPOT_EXCHANGE_WS_API_URL", "", _string, "a ws(s) URL, or empty"),
    Setting("SPOT_API_KEY", "", _string, "a string (empty: the key stored in the admin)"),
    Setting("SPOT_API_SECRET", "", _string, "a string (empty: the secret stored in the admin)"),
    Setting("SPOT_REQUEST_TIMEOUT_MS", 10_000, _positive_int, "a positive integer"),
    # How long a signed request stays valid at the exchange (Binance's recvWindow): an
    # order is never sent again until this and the request timeout have passed since
    # its last send (the exchange may still act on that request until then).
    Setting("SPOT_RECV_WINDOW_MS", 5_000, _int_up_to(60_000), "an integer from 1 to 60000"),
    Setting("SPOT_QUOTE_MAX_AGE_SECONDS", 30, _positive_int, "a positive integer"),
    Setting("SPOT_MARKET_BUY_SLIPPAGE", "0.02", _fraction,
            "a decimal fraction from 0 to below 1, as a string, such as '0.02'"),
    Setting("SPOT_RESUBMIT_AFTER_SECONDS", 10, _positive_int, "a positive integer"),
    Setting("SPOT_TRACK_SECONDS", 5, _positive_int, "a positive integer"),
    # Conditional orders: a BUY whose child is a MARKET order holds its trigger price plus
    # this fraction (a gap through the trigger up to it still fills in full).
    Setting("CONDITIONAL_MARKET_HOLD_MARGIN", "0.05", _amount,
            "a non-negative decimal fraction, as a string, such as '0.05'"),
    # Fixed-time trades (apps/fixedtime).
    Setting("FIXEDTIME_QUOTE_MAX_AGE_SECONDS", 10, _positive_int, "a positive integer"),
    Setting("FIXEDTIME_EXIT_TOLERANCE_SECONDS", 30, _positive_int, "a positive integer"),
    Setting("FIXEDTIME_SETTLE_GRACE_SECONDS", 2, _positive_int, "a positive integer"),
    Setting("FIXEDTIME_SWEEP_SECONDS", 10, _positive_int, "a positive integer"),
    Setting("FIXEDTIME_QUOTE_RETENTION_SECONDS", 2 * 86_400, _positive_int,
            "a positive integer"),
    Setting("FIXEDTIME_TICKERS_REFRESH_SECONDS", 5, _non_negative_number,
            "a number, zero or more (0: on every quote)"),
    # Futures (apps/futures): the venues whose quotes may feed a contract's index (each
    # quote there recomputes the marks built on it), and the period of the beat sweep that
    # recomputes every mark and liquidates what it finds (the safety net of the per-tick
    # check).
    Setting("FUTURES_INDEX_VENUES", ["spot"], _names, "a list of venue names"),
    Setting("FUTURES_SWEEP_SECONDS", 5, _positive_int, "a positive integer"),
    # Internal markets' engine (apps/engine): which runner runs a market ("venue:SYMBOL"
    # -> runner name; unlisted markets: "default"), commands applied per settled batch,
    # a book snapshot every ENGINE_SNAPSHOT_EVERY commands, the lease's length, how long
    # a runner waits for a wake-up before it polls, the band a MARKET order may fill
    # within beyond the best opposite price (its hold is sized at that limit), and
    # whether the web process runs the runner in a thread (make run).
    Setting("ENGINE_RUNNER_MARKETS", {}, lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
        "a dict of 'venue:SYMBOL' -> runner name"),
    Setting("ENGINE_BATCH", 500, _positive_int, "a positive integer"),
    Setting("ENGINE_SNAPSHOT_EVERY", 5000, _positive_int, "a positive integer"),
    # What the hourly prune (engine.prune) keeps: a market's latest snapshots and the
    # commands after the oldest of them; sent outbox rows this many hours.
    Setting("ENGINE_PRUNE_KEEP_SNAPSHOTS", 3, _positive_int, "a positive integer"),
    Setting("ENGINE_OUTBOX_RETENTION_HOURS", 168, _positive_number, "a positive number"),
    Setting("ENGINE_LEASE_SECONDS", 15, _positive_int, "a positive integer"),
    Setting("ENGINE_POLL_SECONDS", 0.5, _positive_number, "a positive number"),
    Setting("ENGINE_MARKET_PROTECTION", "0.05", _fraction,
            "a decimal fraction from 0 to below 1, as a string, such as '0.05'"),
    Setting("ENGINE_EMBEDDED", False, _boolean, "True or False"),
    # The demo market maker (apps/ecosystem/marketmaker.py): whether the web process runs
    # it in a thread (make run), on which ecosystem market, the price it starts quoting
    # around (later: the market's last price), on which futures contract (quoting around
    # its mark), and how often it refreshes its levels.
    Setting("MARKETMAKER_EMBEDDED", False, _boolean, "True or False"),
    Setting("MARKETMAKER_SYMBOL", "", _string, "a market symbol such as 'ABC/USDT'"),
    Setting("MARKETMAKER_FUTURES_SYMBOL", "", _string,
            "a futures contract's symbol such as 'BTC/USDT'"),
    Setting("MARKETMAKER_REFERENCE", "10", _positive_amount,
            "a positive decimal amount, as a string"),
    Setting("MARKETMAKER_INTERVAL_SECONDS", 2.0, _positive_number, "a positive number"),
    # Deposits (apps/deposits): intents in DEPOSIT_CURRENCY paid in DEPOSIT_COIN at the rate
    # of DEPOSIT_RATE_PROVIDER; the payment chain's webhook, signed with any of
    # DEPOSIT_WEBHOOK_SECRETS (none: every delivery is refused).
    Setting("DEPOSIT_CURRENCY", "USDT", _currency_code, "an upper-case currency code"),
    Setting("DEPOSIT_COIN", "SGC", _currency_code, "an upper-case coin code"),
    Setting("DEPOSIT_COIN_DECIMALS", 8, _decimals, "an integer from 0 to 18"),
    Setting("DEPOSIT_MIN_AMOUNT", "1", _positive_amount, "a positive decimal amount, as a string"),
    Setting("DEPOSIT_MAX_AMOUNT", "1000000", _positive_amount,
            "a positive decimal amount, as a string"),
    Setting("DEPOSIT_RATE_PROVIDER", "apps.deposits.rates.fixed_rate", _dotted_path,
            "the dotted path of a callable (currency=, coin=) -> Decimal"),
    Setting("DEPOSIT_FIXED_RATE", "1", _positive_amount,
            "a positive decimal amount (currency per coin), as a string"),
    Setting("DEPOSIT_INTENT_TTL_SECONDS", 30 * 60, _positive_int, "a positive integer"),
    Setting("DEPOSIT_PAYMENT_URL", "https://pay.sgchain.example/pay", _url("http", "https"),
            "an http(s) URL"),
    Setting("DEPOSIT_LINK_SECRET", "", _string, "a string (empty: SECRET_KEY)"),
    Setting("DEPOSIT_WEBHOOK_SECRETS", [], _secrets, "a list of non-empty strings"),
    Setting("DEPOSIT_WEBHOOK_WINDOW_SECONDS", 300, _positive_int, "a positive integer"),
    Setting("DEPOSIT_WEBHOOK_ALLOWED_IPS", [], _networks,
            "a list of IP addresses or networks (empty: any source)"),
    # A verified body is kept in raw_body (LONGTEXT on MariaDB), each undecodable byte as a
    # 3-byte replacement mark: at most 64 KiB keeps a stored body (192 KiB at worst) far
    # inside one insert (max_allowed_packet, 16 MiB by default). A delivery is < 1 KiB.
    Setting("DEPOSIT_WEBHOOK_MAX_BODY_BYTES", 8 * 1024, _int_up_to(64 * 1024),
            "an integer from 1 to 65536"),
    Setting("DEPOSIT_WEBHOOK_RATE", "600/min", _rate,
            "a rate such as '600/min' (per second, minute, hour or day)"),
    Setting("DEPOSIT_UNDERPAY_TOLERANCE", "0.001", _fraction,
            "a decimal fraction from 0 to below 1, as a string, such as '0.001'"),
    Setting("DEPOSIT_SWEEP_SECONDS", 60, _positive_int, "a positive integer"),
    # Unpaid (PENDING, unexpired) intents a user may hold at once.
    Setting("DEPOSIT_MAX_PENDING_INTENTS", 5, _positive_int, "a positive integer"),
    # Whether an admin's manual confirmation may credit more than the intent's amount.
    Setting("DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT", False, _boolean, "True or False"),
    # Live streams (/ws/).
    Setting("STREAMING_MAX_SUBSCRIPTIONS", 50, _positive_int, "a positive integer"),
    Setting("STREAMING_MAX_FRAME_BYTES", 64 * 1024, _positive_int, "a positive integer"),
    Setting("STREAMING_HEARTBEAT_SECONDS", 15, _positive_number, "a positive number"),
    Setting("STREAMING_MAX_PENDING_FRAMES", 1000, _positive_int, "a positive integer"),
    # API.
    Setting("API_MAX_BODY_BYTES", 64 * 1024, _positive_int, "a positive integer"),
    # Secrets stored in the database (apps/core/crypto.py): Fernet keys, newest first; the
    # first encrypts, all decrypt (and one derived from SECRET_KEY, always last).
    Setting("FIELD_ENCRYPTION_KEYS", [], _fernet_keys,
            "a list of Fernet keys (32 url-safe base64-encoded bytes each)"),
    # Readiness (/health/ready, apps/health).
    Setting("HEALTH_CELERY_REQUIRED", True, _boolean,
            "True or False (False: readiness does not ping the workers)"),
    Setting("HEALTH_CELERY_TIMEOUT_SECONDS", 1.0, _positive_number, "a positive number"),
    Setting("HEALTH_QUOTE_MAX_AGE_SECONDS", 120, _positive_int, "a positive integer"),
    # Accounts: a second factor for the admin; KYC levels (0 unverified, 1 e-mail verified,
    # 2 identity reviewed) each action needs, each level's daily withdrawal limit (in
    # KYC_LIMIT_CURRENCY), and where identity documents go (a private directory, never
    # served: no default, the host chooses it).
    Setting("ADMIN_REQUIRE_MFA", True, _boolean, "True or False"),
    Setting("KYC_REQUIRED_LEVEL",
            {"trade_paper": 0, "trade_live": 2, "withdraw": 1, "api_key_create": 1},
            _levels, "a dict of action -> level 0, 1 or 2"),
    Setting("KYC_DAILY_WITHDRAWAL_LIMIT", {0: "0", 1: "1000", 2: "100000"}, _limits,
            "a dict of level (0, 1, 2) -> a non-negative decimal amount"),
    Setting("KYC_LIMIT_CURRENCY", "USDT", _currency_code, "an upper-case currency code"),
    Setting("KYC_DOCUMENTS_ROOT", REQUIRED, _path,
            "the path of a private directory (not under MEDIA_ROOT or static files)"),
    Setting("KYC_DOCUMENT_MAX_BYTES", 5 * 1024 * 1024, _positive_int, "a positive integer"),
    # Partner API keys (apps/accounts/api_keys): a signed request's timestamp may be this
    # far from the server's clock (and its nonce is remembered twice as long); each key
    # may spend API_KEY_RATE_LIMIT weight per API_KEY_RATE_WINDOW_SECONDS, a request
    # weighing 1 unless API_KEY_REQUEST_WEIGHTS (URL name -> weight) says more; unsafe
    # requests to API_KEY_TRANSFER_URL_NAMES need the "transfer" scope (others "trade").
    Setting("API_KEY_SIGNATURE_WINDOW_SECONDS", 30, _int_up_to(300),
            "an integer from 1 to 300"),
    Setting("API_KEY_RATE_LIMIT", 1200, _positive_int, "a positive integer"),
    Setting("API_KEY_RATE_WINDOW_SECONDS", 60, _int_up_to(3600), "an integer from 1 to 3600"),
    Setting("API_KEY_REQUEST_WEIGHTS", {"twd-candles": 5, "twd-orders": 2}, _weights,
            "a dict of URL name -> positive integer weight"),
    Setting("API_KEY_TRANSFER_URL_NAMES", ["wallet-transfer", "deposit-intents"], _names,
            "a list of URL names"),
    Setting("API_KEY_MAX_PER_USER", 10, _positive_int, "a positive integer"),
    # Metrics (/metrics, README "Metrics and logs"): answered only to a client address in
    # METRICS_ALLOWED_IPS or a request bearing METRICS_BEARER_TOKEN (empty: no token opens
    # it). A Celery worker serves its own on METRICS_WORKER_PORT (0: none), same rule.
    Setting("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"], _networks,
            "a list of IP addresses or networks (empty: none, only the token)"),
    Setting("METRICS_BEARER_TOKEN", "", _string, "a string (empty: no token is accepted)"),
    Setting("METRICS_WORKER_PORT", 0, _port, "a port number, 0 to 65535 (0: no server)"),
    Setting("METRICS_WORKER_ADDRESS", "127.0.0.1", _string, "an address to listen on"),
    # More readiness checks (django-health-check HealthCheck classes, dotted paths): the
    # hook for the engines' lag once the futures and ecosystem engine runners exist.
    Setting("HEALTH_EXTRA_CHECKS", [], _dotted_paths,
            "a list of dotted paths to health_check.base.HealthCheck subclasses"),
    # The internal markets' order store (apps/orderstore): "sql" (the default database)
    # or "scylla" (a ScyllaDB or Cassandra cluster at SCYLLA_HOSTS:SCYLLA_PORT, keyspace
    # SCYLLA_KEYSPACE, created by `manage.py orderstore_migrate`).
    Setting("ORDER_STORE", "sql", lambda value: value in ("sql", "scylla"),
            "'sql' or 'scylla'"),
    Setting("SCYLLA_HOSTS", ["127.0.0.1"], lambda value: _names(value) and bool(value),
            "a non-empty list of host names or addresses"),
    Setting("SCYLLA_PORT", 9042, _port, "a port number"),
    Setting("SCYLLA_KEYSPACE", "exchange_orders",
            lambda value: isinstance(value, str)
            and re.fullmatch(r"[a-z][a-z0-9_]{0,47}", value) is not None,
            "a lower-case CQL identifier (letters, digits, _; at most 48)"),
    # The replication a keyspace is created with by orderstore_migrate (CQL map literal).
    Setting("SCYLLA_REPLICATION", "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}",
            _path, "a CQL replication map, such as \"{'class': 'SimpleStrategy', "
            "'replication_factor': 1}\""),
    Setting("SCYLLA_LOCAL_DC", "", _string, "a data-center name (empty: the driver's default)"),
    Setting("SCYLLA_WRITE_CONSISTENCY", "LOCAL_QUORUM", lambda value: value in _CONSISTENCY,
            "a consistency level name, such as 'LOCAL_QUORUM'"),
    Setting("SCYLLA_READ_CONSISTENCY", "LOCAL_QUORUM", lambda value: value in _CONSISTENCY,
            "a consistency level name, such as 'LOCAL_QUORUM'"),
    Setting("SCYLLA_REQUEST_TIMEOUT_SECONDS", 10.0, _positive_number, "a positive number"),
    Setting("SCYLLA_USERNAME", "", _string, "a string (empty: no authentication)"),
    Setting("SCYLLA_PASSWORD", "", _string, "a string"),
]}


def __getattr__(name: str) -> Any:
    try:
        setting = SETTINGS[name]
    except KeyError:
        raise AttributeError(f"apps.core.conf has no setting {name!r}") from None
    value = getattr(settings, name, setting.default)
    if value is REQUIRED:
        raise ImproperlyConfigured(f"{name} must be set: {setting.expected}.")
    return value
