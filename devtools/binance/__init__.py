"""A loopback Binance spot exchange: REST ``/api/v3`` + WebSocket streams, driven by the
real ``ccxt`` / ``ccxt.pro`` (4.5.90). Never imported by ``apps``.

It speaks the wire formats of ``api.binance.com`` (``/work/shared/reference/wire-formats.md``
Part 2) over one account (the platform's omnibus account) with balances, its own matching
against a simulated outside book, and fault injection. No Django here.

From a test (the Python API below is stable)::

    from devtools.binance import running_emulator, sync_exchange, async_exchange, pro_exchange

    with running_emulator(paused=True) as emu:       # EmulatorHandle; options: EmulatorConfig
        ex = sync_exchange(emu)                       # ccxt.binance with emu's key and URLs
        ex.load_markets()                             # 4 spot pairs + 3 USDT perpetuals
        emu.set_book("BTCUSDT", bids=[["59990", "0.5"]], asks=[["60010", "0.2"]])
        order = ex.create_order("BTC/USDT", "limit", "buy", 0.5, 60010,
                                {"clientOrderId": "plat-1"})   # takes 0.2, rests 0.3
        emu.set_price("BTCUSDT", "60000", qty="0.1")  # a print through it: 0.1 more fills
        emu.set_price("BTCUSDT", "60000")             # another: the rest fills
        emu.inject(Fault.TIMEOUT, count=1, endpoint="POST /api/v3/order", delay=5)

Handle (:class:`EmulatorHandle`, blocking, thread-safe):

* where: ``url`` (``http://127.0.0.1:P``, replaces every ``https://*.binance.com`` host),
  ``ws_url`` (ccxt.pro ``urls["api"]["ws"]["spot"]``), ``ws_api_url``
  (``urls["api"]["ws"]["ws-api"]["spot"]``), ``api_key``, ``api_secret``, ``port``;
* market: ``set_book(symbol, bids, asks)``, ``set_price(symbol, price, qty=None)``,
  ``step(count)``, ``pause()``, ``resume()``, ``book(symbol)``;
* account: ``set_balance(asset, free)``, ``account_balances()`` -> {asset: (free, locked)},
  ``orders(symbol=None)`` / ``trades(symbol=None)`` (Binance's query / myTrades JSON);
* faults: ``inject(fault, count=1, endpoint=None, probability=None, delay=60, status=503,
  retry_after=1, applied=False)`` with :class:`Fault` ``TIMEOUT`` (applied, answer held
  back ``delay`` s), ``LOST`` (not applied, no answer), ``DUPLICATE`` (delivered twice,
  the client sees the second answer: "Duplicate order sent." while the first is open; an
  order that closed at once is placed twice unless ``unique_client_ids="all"``),
  ``SERVER_ERROR`` (HTML 5xx, ccxt ``ExchangeNotAvailable``; ``applied=True`` executes
  first), ``RATE_LIMIT`` (429) and ``IP_BAN`` (418) with ``Retry-After`` (ccxt
  ``DDoSProtection``); ``endpoint`` is ``"POST /api/v3/order"``, a path, or None for every
  REST call; ``count=None`` with ``probability=p`` hits each matching request with chance
  p (seeded) until ``clear_faults()``; several rules are tried in the order given (the
  first that hits wins); ``restart_ws()`` drops every WebSocket and its subscriptions
  (ccxt.pro reconnects on its next watch; a watch pending at that moment gets
  ``NetworkError``); ``stats()`` (requests per endpoint, faults hit, connections, streams,
  ``ws_accepted``).

Config (:class:`EmulatorConfig`, the options of ``running_emulator``): ``paused`` (no
random walk: prices move only by the control), ``push_interval`` (tickers, book tickers,
partial depths and ``!miniTicker@arr`` repeat that often, 1 s; depth diffs and
``@trade`` only on a change), ``balances``, ``maker_fee``/``taker_fee`` (0.001),
``unique_client_ids`` ("open" or "all"), ``check_timestamp`` (-1021; ccxt signs with the
real clock, so keep it off with a fake ``clock``), ``spot``/``perpetuals`` (listings),
``seed``, ``interval``, ``api_key``/``api_secret``.

Streams: ``<sym>@ticker|miniTicker|bookTicker|trade|depth[@100ms]|depth5|10|20``,
``!miniTicker@arr``, ``!ticker@arr`` on any path under ``/ws`` or ``/stream`` (raw
payloads; wrapped ``{"stream", "data"}`` on the combined ``/stream?streams=a/b``); the
user data stream through the WebSocket API (``userDataStream.subscribe.signature``, what
ccxt.pro 4.5.90's ``watch_orders``/``watch_balance``/``watch_my_trades`` use) or a listen
key (``POST /api/v3/userDataStream``, then ``/ws/<listenKey>``): ``executionReport`` per
NEW/TRADE/CANCELED/EXPIRED and ``outboundAccountPosition``.

Matching rules: see :mod:`devtools.binance.exchange` (incoming orders take the outside
book; resting limits fill on ``set_book`` levels or ``set_price`` prints through them;
commission 0.1 % of what the order receives; ``newClientOrderId`` unique among open orders
as on Binance, or among all with ``EmulatorConfig(unique_client_ids="all")``).

Pointing ccxt at it (what ``apps/spot`` must override for a non-default endpoint): every
string in ``exchange.urls["api"]`` whose host is ``https://api.binance.com``,
``https://fapi.binance.com``, ``https://dapi.binance.com`` (also eapi/papi) gets the
emulator's ``url`` in place of the host, the path kept (``public``, ``private``, ``v1``,
``sapi``..., ``fapiPublic``...); for ccxt.pro also ``urls["api"]["ws"]["spot"]`` (and
``"margin"``) and ``urls["api"]["ws"]["ws-api"]["spot"]``. :func:`redirect` does exactly
that. Options used by :func:`sync_exchange` & co: ``fetchCurrencies=False``,
``fetchMargins=False``, ``fetchMarkets.types=["spot", "linear"]``, ``enableRateLimit=False``
(the sapi calls ``load_markets`` makes otherwise are served as empty lists too).

From a shell (``make run``): ``python -m devtools.binance --port 8767`` (seeded random walk;
``/_control/*`` HTTP API on the same port, loopback only: POST ``book``, ``price``,
``step``, ``pause``, ``resume``, ``balance``, ``fault``, ``faults/clear``, ``restart_ws``;
GET ``balances``, ``orders``, ``trades``, ``stats``).
"""

from .client import async_exchange, pro_exchange, redirect, sync_exchange
from .exchange import BinanceError, Exchange
from .markets import Perpetual, SpotSymbol
from .runner import EmulatorHandle, running_emulator
from .server import Emulator, EmulatorConfig, Fault

__all__ = [
    "BinanceError",
    "Emulator",
    "EmulatorConfig",
    "EmulatorHandle",
    "Exchange",
    "Fault",
    "Perpetual",
    "SpotSymbol",
    "async_exchange",
    "pro_exchange",
    "redirect",
    "running_emulator",
    "sync_exchange",
]
