"""Orders per second that the engine matches and the ledger settles, on MariaDB + Redis,
against the same orders through the synchronous per-order path; and the settlement lag.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h4_bench \
    REDIS_URL=redis://127.0.0.1:6379/4 \
        .venv/bin/python bench/internal_market.py --orders 3000 --users 200 [--runners 3]

Workload (seeded): ``--users`` traders with ECO balances, ``--orders`` random orders on an
ecosystem market (tick 0.01, lot 0.001) around 10.00: 60 % GTC limits (10 % post-only),
12 % IOC, 5 % FOK, 8 % market, and cancels of earlier orders; each trader's self-trade
prevention mode drawn at random. The same list of orders is placed, through
``trading.services.order_place``/``order_cancel``, on identical markets.

Scale-out, as production runs it: one writer per market, markets spread over runners
(processes). Each phase has ``--runners`` markets (1 by default; the same traders, so
their wallets are shared), each placed and run by a process of its own, all side by side;
a phase's orders/s is its commands on all its markets over the wall time from the common
start (a barrier, after each process's setup) to the last one's end. ``--runners 1`` (the
default) is one market per phase, one process at a time, as before the option existed.

1. batched: every order placed first (their commands queued), then each market's runner
   drains them with ENGINE_BATCH commands per settlement transaction: orders/s = commands /
   drain time (the engine's apply, the ledger's settle_trades, the orders and fills, the
   outbox, and, on the runner's dispatcher thread, the order store and streams: the
   clock stops once every batch is sent);
2. per order (the baseline): the same, ENGINE_BATCH = 1: each command applied and settled
   in its own transaction, as a synchronous per-order venue would, with the same number
   of runner processes side by side;
3. sustained: in each process the runner on a thread while the main thread places its
   market's orders as fast as it can; the settlement lag of a command is from its commit
   (``EngineCommand.created_at``) to the commit of the batch that settled it (its outbox
   row's ``created_at``), so it includes waiting for the runner; p50/p99 over all markets.

The last line is the JSON summary (the batched phase's orders/s, the sustained phase's
lag p99); ``ratio_vs_sync`` = batched orders/s / per-order orders/s.
"""
import argparse
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import traceback
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
# As production runs: with DEBUG on, Django keeps the text of every statement it sends
# (a tenth of the engine drain's CPU in bench/internal_market_profile.py), which no
# deployment does.
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

import django  # noqa: E402

django.setup()

from benchdb import recreate_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from apps.accounts.models import KycApplication  # noqa: E402
from apps.core.errors import DomainError  # noqa: E402
from apps.ecosystem import services as eco_services  # noqa: E402
from apps.ecosystem.models import Blockchain  # noqa: E402
from apps.engine.models import EngineCommand, EngineOutbox  # noqa: E402
from apps.engine.runner import Runner, freeze_heap  # noqa: E402
from apps.matching import StpMode  # noqa: E402
from apps.trading import services  # noqa: E402
from apps.trading.models import Market  # noqa: E402
from apps.wallets import selectors as wallet_selectors  # noqa: E402
from apps.wallets import services as wallet_services  # noqa: E402

D = Decimal


