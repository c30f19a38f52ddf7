"""How fast a quote finds the conditional orders it triggers, against scanning them all, on
MariaDB; and what keeping the trailing stops' reference prices costs per quote.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_bench DJANGO_DEBUG=1 SECRET_KEY=bench \
        .venv/bin/python bench/conditional_trigger.py --orders 100000 --trailing 10000

Workload (seeded): one enabled paper market (a forex pair's steps: tick 0.00001, lot 0.01)
whose book holds ``--orders`` PENDING conditional orders of 100 users, bulk-inserted as rows
(no holds: the bench fires none). They are what placement would accept at the first price
(``rules.conditional_trigger_check``): stops and take-profits of both sides, market and
limit children, on the last price or the bid/ask, each trigger 0.01-10 % away from the
price on the side its direction fires from; ``--trailing`` of them are active trailing
stops (half sells, half buys, callbacks by distance or rate, best price = the first
price). Then ``--ticks`` quotes, a seeded walk of up to 0.3 % a step from the first price.

For every quote, in one process and on the same data:
- trail: the trigger service's first step (``conditional._trail``: one UPDATE per side and
  trigger source moving the trailing stops the quote improves on); it changes the rows,
  so it runs before both finds and both see what it did;
- indexed find: what ``conditional_trigger`` then runs to find the orders the quote fires
  (``SqlOrderStore.triggered_ids`` on ``conditional._trigger_prices(quote)``: one range per
  direction of the (market, status, trigger_direction, stop_price) index) -- the service's
  own code, called as it calls it;
- scan: load every PENDING order of the market and test each one in Python.
Both must find the same orders on every quote (checked); what they found is then taken
out of PENDING (untimed), as firing it would. Prints per-quote times, then
the averages and, last, one JSON line.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
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
from apps.trading.constants import (  # noqa: E402
    OrderStatus,
    OrderType,
    Side,
    TriggerDirection,
    TriggerSource,
    Venue,
    trigger_direction,
)
from apps.trading.models import Market, Order  # noqa: E402
from apps.trading.services import conditional  # noqa: E402
from apps.trading.stores import store_for  # noqa: E402
from apps.twelvedata.models import TwdMarket  # noqa: E402

TICK = Decimal("0.00001")
SPREAD = TICK * 10
MID = Decimal("1.10000")
USERS = 100
TRIGGER_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_MARKET,
                 OrderType.TAKE_PROFIT_LIMIT)


def _quote(last: Decimal) -> Quote:
    return Quote(venue=Venue.PAPER, symbol="EUR/USD", price=last, bid=last - SPREAD,
                 ask=last + SPREAD, timestamp=datetime.now(UTC), source="bench")


def _to_tick(value: Decimal, rounding: str) -> Decimal:
    return (value / TICK).to_integral_value(rounding=rounding) * TICK


def setup(*, orders: int, trailing: int, rng: random.Random) -> Market:
    market = Market.objects.create(venue=Venue.PAPER, symbol="EUR/USD", base_currency="EUR",
                                   quote_currency="USD", tick_size=TICK,
                                   lot_size=Decimal("0.01"), status="enabled")
    TwdMarket.objects.create(market=market, symbol="EUR/USD", type="forex", name="EUR/USD")
    users = [get_user_model().objects.create(username=f"bench{i}") for i in range(USERS)]
    first = _quote(MID)
    started = time.perf_counter()
    batch: list[Order] = []
    for n in range(orders):
        side = rng.choice((Side.BUY, Side.SELL))
        source = rng.choice((TriggerSource.LAST, TriggerSource.BID_ASK))
        fields: dict = {}
        if n < trailing:
            type = OrderType.TRAILING_STOP
            best = MID
            if rng.random() < 0.5:
                delta = TICK * rng.randint(500, 5000)  # 0.5-5 % of the price
                stop = best - delta if side == Side.SELL else best + delta
                fields = {"trailing_delta": delta}
            else:
                rate = Decimal(rng.randint(5, 50)) / 1000  # 0.5-5 %
                stop = (_to_tick(best * (1 - rate), ROUND_FLOOR) if side == Side.SELL
                        else _to_tick(best * (1 + rate), ROUND_CEILING))
                fields = {"trailing_rate": rate}
            fields["trailing_best"] = best
            price = None
        else:
            type = rng.choice(TRIGGER_TYPES)
            away = MID * Decimal(rng.randint(10, 10_000)) / 100_000  # 0.01-10 %
            rising = trigger_direction(type=type, side=side) == TriggerDirection.RISE
            stop = _to_tick(MID + away if rising else MID - away, ROUND_FLOOR)
            price = stop if type.endswith("LIMIT") else None
        direction = trigger_direction(type=type, side=side)
        batch.append(Order(
            user=users[n % USERS], market=market, venue=Venue.PAPER, type=type, side=side,
            status=OrderStatus.PENDING, price=price, reference_price=price or stop,
            amount=Decimal("100"), remaining=Decimal("100"), maker_fee_rate=market.maker_fee,
            taker_fee_rate=market.taker_fee, client_order_id=f"cond-{n}",
            hold_key=f"bench:cond:{n}", stop_price=stop, trigger_direction=direction,
            trigger_source=source, **fields))
        if len(batch) == 10_000:
            Order.objects.bulk_create(batch)
            batch.clear()
    Order.objects.bulk_create(batch)
    print(f"setup: {orders:,} PENDING conditional orders ({trailing:,} active trailing "
          f"stops) bulk-inserted in {time.perf_counter() - started:.1f}s; first quote "
          f"{first.price}")
    return market


def indexed_find(*, market: Market, quote: Quote) -> list[int]:
    """What ``conditional_trigger`` runs to find the orders ``quote`` fires."""
    return store_for(market.venue).triggered_ids(
        market=market, prices=conditional._trigger_prices(quote),
        placed_before=quote.timestamp)


def scan_find(*, market: Market, quote: Quote) -> list[int]:
    """Every PENDING order of the market, each tested in Python."""
    watched = {
        (TriggerSource.LAST, Side.BUY): quote.price, (TriggerSource.LAST, Side.SELL): quote.price,
        (TriggerSource.BID_ASK, Side.BUY): quote.ask,
        (TriggerSource.BID_ASK, Side.SELL): quote.bid,
    }
    found = []
    for pk, side, source, direction, stop, created_at, settle_error in Order.objects.filter(
            market_id=market.pk, status=OrderStatus.PENDING).values_list(
            "pk", "side", "trigger_source", "trigger_direction", "stop_price", "created_at",
            "settle_error"):
        if stop is None or settle_error or created_at >= quote.timestamp:
            continue
        price = watched[source, side]
        if price >= stop if direction == TriggerDirection.RISE else price <= stop:
            found.append(pk)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--trailing", type=int, default=10_000,
                        help="of --orders, how many are active trailing stops")
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    recreate_database()
    market = setup(orders=args.orders, trailing=args.trailing, rng=rng)
    pending = Order.objects.filter(market=market, status=OrderStatus.PENDING).count()

    trail_ms, find_ms, scan_ms, moved, found_total = [], [], [], [], 0
    last = MID
    for tick in range(args.ticks):
        last = _to_tick(last * (1 + Decimal(rng.randint(-300, 300)) / 100_000), ROUND_FLOOR)
        quote = _quote(last)
        started = time.perf_counter()
        moved.append(conditional._trail(market=market, quote=quote))
        trail_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        found = indexed_find(market=market, quote=quote)
        find_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        scanned = scan_find(market=market, quote=quote)
        scan_ms.append((time.perf_counter() - started) * 1000)
        if scanned != found:
            sys.exit(f"tick {tick}: the scan found {len(scanned)} orders, the index "
                     f"{len(found)}: {sorted(set(scanned) ^ set(found))[:20]}")
        found_total += len(found)
        # Firing takes an order out of PENDING: so does the bench (untimed), so that the
        # next quote finds what it newly crosses, not again what this one fired.
        Order.objects.filter(pk__in=found).update(status=OrderStatus.CANCELED)
        print(f"tick {tick:2d} @ {last}: {len(found):5d} fire; trail {trail_ms[-1]:8.2f} ms "
              f"({moved[-1]:5d} moved), find {find_ms[-1]:7.2f} ms, scan {scan_ms[-1]:8.2f} ms")

    find_avg, scan_avg = statistics.mean(find_ms), statistics.mean(scan_ms)
    print(f"\n{pending:,} PENDING conditional orders ({args.trailing:,} trailing), "
          f"{args.ticks} quotes, {found_total:,} orders found in all, on {connection.vendor} "
          f"({connection.mysql_server_info})")
    print(f"find:  indexed {find_avg:.2f} ms/quote (p50 {statistics.median(find_ms):.2f}, "
          f"max {max(find_ms):.2f}), scan {scan_avg:.2f} ms/quote -> {scan_avg / find_avg:.0f}x")
    print(f"trail: {statistics.mean(trail_ms):.2f} ms/quote (p50 "
          f"{statistics.median(trail_ms):.2f}, max {max(trail_ms):.2f}) for {args.trailing:,} "
          f"active trailing stops, {statistics.mean(moved):.0f} moved per quote on average")
    print(json.dumps({"bench": "conditional_trigger", "orders": pending,
                      "ratio_vs_scan": round(scan_avg / find_avg, 1),
                      "find_ms_per_tick": round(find_avg, 3)}))


if __name__ == "__main__":
    main()
