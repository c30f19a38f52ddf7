"""Orders per second that the engine matches and the ledger settles, on MariaDB + Redis,
against the same orders through the synchronous per-order path; and the settlement lag.

Usage (needs a MariaDB it may drop and recreate; the database name must end in _bench):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h4_bench \
    REDIS_URL=redis://127.0.0.1:6379/4 DJANGO_DEBUG=1 SECRET_KEY=bench \
        .venv/bin/python bench/internal_market.py --orders 5000 --users 200

Workload (seeded): ``--users`` traders with ECO balances, ``--orders`` random orders on an
ecosystem market (tick 0.01, lot 0.001) around 10.00: 60 % GTC limits (10 % post-only),
12 % IOC, 5 % FOK, 8 % market, and cancels of earlier orders; each trader's self-trade
prevention mode drawn at random. The same list of orders is placed, through
``trading.services.order_place``/``order_cancel``, on three identical markets:

1. batched: every order placed first (their commands queued), then one runner drains
   them with ENGINE_BATCH commands per settlement transaction: orders/s = commands /
   drain time (the engine's apply, the ledger's settle_trades, the orders and fills, the
   outbox, and the order store and streams after each commit);
2. per order (the baseline): the same, ENGINE_BATCH = 1: each command applied and settled
   in its own transaction, as a synchronous per-order venue would;
3. sustained: the runner on a thread of this process while this thread places the
   orders as fast as it can; the settlement lag of a command is from its commit
   (``EngineCommand.created_at``) to the commit of the batch that settled it (its
   outbox row's ``created_at``), so it includes waiting for the runner; p50/p99 printed.

Everything runs in one process (the GIL shared by the placer and the runner in phase 3).
The last line is the JSON summary; ``ratio_vs_sync`` = batched orders/s / per-order
orders/s.
"""
import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

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
from apps.engine.runner import Runner  # noqa: E402
from apps.matching import StpMode  # noqa: E402
from apps.trading import services  # noqa: E402
from apps.wallets import selectors as wallet_selectors  # noqa: E402
from apps.wallets import services as wallet_services  # noqa: E402

D = Decimal


def setup(users: int):
    chain = Blockchain.objects.create(name="Bench chain", chain_id=7)
    markets = []
    for code in ("BNA", "BNB", "BNC"):
        token = eco_services.token_list(chain=chain, symbol=code, name=code,
                                        contract_address=f"0x{code}", decimals=8)
        markets.append(eco_services.market_create(
            base_token=token, quote_currency="USDT", tick_size=D("0.01"),
            lot_size=D("0.001")).market)
    traders = []
    for i in range(users):
        user = get_user_model().objects.create(username=f"bench{i}")
        KycApplication.objects.create(user=user, full_name="Bench", country="GB",
                                      date_of_birth="1990-01-01",
                                      status=KycApplication.Status.APPROVED)
        for code in ("USDT", "BNA", "BNB", "BNC"):
            wallet_services.deposit(user_id=user.pk, wallet_type="ECO", currency=code,
                                    amount=D("1000000") if code == "USDT" else D("100000"),
                                    key=f"bench:{user.pk}:{code}")
        traders.append(user.pk)
    return markets, traders


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


def drain(market, *, batch: int) -> tuple[int, float]:
    settings.ENGINE_BATCH = batch
    runner = Runner(name=f"bench-{batch}", markets=[market])
    runner.start()
    started = time.perf_counter()
    done = 0
    with runner.dispatching():  # the clock stops once every batch is sent
        while (n := runner.step()):
            done += n
    elapsed = time.perf_counter() - started
    runner.release()
    return done, elapsed


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
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if not getattr(settings, "REDIS_URL", ""):
        sys.exit("REDIS_URL must be set (the quote cache, the streams and the wake-ups)")
    recreate_database()
    (batched, per_order, sustained), traders = setup(args.users)
    plan = workload(orders=args.orders, traders=traders, seed=args.seed)

    # A market order needs a book to size against: both markets get the same start.
    t0 = time.perf_counter()
    n_batched = place_all(batched, plan)
    placing = time.perf_counter() - t0
    print(f"placed {n_batched} commands in {placing:.1f} s ({n_batched / placing:.0f}/s)")
    done, took = drain(batched, batch=args.batch)
    batched_rate = done / took
    print(f"batched ({args.batch}/transaction): {done} commands in {took:.2f} s "
          f"= {batched_rate:.0f} orders/s")

    n_per = place_all(per_order, plan)
    done_sync, took_sync = drain(per_order, batch=1)
    sync_rate = done_sync / took_sync
    print(f"per order (1/transaction): {done_sync} of {n_per} commands in {took_sync:.2f} s "
          f"= {sync_rate:.0f} orders/s")

    settings.ENGINE_BATCH = args.batch
    runner = Runner(name="bench-sustained", markets=[sustained])
    runner.start()
    placing_done = threading.Event()
    thread = threading.Thread(target=lambda: (runner.run(until=lambda: placing_done.is_set()
                                                          and not EngineCommand.objects.filter(
                                                              market=sustained,
                                                              seq__gt=runner.states[
                                                                  sustained.pk].applied_seq
                                                          ).exists()),
                                              connection.close()))
    thread.start()
    t0 = time.perf_counter()
    n_sus = place_all(sustained, plan)
    placing_done.set()
    thread.join()
    took_sus = time.perf_counter() - t0
    runner.release()
    lags = sorted(lags_ms(sustained))
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
