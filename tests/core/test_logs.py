"""Request ids (apps/core/logs.py over django-structlog): taken from a sane X-Request-ID or
made, returned in the response, on the request's log lines, on the lines of the Celery
task it enqueued (eagerly, and through a real worker on the run's Redis broker) and on
the stream events' log line; a hostile header never reaches a log line or a response."""
import json
import logging
import os
import re
import time

import pytest
import structlog
from celery.contrib.testing.worker import start_worker
from django.http import JsonResponse
from django.urls import path

from apps.core.logs import request_id_from
from apps.marketdata.services import publish
from exchange_platform.celery import app as celery_app
from tests.twelvedata.fixtures import make_quote

log = structlog.get_logger(__name__)
GENERATED = re.compile(r"[0-9a-f]{32}")


@celery_app.task(name="tests.core.test_logs.log_work")
def log_work(n: int) -> int:
    log.info("test_task_worked", n=n)
    return n


def enqueue(request):
    log_work.delay(7)
    return JsonResponse({"queued": True})


urlpatterns = [path("enqueue", enqueue)]


def events(caplog, event: str) -> list[dict]:
    """The structlog event dicts logged as ``event`` (records carry the dict until the
    handler's formatter renders it)."""
    return [r.msg for r in caplog.records
            if isinstance(r.msg, dict) and r.msg.get("event") == event]


# --- the id --------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    "0f8fad5b-d9cb-469f-a165-70867728950e", "req.42:a_b-C", "A" * 128])
def test_a_sane_header_is_kept(header):
    assert request_id_from(header) == header


@pytest.mark.parametrize("header", [
    None, "", "short", "A" * 129, "x" * 100_000, "abc12345\nlevel=error event=forged",
    "abc12345\r\nSet-Cookie: a=b", "abc12345\x00\x1b[31m", "abc 12345", "abc12345\"}",
    "ａｂｃ１２３４５６７８",  # full-width look-alikes
])
def test_anything_else_is_replaced_by_a_new_id(header):
    made = request_id_from(header)
    assert GENERATED.fullmatch(made) and made != header
    assert request_id_from(header) != made  # random, not derived from the header


# --- the request's lines and response --------------------------------------------------------

@pytest.mark.django_db
def test_the_response_and_the_requests_log_lines_carry_the_clients_id(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get("/health/live", HTTP_X_REQUEST_ID="proxy-id-0001")
    assert response["X-Request-ID"] == "proxy-id-0001"
    [started] = events(caplog, "request_started")
    [finished] = events(caplog, "request_finished")
    assert started["request_id"] == finished["request_id"] == "proxy-id-0001"
    assert finished["code"] == 200 and started["ip"] == "127.0.0.1"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["x" * 10_000, "evil-id-001\nlevel=critical", "\x07" * 20])
def test_a_hostile_id_is_replaced_everywhere(client, caplog, header):
    caplog.set_level(logging.INFO)
    response = client.get("/health/live", HTTP_X_REQUEST_ID=header)
    made = response["X-Request-ID"]
    assert GENERATED.fullmatch(made)
    assert {e["request_id"] for e in events(caplog, "request_finished")} == {made}
    assert header not in caplog.text


@pytest.mark.django_db
def test_each_request_gets_its_own_id_and_an_error_answer_carries_it_too(client, caplog):
    caplog.set_level(logging.INFO)
    first = client.get("/health/live")["X-Request-ID"]
    missing = client.get("/api/v1/no-such-endpoint/", HTTP_X_REQUEST_ID="trace-404-0001")
    assert GENERATED.fullmatch(first)
    assert missing.status_code == 404 and missing["X-Request-ID"] == "trace-404-0001"
    assert [e["request_id"] for e in events(caplog, "request_finished")] == [
        first, "trace-404-0001"]


@pytest.mark.django_db
def test_log_lines_are_json_objects_with_the_request_id(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/health/live", HTTP_X_REQUEST_ID="json-line-0001")
    [record] = [r for r in caplog.records
                if isinstance(r.msg, dict) and r.msg["event"] == "request_finished"]
    # Rendered as the console handler of the settings renders it (LOGGING).
    [formatter] = {h.formatter for h in logging.getLogger().handlers
                   if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)}
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "json-line-0001" and line["event"] == "request_finished"
    assert {"timestamp", "level", "logger"} <= set(line)


# --- the work it starts ----------------------------------------------------------------------

@pytest.mark.django_db
def test_an_eager_task_logs_with_the_request_id(client, caplog, settings):
    settings.ROOT_URLCONF = __name__
    caplog.set_level(logging.INFO)
    client.get("/enqueue", HTTP_X_REQUEST_ID="eager-task-0001")
    [worked] = events(caplog, "test_task_worked")
    assert worked["request_id"] == "eager-task-0001"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a Redis broker)")
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_the_task_with_the_request_id_from_its_headers(client, settings):
    """A real worker (in a thread of this process, on the Redis broker) shares no context
    with the request: the id can only come through the task's headers."""
    settings.ROOT_URLCONF = __name__
    celery_app.conf.task_always_eager = False  # the eager_celery fixture restores it
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    collect = Collect()
    with start_worker(celery_app, perform_ping_check=False, loglevel="WARNING"):
        # Attached once the worker has set logging up (Django's setup in the worker
        # replaces the root logger's handlers, pytest's capture among them).
        logging.getLogger(__name__).addHandler(collect)
        try:
            client.get("/enqueue", HTTP_X_REQUEST_ID="worker-task-0001")
            for _ in range(100):
                worked = [r.msg for r in collect.records
                          if r.msg.get("event") == "test_task_worked"]
                if worked:
                    break
                time.sleep(0.1)
        finally:
            logging.getLogger(__name__).removeHandler(collect)
    [worked] = worked
    assert worked["request_id"] == "worker-task-0001"
    assert worked["task_id"]


@pytest.mark.django_db(transaction=True)  # the events go out when the view's work commits
def test_stream_events_log_line_carries_the_request_id(markets, api, caplog):
    caplog.set_level(logging.DEBUG, logger="apps.marketdata.streams")
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    response = api.post("/api/v1/twd/orders/", {
        "symbol": "EUR/USD", "side": "BUY", "type": "MARKET", "amount": "100"},
        format="json", HTTP_X_REQUEST_ID="stream-evt-0001")
    assert response.status_code == 201
    sent = events(caplog, "stream_events_sent")
    assert sent and {e["request_id"] for e in sent} == {"stream-evt-0001"}
    assert {"orders", "balances"} <= {s for e in sent for s in e["streams"]}
