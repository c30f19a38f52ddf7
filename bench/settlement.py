"""Settling fills: the batched ledger path against one transaction per fill, on MariaDB.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_bench \
        .venv/bin/python bench/settlement.py --users 2000 --fills 20000 --batch 500

Workload (seeded): two datasets of identical shape in one database, one per path, each of
``--users`` users granted PAPER USD and EUR by the faucet, each with a USD hold (for buys)
and an EUR hold (for sells) placed through ``hold_create``, as resting orders have. Then
``--fills`` EUR/USD fills, each one user buying or selling 1-100 EUR at about 1.1 against
PAPER_MARKET, paying a 0.1% fee (rounded up to the cent) to FEES, out of its hold. The two
datasets get the same fills, user for user.

- batched: ``settle_trades`` over batches of ``--batch`` fills, one transaction each;
- per-fill: ``settle_trade`` per fill, each in its own transaction (as the paper executor
  settles a fill).
Both run in this process on the same data, in ``--rounds`` interleaved rounds (each round's
fills settled by one path then the other, the first alternating, so that the database's
background work after the setup weighs on both alike); their final balances must agree user for user
and ``wallets_reconcile`` must be clean. Each path's clock stops once the balance events it
handed off are sent (``streams.flush``). Prints per-path figures (fills/s, ms per batch or
fill, queries each) and, last, one JSON line.

``--cpu N`` instead times N batches of the batched path alone, each on its own (CPU time
of this process, ``time.process_time``, and wall time; ``settle_trades`` and then
``streams.flush`` apart; statements), and prints their medians: on a shared machine the CPU
a batch costs compares across changes where its wall time does not.
"""
import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
# As production runs: with DEBUG on, Django keeps the text of every statement it sends,
# which no deployment does.
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

import django  # noqa: E402

django.setup()

from benchdb import recreate_database  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from apps.marketdata import streams  # noqa: E402
from apps.wallets import selectors, services  # noqa: E402
from apps.wallets.constants import JournalKind, SystemAccount  # noqa: E402
from apps.wallets.services import TradeParty, TradeSettlement  # noqa: E402

CENT = Decimal("0.01")
FEE_RATE = Decimal("0.001")
GRANT = Decimal("1000000")
HOLD = Decimal("500000")


def dataset(prefix: str, users: int) -> list[int]:
    """``users`` users granted PAPER USD and EUR, each with its two holds; their ids."""
    model = get_user_model()
    model.objects.bulk_create([model(username=f"{prefix}{i}") for i in range(users)])
    ids = list(model.objects.filter(username__startswith=prefix).order_by("pk")
               .values_list("pk", flat=True))
    # The faucet's journals, batched (what grant_paper_funds posts, one per user and currency).
    grants = [services.Posting(key=f"grant:{user_id}:{currency}", kind=JournalKind.FAUCET,
                               legs=(services.Leg("PAPER", currency, -GRANT,
                                                  system=SystemAccount.PAPER_FAUCET),
                                     services.Leg("PAPER", currency, GRANT, user_id=user_id)))
              for user_id in ids for currency in ("USD", "EUR")]
    for start in range(0, len(grants), 1000):
        services.post_journals(grants[start:start + 1000])
    with transaction.atomic():  # one commit: setup is not what is measured
        for user_id in ids:
            for currency in ("USD", "EUR"):
                services.hold_create(user_id=user_id, wallet_type="PAPER", currency=currency,
                                     amount=HOLD, key=f"hold:{user_id}:{currency}")
    return ids


