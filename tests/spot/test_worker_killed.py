"""A worker killed with SIGKILL (a process of its own) between the commit and the submit,
and between the submit and the exchange's answer: after the restart (the tracker) nothing
is placed twice and nothing is lost (MariaDB: the worker process shares the test
database)."""
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.db import connection

from apps.spot import services
from apps.spot.models import SpotSubmission
from apps.trading import services as trading_services
from apps.trading.models import Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold
from devtools.binance import Fault

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal


def start_worker(order: Order, binance, *, wait: bool) -> subprocess.Popen:
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_DEBUG": "1", "SECRET_KEY": "worker-test",
           "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "SPOT_EXCHANGE_URL": binance.url, "SPOT_API_KEY": binance.api_key,
           "SPOT_API_SECRET": binance.api_secret}
    env.pop("REDIS_URL", None)  # eager tasks and a local cache: the worker needs neither
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.spot.worker_main", str(order.pk),
         *(["wait"] if wait else [])], env=env, stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "ready"
    return worker


def kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL


def place_crossing(user) -> Order:
    """A buy the exchange fills at once (so it is closed there, and a second request
    under its client id would be a second order: Binance's ids are unique among open
    orders only)."""
    order = trading_services.order_place(user_id=user.pk, venue="spot", symbol="BTC/USDT",
                                         side="BUY", type="LIMIT", amount=D("0.1"),
                                         price=D("60010"), client_order_id="killed")
    return Order.objects.get(pk=order.pk)


def restart_and_check(order: Order, binance) -> None:
    time.sleep(1.1)  # SPOT_RESUBMIT_AFTER_SECONDS: the tracker takes a quiet NEW order
    services.orders_track()
    order.refresh_from_db()
    assert (order.status, order.filled, order.fills.count()) == ("FILLED", D("0.1"), 1)
    assert [o["clientOrderId"] for o in binance.orders()] == [f"x-ep-{order.pk}"]
    assert not Hold.objects.filter(status=Hold.Status.OPEN).exists()
    assert wallet_selectors.reconcile() == []
    assert services.reconcile() == []


def test_killed_between_commit_and_submit(spot, trader, binance, monkeypatch):
    # The placing request commits; its task is handed to a worker that dies first.
    monkeypatch.setattr("apps.spot.gateway.SpotGateway.dispatch", lambda *a, **k: None)
    order = place_crossing(trader)
    kill(start_worker(order, binance, wait=True))
    assert Order.objects.get(pk=order.pk).status == "NEW" and binance.orders() == []
    restart_and_check(order, binance)


def test_killed_between_submit_and_answer(spot, trader, binance, monkeypatch):
    monkeypatch.setattr("apps.spot.gateway.SpotGateway.dispatch", lambda *a, **k: None)
    order = place_crossing(trader)
    # The exchange executes the order and holds its answer back.
    binance.inject(Fault.TIMEOUT, 1, endpoint="POST /api/v3/order", delay=30)
    worker = start_worker(order, binance, wait=False)
    for _ in range(100):
        if binance.orders():
            break
        time.sleep(0.1)
    kill(worker)
    assert [o["status"] for o in binance.orders()] == ["FILLED"]
    assert Order.objects.get(pk=order.pk).status == "NEW"
    assert SpotSubmission.objects.get(order_id=order.pk).attempts == 1
    restart_and_check(order, binance)
