"""How fast a quote finds (and fills) the resting paper orders it crosses, on MariaDB.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3407/exchange_bench DJANGO_DEBUG=1 \
        .venv/bin/python bench/paper_trigger.py --orders 100000

Workload (seeded): 100 enabled forex-like markets. ``--orders`` resting limit orders make
the book deep: they rest 5-20% away from the mid, where the 20 ticks never reach, and are
bulk-inserted as background load (no holds: they are never filled). ``--near`` more orders
per market are placed through the real ``order_place`` path within 0.5% of the mid, with
real holds, so the ticks cross and fill some of them. Each tick is a random step of one
market's mid.

Orders are the trading core's (``trading.Order``, venue "paper"); markets its
``trading.Market`` rows, each with its TwelveData instrument.

For every tick, in one process and on the same data:
- indexed: ``SqlOrderStore.crossing_ids`` (one range scan per resting status and side of
  the (market, status, side, price) index), then the paper venue's ``fill_crossing``
  fills what it found (one ledger batch per PAPER_FILL_BATCH orders);
- naive: load every resting order and compare in Python (what a scan-all executor does).
Both must find the same orders. Prints per-tick times and, last, one JSON line.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

import django  # noqa: E402

django.setup()

from benchdb import recreate_database  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from apps.marketdata.quotes import Quote  # noqa: E402
from apps.marketdata.services import publish  # noqa: E402
from apps.trading import services  # noqa: E402
from apps.trading.constants import RESTING_STATUSES, Venue  # noqa: E402
from apps.trading.models import Market, Order  # noqa: E402
from apps.trading.stores import store_for  # noqa: E402
from apps.twelvedata.models import TwdMarket  # noqa: E402
from apps.twelvedata.paper import fill_crossing  # noqa: E402

SYMBOLS = 100
TICKS = 20
TICK = Decimal("0.00001")


def setup(*, orders: int, near: int, rng: random.Random) -> tuple[list[Market], dict]:
    from apps.wallets.services import currencies_ensure

    currencies_ensure(currencies=[(f"B{i:03d}", f"Base {i}", 2) for i in range(SYMBOLS)])
    Market.objects.bulk_create([
        Market(venue=Venue.PAPER, symbol=f"B{i:03d}/USD", base_currency=f"B{i:03d}",
               quote_currency="USD", tick_size=TICK, lot_size=Decimal("0.01"),
               status="enabled")
        for i in range(SYMBOLS)])
    markets = list(Market.objects.filter(venue=Venue.PAPER).order_by("pk"))
    TwdMarket.objects.bulk_create([
        TwdMarket(market=m, symbol=m.symbol, type="forex", name=m.symbol) for m in markets])
    mids = {m.symbol: Decimal(rng.randint(50_000, 200_000)) * TICK for m in markets}
    users = [get_user_model().objects.create(username=f"bench{i}") for i in range(SYMBOLS)]

    started = time.perf_counter()
    batch: list[Order] = []
    for n in range(orders):
        market = markets[n % SYMBOLS]
        mid, side = mids[market.symbol], rng.choice(("BUY", "SELL"))
        away = Decimal(rng.randint(5_000, 20_000)) / Decimal(100_000)  # 5-20%
        price = (mid * (1 - away) if side == "BUY" else mid * (1 + away)).quantize(TICK)
        batch.append(Order(user=users[n % SYMBOLS], market=market, venue=Venue.PAPER,
                           type="LIMIT", side=side, status="OPEN", price=price,
                           reference_price=price, amount=Decimal("100"), remaining=Decimal("100"),
                           maker_fee_rate=market.maker_fee, taker_fee_rate=market.taker_fee,
                           client_order_id=f"deep-{n}", hold_key=f"bench:deep:{n}"))
        if len(batch) == 10_000:
            Order.objects.bulk_create(batch)
            batch.clear()
    Order.objects.bulk_create(batch)
    deep_s = time.perf_counter() - started

    started = time.perf_counter()
    for market, user in zip(markets, users, strict=True):
        mid = mids[market.symbol]
        for k in range(near):
            away = Decimal(rng.randint(10, 500)) / Decimal(100_000)  # 0.01-0.5%
            # Sells need the base currency: buy it first at the market price.
            if k == 0:
                publish(quote=_quote(market.symbol, mid))
                services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol=market.symbol,
                                     side="BUY", type="MARKET", amount=Decimal("100") * near)
            side = "BUY" if k % 2 else "SELL"
            price = (mid * (1 - away) if side == "BUY" else mid * (1 + away)).quantize(TICK)
            services.order_place(user_id=user.pk, venue=Venue.PAPER, symbol=market.symbol,
                                 side=side, type="LIMIT", amount=Decimal("100"), price=price)
    near_s = time.perf_counter() - started
    print(f"setup: {orders:,} deep orders bulk-inserted in {deep_s:.1f}s; "
          f"{near * SYMBOLS:,} near orders placed through order_place in {near_s:.1f}s")
    return markets, mids


def _quote(symbol: str, mid: Decimal) -> Quote:
    spread = TICK * 2
    return Quote(venue=Venue.PAPER, symbol=symbol, price=mid, bid=mid - spread,
                 ask=mid + spread, timestamp=datetime.now(UTC), source="bench")


def indexed_find(*, market: Market, quote: Quote) -> list[int]:
    return store_for(Venue.PAPER).crossing_ids(
        market=market, buy_at_or_above=quote.ask, sell_at_or_below=quote.bid,
        placed_before=quote.timestamp)


def naive_find(*, market_id: int, quote: Quote) -> list[int]:
    found = []
    for pk, m_id, side, price, created_at, settle_error in Order.objects.filter(
            status__in=RESTING_STATUSES).values_list(
            "pk", "market_id", "side", "price", "created_at", "settle_error"):
        if (m_id == market_id and created_at < quote.timestamp and not settle_error
                and ((side == "BUY" and price >= quote.ask)
                     or (side == "SELL" and price <= quote.bid))):
            found.append(pk)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--near", type=int, default=10, help="near orders per market")
    parser.add_argument("--naive-ticks", type=int, default=TICKS,
                        help="ticks also timed naively (fewer for huge books)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    recreate_database()
    # The bench times the executor itself: run fills in-process, not through a broker.
    from exchange_platform.celery import app
    app.conf.task_always_eager = True
    markets, mids = setup(orders=args.orders, near=args.near, rng=rng)
    open_count = Order.objects.filter(status__in=RESTING_STATUSES).count()

    find_ms, fill_ms, naive_ms, filled_total = [], [], [], 0
    for tick in range(TICKS):
        market = markets[rng.randrange(SYMBOLS)]
        step = Decimal(rng.randint(-400, 400)) / Decimal(100_000)  # up to 0.4% either way
        mids[market.symbol] = (mids[market.symbol] * (1 + step)).quantize(TICK)
        quote = _quote(market.symbol, mids[market.symbol])

        started = time.perf_counter()
        found = indexed_find(market=market, quote=quote)
        find_ms.append((time.perf_counter() - started) * 1000)
        if tick < args.naive_ticks:
            started = time.perf_counter()
            naive = naive_find(market_id=market.pk, quote=quote)
            naive_ms.append((time.perf_counter() - started) * 1000)
            assert naive == found, f"tick {tick}: naive {naive} != indexed {found}"
        started = time.perf_counter()
        filled = fill_crossing(quote=quote)
        fill_ms.append((time.perf_counter() - started) * 1000)
        assert filled == len(found), (filled, found)
        filled_total += filled
        print(f"tick {tick:2d} {market.symbol}: {len(found):3d} crossing; find "
              f"{find_ms[-1]:7.2f} ms, find+fill {fill_ms[-1]:8.2f} ms"
              + (f", naive find {naive_ms[-1]:9.2f} ms" if tick < args.naive_ticks else ""))

    find_avg = statistics.mean(find_ms)
    naive_avg = statistics.mean(naive_ms)
    print(f"\n{open_count:,} OPEN orders over {SYMBOLS} symbols, {TICKS} ticks, "
          f"{filled_total} fills on {connection.vendor} ({connection.mysql_server_info})")
    print(f"find:       indexed {find_avg:.2f} ms/tick (p50 {statistics.median(find_ms):.2f}),"
          f" naive {naive_avg:.2f} ms/tick -> {naive_avg / find_avg:.0f}x")
    print(f"find+fill:  indexed {statistics.mean(fill_ms):.2f} ms/tick, naive find + the same "
          f"fills {naive_avg + statistics.mean(fill_ms) - find_avg:.2f} ms/tick")
    print(json.dumps({"bench": "paper_trigger", "orders": open_count,
                      "ratio_vs_naive": round(naive_avg / find_avg, 1),
                      "find_ms_per_tick": round(find_avg, 3)}))


if __name__ == "__main__":
    main()
