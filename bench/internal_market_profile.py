"""Where one engine batch's time goes: internal_market's workload placed on one market,
then drained with ENGINE_BATCH = 500.

By default without a profiler: the drain's wall time, this process's CPU time
(``time.process_time``: the runner's and its dispatcher's threads), and every statement
sent to the database (a wrapper around MySQLdb's ``execute``) timed and grouped by its
verb and table, with the rows it touched (the cursor's ``rowcount``), then the rows
written per trade. ``--profile`` runs the drain under cProfile instead and prints the top
of the profile by cumulative and by own time (the profiler's own cost inflates the wall
and CPU times; the calls, statements and bytes are what it measures well). On a shared
machine the wall time follows the load; the statements, rows and bytes do not, and the
CPU time much less.

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h4_bench REDIS_URL=redis://127.0.0.1:6379/4 \
    DJANGO_DEBUG=1 SECRET_KEY=bench .venv/bin/python bench/internal_market_profile.py --orders 600
"""
import argparse
import cProfile
import pstats
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import internal_market as im  # noqa: E402  (sets Django up)
from MySQLdb.cursors import BaseCursor  # noqa: E402

from apps.orderstore.models import StoredTrade  # noqa: E402

# The verb and the table of a statement: "INSERT INTO `x`", "UPDATE `x`", "SELECT ... FROM `x`".
_STATEMENT = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM|\w+)\s*`?(\w*)",
                        re.IGNORECASE | re.DOTALL)


def _kind(query) -> str:
    text = query.decode(errors="replace") if isinstance(query, bytes) else str(query)
    match = _STATEMENT.match(text[:4000])
    if match is None:
        return text[:30]
    verb = match.group(1).split()[0].upper()
    return f"{verb} {match.group(2)}".strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--profile", action="store_true", help="under cProfile")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    im.recreate_database()
    (market,), traders = im.setup(args.users, markets=1)
    plan = im.workload(orders=args.orders, traders=traders, seed=args.seed)
    t0 = time.perf_counter()
    placed = im.place_all(market, plan)
    print(f"placed {placed} commands in {time.perf_counter() - t0:.1f} s")
    # per kind: statements, seconds, rows, bytes; per thread: statements, seconds
    by_kind: dict[str, list] = defaultdict(lambda: [0, 0.0, 0, 0])
    by_thread: dict[str, list] = defaultdict(lambda: [0, 0.0])
    execute = BaseCursor.execute

    def timed(self, query, args=None):
        started = time.perf_counter()
        try:
            return execute(self, query, args)
        finally:
            took = time.perf_counter() - started
            entry = by_kind[_kind(query)]
            entry[0] += 1
            entry[1] += took
            entry[2] += max(self.rowcount, 0)
            entry[3] += len(query)
            name = threading.current_thread().name
            by_thread[name][0] += 1
            by_thread[name][1] += took

    BaseCursor.execute = timed
    profile = cProfile.Profile() if args.profile else None
    cpu = time.process_time()
    if profile:
        profile.enable()
    done, started, ended = im.drain(market, batch=500)
    took = ended - started
    if profile:
        profile.disable()
    cpu = time.process_time() - cpu
    BaseCursor.execute = execute
    trades = StoredTrade.objects.filter(market=market.symbol).count()
    statements = sum(v[0] for v in by_kind.values())
    db = sum(v[1] for v in by_kind.values())
    print(f"drained {done} commands in {took:.2f} s = {done / took:.0f} orders/s"
          f"{' profiled' if profile else ''}; CPU {cpu:.2f} s "
          f"({cpu / done * 1000:.2f} ms/command); {statements} statements taking "
          f"{db:.2f} s; {trades} trades")
    print(f"{'statement':<40} {'count':>6} {'ms':>8} {'rows':>7} {'rows/trade':>10} "
          f"{'KB':>7}")
    for kind, (count, seconds, rows, size) in sorted(by_kind.items(),
                                                      key=lambda kv: -kv[1][1]):
        per_trade = f"{rows / trades:.2f}" if trades and not kind.startswith("SELECT") else ""
        print(f"{kind:<40} {count:>6} {seconds * 1000:>8.1f} {rows:>7} {per_trade:>10} "
              f"{size / 1024:>7.1f}")
    for name, (count, seconds) in sorted(by_thread.items()):
        print(f"thread {name}: {count} statements, {seconds * 1000:.0f} ms")
    if profile:
        stats = pstats.Stats(profile)
        print(f"{stats.total_calls} function calls")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
