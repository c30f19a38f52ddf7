"""Where one engine batch's time goes: internal_market's workload placed on one market,
then drained with ENGINE_BATCH = 500 under cProfile. Prints the drain's wall time, this
process's CPU time, the Python function calls, the statements sent to the database
(MySQLdb ``execute`` calls: an ``executemany`` of an UPDATE is one per row) and their
bytes, then the top of the profile by cumulative and by own time. On a shared machine the
wall time follows the load; the calls, statements and bytes do not, and the CPU time much
less.

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h4_bench REDIS_URL=redis://127.0.0.1:6379/4 \
    DJANGO_DEBUG=1 SECRET_KEY=bench .venv/bin/python bench/internal_market_profile.py --orders 600
"""
import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import internal_market as im  # noqa: E402  (sets Django up)
from MySQLdb.cursors import BaseCursor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    im.recreate_database()
    (market, _, _), traders = im.setup(args.users)
    plan = im.workload(orders=args.orders, traders=traders, seed=args.seed)
    t0 = time.perf_counter()
    placed = im.place_all(market, plan)
    print(f"placed {placed} commands in {time.perf_counter() - t0:.1f} s")
    sent = [0, 0]
    execute = BaseCursor.execute

    def counting(self, query, args=None):
        sent[0] += 1
        sent[1] += len(query)
        return execute(self, query, args)

    BaseCursor.execute = counting
    profile = cProfile.Profile()
    cpu = time.process_time()
    profile.enable()
    done, took = im.drain(market, batch=500)
    profile.disable()
    cpu = time.process_time() - cpu
    BaseCursor.execute = execute
    stats = pstats.Stats(profile)
    print(f"drained {done} commands in {took:.2f} s = {done / took:.0f} orders/s profiled; "
          f"CPU {cpu:.2f} s; {stats.total_calls} function calls; {sent[0]} statements, "
          f"{sent[1]} bytes")
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
