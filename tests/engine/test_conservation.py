"""Conservation and crashes, with the engine in its own process (``manage.py run_engine``)
on MariaDB + Redis: random orders from many users through the core's services while the
runner is SIGKILLed at random points and restarted.

After the run: per currency, the users' ECO balances plus the fees are what was deposited
(the CLEARING account, the other side of both fills of every trade, is flat); every trade
of a from-scratch replay of the command log is settled exactly once (its two fills, their
journals); each restarted runner's book hashed as a from-scratch replay does; the book,
the SQL orders and the order store agree on the open orders; ``wallets_reconcile`` is
clean. Market buys by quote budget are among the orders. CI runs a seeded 300 orders
from 12 users with 1 kill (~50 s on MariaDB: the suite runs twice); the ``slow`` run is
the issue's 100,000 orders from 200 users with 20 kills.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from apps.core.errors import DomainError
from apps.engine.books import apply
from apps.engine.models import EngineCommand, EngineLease, EngineSequence
from apps.engine.runner import replay
from apps.matching import StpMode, Trade
from apps.orderstore.base import get_store
from apps.trading import services
from apps.trading.constants import RESTING_STATUSES, OrderStatus
from apps.trading.models import Fill, Order
from apps.wallets.models import Journal, Wallet
from tests.engine.helpers import CLEARING, FEES, SYMBOL, eco_market, system_total, trader
from tests.trading.helpers import books_clean

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def _engine_env() -> dict:
    db = connection.settings_dict
    url = f"mysql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "1", "SECRET_KEY": "x",
            "ENGINE_SNAPSHOT_EVERY": "150", "ENGINE_BATCH": "200",
            "ENGINE_POLL_SECONDS": "0.2"}


class Engine:
    """The runner's process: started, killed, restarted; its log lines kept."""

    def __init__(self, tmp_path: Path, market) -> None:
        self.log = tmp_path / "engine.log"
        self.market = market
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        # A killed runner's lease outlives it: the new one would wait for its expiry.
        EngineLease.objects.filter(pk=self.market.pk).update(expires_at=None, owner="")
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "run_engine", "--markets", f"ecosystem:{SYMBOL}"],
                cwd=ROOT, env=_engine_env(), stdout=out, stderr=out)
        self.starts += 1
        deadline = time.monotonic() + 60
        while len(self.restores()) < self.starts:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the runner did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def restores(self) -> list[dict]:
        found = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and '"engine_restored"' in line:
                found.append(json.loads(line))
        return found


def _random_order(rng: random.Random, users: list, placed: list[int]) -> None:
    user = rng.choice(users)
    if placed and rng.random() < 0.12:
        try:
            services.order_cancel(user_id=user.pk, venue="ecosystem",
                                  order_id=rng.choice(placed))
        except DomainError:
            pass  # another user's, or done already
        return
    side = rng.choice(["BUY", "SELL"])
    kind = rng.random()
    kwargs = {"venue_options": {"stp": rng.choice([None, *StpMode.__members__])}}
    price = D(1000 + rng.randint(-40, 40) + (5 if side == "SELL" else -5)) / 100
    amount = D(rng.randint(1, 3000)) / 1000
    if kind < 0.03 and side == "BUY":
        # A market buy by quote budget: the book spends it; the order ends with what it
        # bought and its hold's rest released.
        type_, price, amount = "MARKET", None, None
        kwargs["quote_amount"] = D(rng.randint(100, 3000)) / 100
    elif kind < 0.08:
        type_, price = "MARKET", None
    else:
        type_ = "LIMIT"
        if kind < 0.18:
            kwargs["time_in_force"] = "IOC"
        elif kind < 0.23:
            kwargs["time_in_force"] = "FOK"
        elif kind < 0.33:
            kwargs["post_only"] = True
    try:
        order = services.order_place(user_id=user.pk, venue="ecosystem", symbol=SYMBOL,
                                     side=side, type=type_, amount=amount, price=price,
                                     **kwargs)
    except DomainError:
        return  # no liquidity for a market order, or funds short: nothing written
    placed.append(order.pk)


def _wait_applied(market, *, timeout: float = 300) -> int:
    last = EngineSequence.objects.get(pk=market.pk).last_seq
    deadline = time.monotonic() + timeout
    while EngineLease.objects.get(pk=market.pk).applied_seq < last:
        assert time.monotonic() < deadline, "the runner did not catch up"
        time.sleep(0.2)
    return last


def run(tmp_path: Path, *, orders: int, users: int, kills: int, seed: int) -> None:
    market = eco_market()
    rng = random.Random(seed)
    funds = {"USDT": D("200000"), "ABC": D("20000")}
    traders = [trader(usdt=str(funds["USDT"]), abc=str(funds["ABC"])) for _ in range(users)]
    engine = Engine(tmp_path, market)
    engine.start()
    kill_at = set(rng.sample(range(orders // 10, orders), kills))
    placed: list[int] = []
    for i in range(orders):
        if i in kill_at:
            engine.kill()
            engine.start()
        _random_order(rng, traders, placed)
    applied = _wait_applied(market)
    engine.stop()

    # Each restarted runner restored the book a from-scratch replay makes.
    for restored in engine.restores()[1:]:
        scratch = replay(market=market, stp_default=StpMode.CANCEL_TAKER,
                         upto=restored["applied_seq"])
        assert scratch.state_hash() == restored["state_hash"]
        assert scratch.seq == restored["book_seq"]
    book = replay(market=market, stp_default=StpMode.CANCEL_TAKER, upto=applied)

    # Every trade of the replay settled exactly once: its maker and taker fills, one
    # journal each; nothing else.
    trades = []
    scratch = replay(market=market, stp_default=StpMode.CANCEL_TAKER, upto=0)
    for kind, payload in EngineCommand.objects.filter(market=market).order_by(
            "seq").values_list("kind", "payload"):
        trades += [e for e in apply(scratch, kind=kind, payload=payload) if e[0] is Trade]
    expected = {f"{market.pk}:{t[1]}:{m}" for t in trades for m in "MT"}
    fills = list(Fill.objects.filter(venue="ecosystem").values_list("trade_id", flat=True))
    assert len(fills) == len(set(fills)) == len(expected) and set(fills) == expected
    assert Journal.objects.filter(key__startswith="fill:ecosystem:").count() == len(expected)
    assert len(trades) > orders // 20  # the run traded

    # Conservation per currency: users + fees = deposits; CLEARING flat.
    for code, each in funds.items():
        users_total = sum(Wallet.objects.filter(type="ECO", currency_id=code, user__isnull=False)
                          .values_list("balance", flat=True), D(0))
        assert users_total + system_total(FEES, code) == each * users, code
        assert system_total(CLEARING, code) == 0, code

    # The book, the SQL orders and the order store agree; nothing waits for the engine.
    assert not Order.objects.filter(venue="ecosystem", status=OrderStatus.NEW).exists()
    mine = {o.order_id: market.lot_size * o.qty for o in book.open_orders()}
    sql = dict(Order.objects.filter(venue="ecosystem", status__in=RESTING_STATUSES)
               .values_list("pk", "remaining"))
    stored = {r.order_id: r.remaining for r in
              get_store().open_orders(venue="ecosystem", market=SYMBOL)}
    assert mine == sql == stored  # Decimals compare by value
    assert books_clean() == []


def test_conservation_and_crashes_seeded(tmp_path, currencies):
    run(tmp_path, orders=300, users=12, kills=1, seed=13)


@pytest.mark.slow
def test_conservation_and_crashes_100k(tmp_path, currencies):
    run(tmp_path, orders=100_000, users=200, kills=20, seed=1313)
