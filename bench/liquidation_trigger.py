"""How fast a futures mark tick finds the positions it liquidates, against scanning every
open position, on MariaDB.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h7_bench DJANGO_DEBUG=1 SECRET_KEY=bench \
        .venv/bin/python bench/liquidation_trigger.py --positions 100000

Workload (seeded): one futures contract (BTC/USDT, the reference's tiers) holding
``--positions`` open positions of as many users, bulk-inserted as rows (no margin holds:
the bench liquidates nothing): long or short, 0.001-2 BTC, entries 0-5 % around 60,000,
leverage 1-100x (margin = notional / leverage), and the liquidation price each would store
(``margin.liquidation_price``; a 1x long has none). Then ``--ticks`` marks, a seeded walk
of up to 0.3 % a step.

For every mark, in one process and on the same data:
- indexed find: what ``liquidation.liquidate_on_mark`` runs to find its candidates
  (``selectors.liquidation_candidates``: one range per side of the (contract, status, side,
  liquidation_price) index) -- the service's own code, called as it calls it;
- scan: load every open position of the contract and test each in Python at the mark
  (``margin.below_maintenance``: what a liquidation engine without the stored price does).
Both must find the same positions on every tick (checked); what they found is then taken
out of OPEN (untimed), as liquidating it would. Prints per-tick times, then the averages
and, last, one JSON line.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

import django  # noqa: E402

django.setup()

from benchdb import recreate_database  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from apps.futures import margin, selectors  # noqa: E402
from apps.futures.constants import PositionSide, PositionStatus  # noqa: E402
from apps.futures.models import Contract, MarginTier, Position  # noqa: E402
from apps.trading.constants import Venue  # noqa: E402
from apps.trading.models import Market  # noqa: E402

TICK = Decimal("0.01")
MID = Decimal(60000)
TIERS = [("0", "50000", 125, "0.004", "0"), ("50000", "600000", 100, "0.005", "50"),
         ("600000", "3000000", 75, "0.0065", "950"), ("3000000", None, 50, "0.01", "11450")]
BATCH = 10_000


def _to_tick(value: Decimal) -> Decimal:
    return value.quantize(TICK, rounding=ROUND_HALF_EVEN)


def setup(*, positions: int, rng: random.Random) -> Contract:
    market = Market.objects.create(venue=Venue.FUTURES, symbol="BTC/USDT", base_currency="BTC",
                                   quote_currency="USDT", kind="perpetual", tick_size=TICK,
                                   lot_size=Decimal("0.001"), status="enabled")
    contract = Contract.objects.create(market=market, contract_size=Decimal("0.001"),
                                       max_leverage=125)
    MarginTier.objects.bulk_create([
        MarginTier(contract=contract, floor=Decimal(f), cap=c and Decimal(c), max_leverage=lev,
                   mmr=Decimal(mmr), maintenance_amount=Decimal(cum))
        for f, c, lev, mmr, cum in TIERS])
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    started = time.perf_counter()
    User = get_user_model()
    for first in range(0, positions, BATCH):
        User.objects.bulk_create([User(username=f"bench{n}", password="!")
                                  for n in range(first, min(first + BATCH, positions))])
    user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    batch = []
    for user_id in user_ids:
        while True:  # a position already past its liquidation at the first mark is gone
            side = rng.choice((PositionSide.LONG, PositionSide.SHORT))
            size = Decimal(rng.randint(1, 2000)) * Decimal("0.001")
            entry = _to_tick(MID * (1 + Decimal(rng.randint(-5000, 5000)) / 100_000))
            value = size * entry
            wb = margin.initial_margin(notional=value, leverage=rng.randint(1, 100),
                                       decimals=8)
            args = dict(side=side, size=size, value=value, margin=wb)
            if not margin.below_maintenance(**args, price=MID, tiers=tiers):
                break
        batch.append(Position(
            user_id=user_id, contract=contract, status=PositionStatus.OPEN, generation=1,
            leverage=1, **args, liquidation_price=margin.liquidation_price(**args, tiers=tiers),
            bankruptcy_price=margin.bankruptcy_price(**args)))
        if len(batch) == BATCH:
            Position.objects.bulk_create(batch)
            batch.clear()
    Position.objects.bulk_create(batch)
    with connection.cursor() as cursor:  # fresh statistics, as a long-running table has
        cursor.execute("ANALYZE TABLE futures_position")
        cursor.fetchall()
    print(f"setup: {positions:,} open positions bulk-inserted in "
          f"{time.perf_counter() - started:.1f}s")
    return contract


def indexed_find(*, contract: Contract, mark: Decimal) -> list[int]:
    """What ``liquidate_on_mark`` runs to find the positions ``mark`` reaches."""
    return selectors.liquidation_candidates(contract_id=contract.pk, mark=mark)


def scan_find(*, contract: Contract, mark: Decimal, tiers: list[margin.Tier]) -> list[int]:
    """Every open position of the contract, each tested at ``mark`` in Python."""
    return sorted(
        pk for pk, side, size, value, wb in Position.objects.filter(
            contract_id=contract.pk, status=PositionStatus.OPEN, user__isnull=False)
        .values_list("pk", "side", "size", "value", "margin")
        if margin.below_maintenance(side=side, size=size, value=value, margin=wb, price=mark,
                                    tiers=tiers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    recreate_database()
    contract = setup(positions=args.positions, rng=rng)
    tiers = selectors.contract_tiers(contract_id=contract.pk)
    open_count = Position.objects.filter(contract=contract, status=PositionStatus.OPEN).count()

    find_ms, scan_ms, found_total = [], [], 0
    mark = MID
    for tick in range(args.ticks):
        mark = _to_tick(mark * (1 + Decimal(rng.randint(-300, 300)) / 100_000))
        started = time.perf_counter()
        found = indexed_find(contract=contract, mark=mark)
        find_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        scanned = scan_find(contract=contract, mark=mark, tiers=tiers)
        scan_ms.append((time.perf_counter() - started) * 1000)
        if scanned != found:
            sys.exit(f"tick {tick}: the scan found {len(scanned)} positions, the index "
                     f"{len(found)}: {sorted(set(scanned) ^ set(found))[:20]}")
        found_total += len(found)
        # A liquidation takes the position out of OPEN: so does the bench (untimed), so
        # that the next tick finds what it newly reaches.
        Position.objects.filter(pk__in=found).update(status=PositionStatus.FLAT)
        print(f"tick {tick:2d} @ {mark}: {len(found):5d} to liquidate; find "
              f"{find_ms[-1]:7.2f} ms, scan {scan_ms[-1]:8.2f} ms")

    find_avg, scan_avg = statistics.mean(find_ms), statistics.mean(scan_ms)
    print(f"\n{open_count:,} open positions, {args.ticks} mark ticks, {found_total:,} found in "
          f"all, on {connection.vendor} ({connection.mysql_server_info})")
    print(f"find: indexed {find_avg:.2f} ms/tick (p50 {statistics.median(find_ms):.2f}, max "
          f"{max(find_ms):.2f}), scan {scan_avg:.2f} ms/tick -> {scan_avg / find_avg:.0f}x")
    print(json.dumps({"bench": "liquidation_trigger", "positions": open_count,
                      "ratio_vs_scan": round(scan_avg / find_avg, 1),
                      "find_ms_per_tick": round(find_avg, 3)}))


if __name__ == "__main__":
    main()
