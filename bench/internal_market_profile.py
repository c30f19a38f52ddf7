"""Where one engine batch's time goes: internal_market's workload placed on one market,
then drained with ENGINE_BATCH = 500 under cProfile; prints the drain time, the
statements sent to the database (MySQLdb ``execute`` calls: an ``executemany`` of an
UPDATE is one per row) and the top of the profile by cumulative time.

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
    args = parser.parse_args()
    im.recreate_database()
    (market, _, _), traders = im.setup(args.users)
    plan = im.workload(orders=args.orders, traders=traders, seed=args.seed)
    t0 = time.perf_counter()
    placed = im.place_all(market, plan)
    print(f"placed {placed} commands in {time.perf_counter() - t0:.1f} s")
    sent = [0]
    execute = BaseCursor.execute

    def counting(self, query, args=None):
        sent[0] += 1
        return execute(self, query, args)

    BaseCursor.execute = counting
    profile = cProfile.Profile()
    profile.enable()
    done, took = im.drain(market, batch=500)
    profile.disable()
    BaseCursor.execute = execute
    print(f"drained {done} commands in {took:.2f} s = {done / took:.0f} orders/s; "
          f"{sent[0]} statements")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