def setup(users: int, *, markets: int):
    """``markets`` identical ecosystem markets and ``users`` traders funded on all."""
    chain = Blockchain.objects.create(name="Bench chain", chain_id=7)
    # Currency codes of letters only: B, then two letters per market (BAA, BAB, ...).
    codes = [f"B{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(markets)]
    found = []
    for code in codes:
        token = eco_services.token_list(chain=chain, symbol=code, name=code,
                                        contract_address=f"0x{code}", decimals=8)
        found.append(eco_services.market_create(
            base_token=token, quote_currency="USDT", tick_size=D("0.01"),
            lot_size=D("0.001")).market)
    traders = []
    for i in range(users):
        user = get_user_model().objects.create(username=f"bench{i}")
        KycApplication.objects.create(user=user, full_name="Bench", country="GB",
                                      date_of_birth="1990-01-01",
                                      status=KycApplication.Status.APPROVED)
        for code in ("USDT", *codes):
            wallet_services.deposit(user_id=user.pk, wallet_type="ECO", currency=code,
                                    amount=D("1000000") if code == "USDT" else D("100000"),
                                    key=f"bench:{user.pk}:{code}")
        traders.append(user.pk)
    return found, traders


def workload(*, orders: int, traders: list[int], seed: int) -> list[tuple]:
    rng = random.Random(seed)
    stp = {t: rng.choice([None, *StpMode.__members__]) for t in traders}
    plan = []
    for i in range(orders):
        user = rng.choice(traders)
        if i > 10 and rng.random() < 0.1:
            plan.append(("cancel", user, rng.randrange(i)))
            continue
        side = rng.choice(["BUY", "SELL"])
        price = D(1000 + rng.randint(-30, 30) + (4 if side == "SELL" else -4)) / 100
        kwargs = {"amount": D(rng.randint(1, 2000)) / 1000,
                  "venue_options": {"stp": stp[user]}}
        kind = rng.random()
        if kind < 0.08:
            kwargs.update(type="MARKET", price=None)
        else:
            kwargs.update(type="LIMIT", price=price)
            if kind < 0.20:
                kwargs["time_in_force"] = "IOC"
            elif kind < 0.25:
                kwargs["time_in_force"] = "FOK"
            elif kind < 0.31:
                kwargs["post_only"] = True
        plan.append(("place", user, side, kwargs))
    return plan


def place_all(market, plan: list[tuple]) -> int:
    placed: list[int | None] = []
    count = 0
    for item in plan:
        try:
            if item[0] == "cancel":
                target = placed[item[2]]
                if target is not None:
                    services.order_cancel(user_id=item[1], venue="ecosystem", order_id=target)
                    count += 1
                placed.append(None)
                continue
            _, user, side, kwargs = item
            order = services.order_place(user_id=user, venue="ecosystem", symbol=market.symbol,
                                         side=side, **kwargs)
            placed.append(order.pk)
            count += 1
        except DomainError:  # no liquidity for a market order; another's order; done
            placed.append(None)
    return count


def drain(market, *, batch: int, ready=lambda: None) -> tuple[int, float, float]:
    """Run ``market``'s queued commands, ``batch`` per settlement transaction; ``ready()``
    is called once the runner has started. Returns the commands, the clock's start and
    end (``time.time()``, comparable across processes)."""
    settings.ENGINE_BATCH = batch
    runner = Runner(name=f"bench-{batch}-{market.pk}", markets=[market])
    runner.start()
    freeze_heap()  # as run_engine does once its runner has started
    ready()
    started, done = time.time(), 0
    with runner.dispatching():  # the clock stops once every batch is sent
        while (n := runner.step()):
            done += n
    ended = time.time()
    runner.release()
    return done, started, ended


def _place_job(market_pk: int, plan: list[tuple], barrier) -> tuple[int, float, float]:
    market = Market.objects.get(pk=market_pk)
    barrier.wait()
    started = time.time()
    return place_all(market, plan), started, time.time()


def _drain_job(market_pk: int, batch: int, barrier) -> tuple[int, float, float]:
    return drain(Market.objects.get(pk=market_pk), batch=batch, ready=barrier.wait)


def _sustained_job(market_pk: int, plan: list[tuple], batch: int, barrier
                   ) -> tuple[int, float, float]:
    settings.ENGINE_BATCH = batch
    market = Market.objects.get(pk=market_pk)
    runner = Runner(name=f"bench-sustained-{market_pk}", markets=[market])
    runner.start()
    freeze_heap()
    placing_done = threading.Event()

    def settled() -> bool:
        return placing_done.is_set() and not EngineCommand.objects.filter(
            market=market, seq__gt=runner.states[market.pk].applied_seq).exists()

    thread = threading.Thread(target=lambda: (runner.run(until=settled), connection.close()))
    barrier.wait()
    started = time.time()
    thread.start()
    placed = place_all(market, plan)
    placing_done.set()
    thread.join()
    ended = time.time()
    runner.release()
    return placed, started, ended


def _worker(job, args: tuple, barrier, results) -> None:
    try:
        results.put(job(*args, barrier))
    except BaseException:
        barrier.abort()
        results.put(traceback.format_exc())
    finally:
        connection.close()


def side_by_side(job, jobs: list[tuple]) -> tuple[int, float]:
    """Run ``job(*args, barrier)`` for each of ``jobs`` in a process of its own, all
    started together (a barrier after their setup); their counts summed, and the wall
    time from the first start to the last end."""
    ctx = multiprocessing.get_context("spawn")  # a fresh process: no inherited sockets
    barrier, results = ctx.Barrier(len(jobs), timeout=900), ctx.Queue()
    processes = [ctx.Process(target=_worker, args=(job, args, barrier, results))
                 for args in jobs]
    for process in processes:
        process.start()
    found = [results.get() for _ in processes]
    for process in processes:
        process.join()
    failed = [f for f in found if isinstance(f, str)]
    if failed:
        sys.exit(f"a bench process failed:\n{failed[0]}")
    return sum(n for n, _, _ in found), max(e for _, _, e in found) - min(s for _, s, _ in found)


def lags_ms(market) -> list[float]:
    outboxes = list(EngineOutbox.objects.filter(market=market).order_by("first_seq")
                    .values_list("first_seq", "last_seq", "created_at"))
    lags, i = [], 0
    for seq, created in (EngineCommand.objects.filter(market=market).order_by("seq")
                         .values_list("seq", "created_at")):
        while outboxes[i][1] < seq:
            i += 1
        lags.append((outboxes[i][2] - created).total_seconds() * 1000)
    return lags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    # One by default: on the 2-core machine these figures come from, three runner
    # processes side by side settled fewer orders per second than one (BENCHMARKS.md).
    parser.add_argument("--runners", type=int, default=1,
                        help="markets per phase, each run by a process of its own")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if not getattr(settings, "REDIS_URL", ""):
        sys.exit("REDIS_URL must be set (the quote cache, the streams and the wake-ups)")
    recreate_database()
    n = args.runners
    markets, traders = setup(args.users, markets=3 * n)
    batched, per_order, sustained = markets[:n], markets[n:2 * n], markets[2 * n:]
    plan = workload(orders=args.orders, traders=traders, seed=args.seed)
    connection.close()  # the processes open their own
    print(f"{n} runner process(es) side by side per phase, one market each")

    placed, placing = side_by_side(_place_job, [(m.pk, plan) for m in batched])
    print(f"placed {placed} commands in {placing:.1f} s ({placed / placing:.0f}/s)")
    done, took = side_by_side(_drain_job, [(m.pk, args.batch) for m in batched])
    batched_rate = done / took
    print(f"batched ({args.batch}/transaction): {done} commands in {took:.2f} s "
          f"= {batched_rate:.0f} orders/s")

    n_per, _ = side_by_side(_place_job, [(m.pk, plan) for m in per_order])
    done_sync, took_sync = side_by_side(_drain_job, [(m.pk, 1) for m in per_order])
    sync_rate = done_sync / took_sync
    print(f"per order (1/transaction): {done_sync} of {n_per} commands in {took_sync:.2f} s "
          f"= {sync_rate:.0f} orders/s")

    n_sus, took_sus = side_by_side(_sustained_job,
                                   [(m.pk, plan, args.batch) for m in sustained])
    lags = sorted(lag for m in sustained for lag in lags_ms(m))
    p50 = statistics.median(lags)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    print(f"sustained (placing and settling together): {n_sus} commands in {took_sus:.1f} s "
          f"= {n_sus / took_sus:.0f} orders/s end to end; settlement lag p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms")
    problems = wallet_selectors.reconcile()
    print(f"wallets_reconcile: {len(problems)} problems")
    print(json.dumps({"bench": "internal_market", "orders_per_s": round(batched_rate),
                      "settle_lag_p99_ms": round(p99),
                      "ratio_vs_sync": round(batched_rate / sync_rate, 2)}))


if __name__ == "__main__":
    main()
