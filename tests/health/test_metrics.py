"""/metrics (apps/health/metrics.py, apps/core/metrics.py): who may read it, the counters
a paper order and its fills move, the scrape-time quote age and Celery queue depth (the
latter against the run's real Redis broker), and a worker's own endpoint."""
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apps.health import metrics
from apps.marketdata.services import publish
from apps.trading.constants import MarketStatus
from apps.trading.models import Order
from exchange_platform.celery import app as celery_app
from tests.factories import MarketFactory
from tests.streaming.live import free_port
from tests.twelvedata.fixtures import make_quote

ORDERS = "/api/v1/twd/orders/"


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode())
            for s in family.samples}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- who may read it ---------------------------------------------------------------------

@pytest.mark.django_db
def test_loopback_may_read_by_default_and_the_requests_are_counted(client):
    client.get("/health/live")
    body = client.get("/metrics")
    assert body.status_code == 200
    assert b"django_http_requests_total_by_view_transport_method_total" in body.content
    assert b"exchange_orders_placed_total" in body.content


@pytest.mark.django_db
def test_any_other_address_is_refused_without_a_metric(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    assert b"exchange_" not in response.content and b"django_" not in response.content


@pytest.mark.django_db
def test_only_get_and_head(client):
    assert client.head("/metrics").status_code == 200
    assert client.post("/metrics", {"a": "b"}).status_code in (403, 405)
    assert client.put("/metrics").status_code == 405
    assert client.delete("/metrics").status_code == 405


@pytest.mark.django_db
def test_an_allowed_network_may_read(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not-an-address").status_code == 403


@pytest.mark.django_db
def test_the_bearer_token_opens_it_from_anywhere_and_nothing_else_does(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_BEARER_TOKEN = "s3cret-token"
    far = {"REMOTE_ADDR": "203.0.113.7"}
    for right in ("Bearer s3cret-token", "bearer s3cret-token"):
        assert client.get("/metrics", **far, HTTP_AUTHORIZATION=right).status_code == 200
    for wrong in ("Bearer s3cret", "Bearer s3cret-token2", "Token s3cret-token", "Bearer ",
                  "s3cret-token", ""):
        assert client.get("/metrics", **far, HTTP_AUTHORIZATION=wrong).status_code == 403, wrong
    assert client.get("/metrics").status_code == 403  # loopback too, once the list is empty


@pytest.mark.django_db
def test_an_empty_token_never_opens_it(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer").status_code == 403


# --- orders and fills ------------------------------------------------------------------------

def test_a_paper_order_placed_and_filled_moves_the_counters(
        markets, api, django_capture_on_commit_callbacks):
    placed, fills = sample("exchange_orders_placed_total", venue="paper"), sample(
        "exchange_fills_total", venue="paper")
    lag = sample("exchange_settlement_lag_seconds_count", venue="paper")
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    with django_capture_on_commit_callbacks(execute=True):
        market = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                                   "amount": "1000"}, format="json")
    assert market.status_code == 201 and market.json()["status"] == "FILLED"
    assert sample("exchange_orders_placed_total", venue="paper") == placed + 1
    assert sample("exchange_fills_total", venue="paper") == fills + 1
    assert sample("exchange_settlement_lag_seconds_count", venue="paper") == lag + 1

    with django_capture_on_commit_callbacks(execute=True):
        limit = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                  "amount": "100", "price": "1.05"}, format="json")
    assert limit.json()["status"] == "OPEN"
    assert sample("exchange_orders_placed_total", venue="paper") == placed + 2
    assert sample("exchange_fills_total", venue="paper") == fills + 1  # resting, no fill yet
    # A quote that crosses it: the paper executor (eager here) fills it.
    with django_capture_on_commit_callbacks(execute=True):
        publish(quote=make_quote("EUR/USD", "1.04000", bid="1.03990", ask="1.04010"))
    assert Order.objects.get(pk=limit.json()["id"]).status == "FILLED"
    assert sample("exchange_fills_total", venue="paper") == fills + 2
    assert sample("exchange_settlement_lag_seconds_count", venue="paper") == lag + 2


def test_a_refused_order_counts_nothing(markets, api, django_capture_on_commit_callbacks):
    placed = sample("exchange_orders_placed_total", venue="paper")
    with django_capture_on_commit_callbacks(execute=True):
        # No quote yet: a MARKET order has no price and is refused (409).
        refused = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                                    "amount": "1000"}, format="json")
        broke = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                  "amount": "1000000000", "price": "1.05"}, format="json")
    assert refused.status_code == 409 and broke.status_code >= 400
    assert sample("exchange_orders_placed_total", venue="paper") == placed


