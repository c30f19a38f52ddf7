"""/health/live and /health/ready (apps/health) against the real services of the run:
MariaDB and Redis when DATABASE_URL and REDIS_URL name them (CI, `make test` on services),
SQLite and the local-memory cache otherwise. Healthy first, then one dependency pointed at
a closed port (or a path that cannot open): unhealthy, with the reason."""
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from apps.marketdata.services import publish
from apps.trading.constants import MarketStatus
from exchange_platform.celery import app as celery_app
from tests.engine.helpers import eco_market, place, trader
from tests.factories import MarketFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db(transaction=True)  # the checks run on other threads


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ready(client):
    response = client.get("/health/ready", HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


@pytest.fixture(autouse=True)
def no_workers_required(settings):
    # Tests run no Celery worker; the worker check has its own tests below.
    settings.HEALTH_CELERY_REQUIRED = False


def test_liveness_answers_without_asking_any_dependency(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}}
    response = client.get("/health/live", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {}


def test_ready_when_database_cache_and_feeds_are(client, currencies):
    market = MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    publish(quote=make_quote(market.symbol, "1.10000"))
    status, body = ready(client)
    assert status == 200, body
    assert body == {"Database(alias='default')": "OK", "Cache(alias='default')": "OK",
                    "QuoteFreshness(venue='paper')": "OK", "QuoteFreshness(venue='spot')": "OK",
                    "QuoteFreshness(venue='ecosystem')": "OK",
                    "QuoteFreshness(venue='futures')": "OK", "EngineLag()": "OK"}


def test_a_stale_feed_is_not_ready_and_says_how_old(client, currencies, settings):
    settings.HEALTH_QUOTE_MAX_AGE_SECONDS = 60
    market = MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    publish(quote=make_quote(market.symbol, "1.10000",
                             at=datetime.now(UTC) - timedelta(seconds=300)))
    status, body = ready(client)
    assert status == 500
    reason = body["QuoteFreshness(venue='paper')"]
    assert reason.startswith("Unavailable: paper: the newest quote of its 1 enabled markets is ")
    assert reason.endswith(" s old (limit 60 s)")
    assert int(reason.split(" is ")[1].split(" s")[0]) >= 300
    assert body["Database(alias='default')"] == "OK"


def test_the_freshest_enabled_market_speaks_for_its_venue(client, currencies, settings):
    settings.HEALTH_QUOTE_MAX_AGE_SECONDS = 60
    quiet = MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    moving = MarketFactory(symbol="GBP/USD", status=MarketStatus.ENABLED)
    publish(quote=make_quote(quiet.symbol, "1.10000",
                             at=datetime.now(UTC) - timedelta(hours=2)))
    publish(quote=make_quote(moving.symbol, "1.25000"))
    assert ready(client)[0] == 200


def test_enabled_markets_without_any_quote_are_not_ready(client, currencies):
    MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    MarketFactory(symbol="GBP/USD", status=MarketStatus.ENABLED)
    status, body = ready(client)
    assert status == 500
    assert body["QuoteFreshness(venue='paper')"] == (
        "Unavailable: paper: no quote for any of its 2 enabled markets")


def test_commands_waiting_for_no_engine_runner_are_not_ready(client, currencies):
    eco_market()
    place(trader(), side="BUY", price="9.00", amount="1")
    status, body = ready(client)
    assert status == 500
    assert body["EngineLag()"].startswith("Unavailable: market ")
    assert body["EngineLag()"].endswith("1 commands wait and no runner holds its lease")


def test_a_venue_without_enabled_markets_is_not_checked(client, currencies):
    # A disabled market's missing quote is no outage: nobody can trade it.
    MarketFactory(symbol="EUR/USD", status=MarketStatus.DISABLED)
    status, body = ready(client)
    assert status == 200, body


def test_redis_stopped_is_not_ready_with_the_reason(client, settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the healthy half checks the real Redis")
    assert ready(client)[0] == 200
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}}
    status, body = ready(client)
    assert status == 500
    assert body["Cache(alias='default')"] == "Unexpected Result: Connection Error"
    assert body["Database(alias='default')"] == "OK"


@pytest.fixture
def database_stopped():
    """The default database's address moved to where nothing answers, for the connections
    opened from now on (the checks open their own); put back afterwards."""
    params = connections.settings["default"]
    saved = dict(params)
    if connections["default"].vendor == "mysql":
        params.update(HOST="127.0.0.1", PORT=str(closed_port()))
    else:
        params["NAME"] = "/nonexistent-directory/db.sqlite3"
    yield
    params.clear()
    params.update(saved)


def test_database_stopped_is_not_ready_with_the_reason(client, database_stopped):
    status, body = ready(client)
    assert status == 500
    reason = body["Database(alias='default')"]
    if connections["default"].vendor == "mysql":
        assert reason.startswith("Unavailable: (2002") or reason.startswith("Unavailable: (2003")
        assert "Can't connect" in reason
    else:
        assert reason == "Unavailable: unable to open database file"
    assert body["Cache(alias='default')"] == "OK"


def test_workers_required_but_none_answers_is_not_ready(client, settings):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: without a broker there are no workers to ping")
    settings.HEALTH_CELERY_REQUIRED = True
    settings.HEALTH_CELERY_TIMEOUT_SECONDS = 0.5
    status, body = ready(client)
    assert status == 500
    [ping] = [reason for check, reason in body.items() if check.startswith("Ping(")]
    assert ping == "Unavailable: Celery workers unavailable"



@pytest.fixture
def celery_worker():
    """A real worker process on the run's Redis broker (solo pool), until it answers ping."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: a worker needs a broker")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "exchange_platform", "worker", "-P", "solo",
         "--without-gossip", "--without-mingle", "-l", "warning",
         "-n", f"health-test-{os.getpid()}@%h"],
        env=os.environ.copy(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not celery_app.control.ping(timeout=0.5):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker never answered ping"
        yield worker
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)


def test_workers_required_and_answering_is_ready(client, settings, celery_worker):
    settings.HEALTH_CELERY_REQUIRED = True
    status, body = ready(client)
    assert status == 200, body
    [ping] = [reason for check, reason in body.items() if check.startswith("Ping(")]
    assert ping == "OK"
