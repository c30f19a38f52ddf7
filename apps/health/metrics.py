"""``/metrics`` for Prometheus: who may read it, what it adds at scrape time, and a Celery
worker's own endpoint.

What is exposed: django-prometheus's request metrics, the platform's counters
(``apps/core/metrics.py``), and two families read when scraped (so they are current, and
right whichever process answers): ``exchange_quote_age_seconds{venue}``, the age of the
newest cached quote among a venue's enabled markets (what readiness judges,
``checks.QuoteFreshness``), and ``exchange_celery_queue_depth{queue}``, the messages
waiting in each Celery queue's Redis lists.

Who may read it: a client whose address (``REMOTE_ADDR``, as the server and its trusted
proxies set it) is in ``METRICS_ALLOWED_IPS``, or a request with ``Authorization: Bearer
<METRICS_BEARER_TOKEN>`` (a non-empty token, compared in constant time). Anyone else gets
a 403 and no metric.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set, the answer sums the files every
process of this host (container) wrote there (prometheus_client's multiprocess mode).
Celery workers run in their own container, so they do not share that directory; a worker
started with ``METRICS_WORKER_PORT`` serves its processes' metrics itself, under the same
rule (``start_worker_server``, run on Celery's ``worker_ready``).
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from celery import current_app
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from apps.core import conf
from apps.marketdata.selectors import latest_quotes
from apps.trading.constants import Venue
from apps.trading.selectors import markets_enabled

log = structlog.get_logger(__name__)


def allowed(*, address: str | None, authorization: str | None) -> bool:
    """Whether a client at ``address`` sending the ``authorization`` header may read the
    metrics (the module docstring's rule). A malformed address is not allowed."""
    token = conf.METRICS_BEARER_TOKEN
    if token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), token.encode()):
            return True
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False)
               for network in conf.METRICS_ALLOWED_IPS)


def quote_ages() -> dict[str, float]:
    """Each venue with an enabled market that has a cached quote: the newest such quote's
    age in seconds."""
    ages = {}
    for venue in Venue.values:
        symbols = list(markets_enabled(venue=venue).values_list("symbol", flat=True))
        quotes = latest_quotes(venue=venue, symbols=symbols) if symbols else {}
        if quotes:
            ages[venue] = min(quote.age_seconds() for quote in quotes.values())
    return ages


def queue_names() -> list[str]:
    """The Celery queues this app sends to: the default one and any configured."""
    app_conf = current_app.conf
    names = {app_conf.task_default_queue}
    names.update(queue.name for queue in app_conf.task_queues or ())
    return sorted(names)


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue (``queue_names``), read from the broker's
    Redis lists. Empty when the broker is not Redis (the in-memory broker of the embedded
    mode runs tasks eagerly: nothing ever waits)."""
    with current_app.connection_for_read() as connection:
        if connection.transport.driver_type != "redis":
            return {}
        channel = connection.default_channel
        # kombu's Redis transport keeps one list per priority step of a queue: the queue's
        # name for step 0, "<name><sep><step>" for the others (Channel._q_for_pri).
        names = queue_names()
        pipe = channel.client.pipeline()
        for name in names:
            for step in channel.priority_steps:
                pipe.llen(f"{name}{channel.sep}{step}" if step else name)
        lengths = iter(pipe.execute())
        return {name: sum(next(lengths) for _ in channel.priority_steps) for name in names}


class ScrapeTimeCollector:
    """The families read when scraped (module docstring). A source that fails (Redis
    down) is logged and left out; the rest of the scrape still answers."""

    def collect(self) -> Iterator[Metric]:
        for family, read in (self._quote_age, quote_ages), (self._queue_depth, queue_depths):
            try:
                values = read()
            except Exception:
                log.exception("metrics_scrape_source_failed", source=read.__name__)
                continue
            yield family(values)

    @staticmethod
    def _quote_age(ages: dict[str, float]) -> Metric:
        family = GaugeMetricFamily(
            "exchange_quote_age_seconds",
            "Age of the newest cached quote among the venue's enabled markets.",
            labels=["venue"])
        for venue, age in sorted(ages.items()):
            family.add_metric([venue], age)
        return family

    @staticmethod
    def _queue_depth(depths: dict[str, int]) -> Metric:
        family = GaugeMetricFamily(
            "exchange_celery_queue_depth", "Messages waiting in the Celery queue.",
            labels=["queue"])
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        return family


def process_registry() -> CollectorRegistry:
    """What this host's processes counted: every process's files in multiprocess mode,
    else this process's default registry."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    return registry


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the exposition of the process metrics plus the scrape-time
    families, in the format the scraper accepts; 403 to a client not allowed, 405 to any
    method but GET and HEAD."""
    if not allowed(address=request.META.get("REMOTE_ADDR"),
                   authorization=request.headers.get("Authorization")):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    registry = process_registry()
    registry.register(ScrapeTimeCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)


# --- a Celery worker's own endpoint ---------------------------------------------------------

def worker_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """The worker's metrics as a WSGI app, under ``allowed``'s rule (any path)."""
    if not allowed(address=environ.get("REMOTE_ADDR"),
                   authorization=environ.get("HTTP_AUTHORIZATION")):
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"Forbidden\n"]
    start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
    return [generate_latest(process_registry())]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        # One line per scrape (every 15 s) is noise; a refused client is not logged either.
        pass


def start_worker_server(**kwargs: object) -> WSGIServer | None:
    """Serve ``worker_app`` on ``METRICS_WORKER_ADDRESS:METRICS_WORKER_PORT`` from a daemon
    thread of this process (a Celery ``worker_ready`` receiver: the worker's main process,
    which outlives its pool's children). Nothing when the port is 0. Returns the server."""
    port = conf.METRICS_WORKER_PORT
    if not port:
        return None
    server = make_server(conf.METRICS_WORKER_ADDRESS, port, worker_app,
                         handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics_worker_server_started", address=conf.METRICS_WORKER_ADDRESS, port=port)
    return server