def test_settlement_lag_is_from_execution_to_now_never_negative():
    from apps.core import metrics as core_metrics

    now = datetime(2026, 1, 1, tzinfo=UTC)
    before = {b: sample("exchange_settlement_lag_seconds_bucket", venue="test", le=b)
              for b in ("0.01", "2.5", "5.0")}
    core_metrics.fills_settled(fills=[("test", now - timedelta(seconds=3)),
                                      ("test", now + timedelta(seconds=1))], now=now)
    after = {b: sample("exchange_settlement_lag_seconds_bucket", venue="test", le=b)
             for b in before}
    # The future execution is observed as 0 (in every bucket), the 3 s one from "5.0" up.
    assert after["0.01"] - before["0.01"] == 1
    assert after["2.5"] - before["2.5"] == 1
    assert after["5.0"] - before["5.0"] == 2


# --- read at scrape time --------------------------------------------------------------------

@pytest.mark.django_db
def test_quote_age_is_the_newest_enabled_markets_quote_per_venue(client, currencies):
    quiet = MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    moving = MarketFactory(symbol="GBP/USD", status=MarketStatus.ENABLED)
    off = MarketFactory(symbol="USD/JPY", status=MarketStatus.DISABLED)
    now = datetime.now(UTC)
    publish(quote=make_quote(quiet.symbol, "1.1", at=now - timedelta(seconds=600)))
    publish(quote=make_quote(moving.symbol, "1.3", at=now - timedelta(seconds=30)))
    publish(quote=make_quote(off.symbol, "150", at=now))  # not enabled: not counted
    age = scrape(client)[("exchange_quote_age_seconds", (("venue", "paper"),))]
    assert 30 <= age < 40
    # A venue without any enabled market's quote has no sample (not a made-up age).
    assert ("exchange_quote_age_seconds", (("venue", "spot"),)) not in scrape(client)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a Redis broker)")
@pytest.mark.django_db
def test_queue_depth_is_read_from_the_redis_broker(client):
    celery_app.conf.task_always_eager = False  # the eager_celery fixture restores it
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    try:
        for priority in (None, None, 6, 9):
            # send_task only publishes: nothing runs it (no worker consumes this database).
            celery_app.send_task("tests.metrics.never_run", queue="celery",
                                 priority=priority)
        assert metrics.queue_depths() == {"celery": 4}
        assert scrape(client)[("exchange_celery_queue_depth", (("queue", "celery"),))] == 4
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge("celery")
    assert metrics.queue_depths() == {"celery": 0}


@pytest.mark.django_db
def test_a_broker_that_is_down_leaves_the_rest_of_the_scrape(client, monkeypatch):
    def down():
        raise ConnectionError("broker down")

    monkeypatch.setattr(metrics, "queue_depths", down)
    scraped = scrape(client)
    assert not any(name == "exchange_celery_queue_depth" for name, _ in scraped)
    assert any(name == "exchange_orders_placed_total" for name, _ in scraped)


# --- a worker's own endpoint ----------------------------------------------------------------

def test_a_worker_serves_its_metrics_under_the_same_rule(settings):
    settings.METRICS_WORKER_PORT = free_port()
    settings.METRICS_WORKER_ADDRESS = "127.0.0.1"
    settings.METRICS_BEARER_TOKEN = "worker-token"
    server = metrics.start_worker_server()
    url = f"http://127.0.0.1:{settings.METRICS_WORKER_PORT}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback: allowed
            assert b"exchange_fills_total" in response.read()
        settings.METRICS_ALLOWED_IPS = []
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 403
        request = urllib.request.Request(url, headers={"Authorization": "Bearer worker-token"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_no_worker_server_without_a_port(settings):
    settings.METRICS_WORKER_PORT = 0
    assert metrics.start_worker_server() is None


# --- several processes -----------------------------------------------------------------------

COUNT_ONE = """
from apps.core import metrics
metrics.order_placed(venue="paper")
metrics.WEBSOCKET_CONNECTIONS.inc()
"""
SCRAPE = """
import django
django.setup()
from prometheus_client import generate_latest
from apps.health.metrics import process_registry
print(generate_latest(process_registry()).decode())
"""


def test_multiprocess_mode_sums_what_each_process_counted(tmp_path):
    """uvicorn's workers and Celery's pool each count their share: with
    PROMETHEUS_MULTIPROC_DIR, a scrape answered by any process sums them all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "exchange_platform.settings"}
    for _ in range(2):  # two workers, each gone after counting one order
        subprocess.run([sys.executable, "-c", COUNT_ONE], env=env, check=True, timeout=60)
    scraped = subprocess.run([sys.executable, "-c", SCRAPE], env=env, check=True,
                             timeout=60, capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scraped) for s in family.samples}
    assert samples[("exchange_orders_placed_total", (("venue", "paper"),))] == 2
    # The connections gauge sums live processes, but nothing marked these two dead: their
    # share stays until the directory is emptied at the container's start (README).
    assert samples[("exchange_websocket_connections", ())] == 2