def fills(*, count: int, users: int, seed: int) -> list[tuple[int, str, Decimal, Decimal]]:
    """``(user index, side, quantity, quote amount)`` of each fill."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        quantity = Decimal(rng.randint(100, 10_000)) * CENT
        price = Decimal(rng.randint(109_000, 111_000)) / Decimal(100_000)
        out.append((rng.randrange(users), rng.choice(("BUY", "SELL")), quantity,
                    (quantity * price).quantize(CENT)))
    return out


def trades(prefix: str, ids: list[int], plan) -> list[TradeSettlement]:
    market = TradeParty(system=SystemAccount.PAPER_MARKET)
    out = []
    for n, (user, side, quantity, quote_amount) in enumerate(plan):
        fee = max(CENT, (quote_amount * FEE_RATE).quantize(CENT, rounding=ROUND_CEILING))
        user_id = ids[user]
        if side == "BUY":
            buyer = TradeParty(user_id=user_id, hold_key=f"hold:{user_id}:USD", fee=fee)
            seller = market
        else:
            buyer = market
            seller = TradeParty(user_id=user_id, hold_key=f"hold:{user_id}:EUR", fee=fee)
        out.append(TradeSettlement(key=f"{prefix}:fill:{n}", wallet_type="PAPER", base="EUR",
                                   quote="USD", quantity=quantity, quote_amount=quote_amount,
                                   buyer=buyer, seller=seller))
    return out


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(run, items) -> tuple[float, int]:
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        run(items)
        # The users' balance events are handed off, not waited for: a path is done when
        # they are sent too.
        streams.flush()
        elapsed = time.perf_counter() - started
    return elapsed, counter.count


def batched(items: list[TradeSettlement], size: int) -> None:
    for start in range(0, len(items), size):
        services.settle_trades(trades=items[start:start + size])


def per_fill(items: list[TradeSettlement]) -> None:
    for trade in items:
        with transaction.atomic():
            services.settle_trade(key=trade.key, wallet_type=trade.wallet_type,
                                  base=trade.base, quote=trade.quote, quantity=trade.quantity,
                                  quote_amount=trade.quote_amount, buyer=trade.buyer,
                                  seller=trade.seller)


def cpu_per_batch(items: list[TradeSettlement], size: int) -> None:
    """Settle ``items`` in batches of ``size``, each timed alone; print the medians."""
    columns: dict[str, list[float]] = {}
    for start in range(0, len(items), size):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            wall, cpu = time.perf_counter(), time.process_time()
            services.settle_trades(trades=items[start:start + size])
            settled = time.perf_counter(), time.process_time()
            streams.flush()
            flushed = time.perf_counter(), time.process_time()
        for name, value in (("settle_trades CPU", settled[1] - cpu),
                            ("streams.flush CPU", flushed[1] - settled[1]),
                            ("batch CPU", flushed[1] - cpu), ("batch wall", flushed[0] - wall)):
            columns.setdefault(name, []).append(value * 1000)
        columns.setdefault("statements", []).append(counter.count)
    print(f"median of {len(columns['statements'])} batches of {size}:")
    for name, values in columns.items():
        unit = "" if name == "statements" else " ms"
        print(f"  {name:18s} {statistics.median(values):7.1f}{unit} "
              f"(min {min(values):.1f}, max {max(values):.1f})")


def user_balances(ids: list[int]) -> list[tuple]:
    """Each user's (currency, balance, held), user by user."""
    return [tuple(selectors.wallet_list(user_id=user_id).values_list(
        "currency_id", "balance", "held")) for user_id in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds of fills, each settled by both paths in turn")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true",
                        help="profile one batch (cProfile) and exit")
    parser.add_argument("--cpu", type=int, metavar="N",
                        help="time N batches of the batched path alone (CPU and wall) and exit")
    args = parser.parse_args()
    recreate_database()
    started = time.perf_counter()
    ids = {prefix: dataset(prefix, args.users) for prefix in ("batched", "perfill")}
    streams.flush()  # the setup's balance events, before any clock starts
    print(f"setup: 2 x {args.users:,} users granted and holding, in "
          f"{time.perf_counter() - started:.1f}s")
    plan = fills(count=args.fills, users=args.users, seed=args.seed)
    if args.profile:
        import cProfile
        import pstats
        items = trades("batched", ids["batched"], plan)[:args.batch]
        with cProfile.Profile() as profile:
            services.settle_trades(trades=items)
            streams.flush()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    if args.cpu:
        cpu_per_batch(trades("batched", ids["batched"], plan)[:args.cpu * args.batch], args.batch)
        return

    # Interleaved rounds, the first path alternating, so that neither path alone meets the
    # database's background work (page flushing after the setup, purge).
    paths = {"batched": lambda items: batched(items, args.batch), "perfill": per_fill}
    work = {name: trades(name, ids[name], plan) for name in paths}
    spent = {name: [0.0, 0] for name in paths}
    step = -(-args.fills // args.rounds)
    for n, start in enumerate(range(0, args.fills, step)):
        for name in sorted(paths, reverse=bool(n % 2)):
            seconds, queries = timed(paths[name], work[name][start:start + step])
            spent[name][0] += seconds
            spent[name][1] += queries
    (batch_s, batch_q), (fill_s, fill_q) = spent["batched"], spent["perfill"]

    batches = -(-args.fills // args.batch)
    batch_rate, fill_rate = args.fills / batch_s, args.fills / fill_s
    print(f"\n{args.fills:,} fills among {args.users:,} users on {connection.vendor} "
          f"({connection.mysql_server_info})")
    print(f"batched:  {batch_rate:8,.0f} fills/s  {batch_s * 1000 / batches:7.1f} ms per "
          f"batch of {args.batch}, {batch_q / batches:.1f} queries per batch")
    print(f"per-fill: {fill_rate:8,.0f} fills/s  {fill_s * 1000 / args.fills:7.2f} ms per fill,"
          f" {fill_q / args.fills:.1f} queries per fill")
    print(f"ratio:    {batch_rate / fill_rate:.1f}x")
    agree = user_balances(ids["batched"]) == user_balances(ids["perfill"])
    problems = selectors.reconcile()
    print(f"agree: {'yes' if agree else 'NO'}; reconcile: "
          f"{'clean' if not problems else f'{len(problems)} problems'}")
    if not agree or problems:
        sys.exit("\n".join(problems[:20]) or "the two paths disagree")
    print(json.dumps({"bench": "settlement", "fills_per_s": round(batch_rate),
                      "ratio_vs_per_fill": round(batch_rate / fill_rate, 1)}))


if __name__ == "__main__":
    main()
