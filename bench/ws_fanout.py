"""WebSocket fan-out: S real clients x R ticks/s through the web server and Redis pub/sub.

Setup: a throw-away SQLite database (migrated, currencies loaded, one enabled paper market
BENCH/USD), then the production web command (``scripts/web.sh``: uvicorn, --workers from
--workers) serving exchange_platform.asgi with REDIS_URL set (so the channel layer is
RedisPubSubChannelLayer); ``--server daphne`` runs the previous server instead, for
comparison. For each (S, R):

- S ``websockets`` clients, spread over --procs processes (asyncio in each), connect and
  subscribe to ``ticker@BENCH/USD``;
- once all are subscribed, a publisher process calls ``apps.marketdata.services.publish``
  R times a second for --duration seconds (exactly as the price ingest does, paper
  executor listener included), each quote stamped with its publish time;
- each client checks its sequence numbers (+1 each: numbered at publish time, so a gap
  is a lost tick) and records receive time minus publish time.

Reports delivered % (frames received / (S x ticks published)) and p50/p99 latency. The
last printed line is one JSON object for 1,000 clients x 10 ticks/s (the goal: 100 %
delivered, p99 <= 250 ms), or for the last combination run if that one was not.

    .venv/bin/python bench/ws_fanout.py                 # full matrix, 30 s each
    .venv/bin/python bench/ws_fanout.py --quick         # 100/1000 x 1/10, 5 s each
    REDIS_URL=redis://127.0.0.1:6407/15 .venv/bin/python bench/ws_fanout.py --duration 10

Clients, server, Redis and publisher share this machine's cores: the figures are a
floor for the server, not a capacity plan.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENUE, SYMBOL = "paper", "BENCH/USD"
STREAM = f"ticker@{SYMBOL}"  # the paper venue's ticker
BUCKETS_PER_MS = 10  # latency histogram resolution: 0.1 ms


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def django_env(db_path: Path, redis_url: str) -> dict[str, str]:
    return dict(os.environ, DJANGO_SETTINGS_MODULE="exchange_platform.settings",
                DJANGO_DEBUG="1", SECRET_KEY="bench-only-not-secret", LOG_LEVEL="WARNING",
                DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url,
                # The publisher runs the paper executor in-process, as `make run` does,
                # instead of queueing tasks no worker would take.
                CELERY_TASK_ALWAYS_EAGER="1", PYTHONPATH=str(ROOT))


def prepare_database(env: dict[str, str]) -> None:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True,
                   cwd=ROOT)
    subprocess.run([*manage, "loaddata", "fixtures/currencies.json", "-v", "0"], env=env,
                   check=True, cwd=ROOT)
    subprocess.run([*manage, "shell", "-c",
                    "from decimal import Decimal\n"
                    "from apps.trading.models import Market\n"
                    "from apps.twelvedata.models import TwdMarket\n"
                    f"market, _ = Market.objects.update_or_create(venue={VENUE!r}, "
                    f"symbol={SYMBOL!r}, defaults=dict(base_currency='BENCH', "
                    "quote_currency='USD', tick_size=Decimal('1'), lot_size=Decimal('1'), "
                    "status='enabled'))\n"
                    f"TwdMarket.objects.update_or_create(symbol={SYMBOL!r}, defaults=dict("
                    "market=market, type='forex', name='bench'))"], env=env, check=True,
                   cwd=ROOT)


def start_server(env: dict[str, str], port: int, *, server: str,
                 workers: int) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    if server == "daphne":
        command = [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                   "exchange_platform.asgi:application"]
    else:  # what docker/Dockerfile runs
        command = ["sh", str(ROOT / "scripts" / "web.sh"), "--log-level", "warning"]
        env = dict(env, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers),
                   PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


# --- client processes ------------------------------------------------------------------


async def _client(url: str, stats: dict, latencies: Counter, ready: asyncio.Event,
                  sockets: list, handshakes: asyncio.Semaphore,
                  subscribed: list[int]) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with handshakes:
        ws = await connect(url, open_timeout=60, max_queue=None)
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "streams": [STREAM]}))
        while json.loads(await ws.recv())["op"] != "subscribed":
            pass
    sockets.append(ws)
    subscribed[0] += 1
    ready.set()
    last_seq = None
    try:
        # Iterate until the process closes the connection at the stop: no timer or task
        # per frame (asyncio.wait_for around recv() cost more CPU than the server's send,
        # and the clients share the server's two cores).
        async for raw in ws:
            received = time.time()
            frame = json.loads(raw)
            if frame["op"] != "data" or frame.get("snapshot"):
                if frame["op"] == "data":
                    last_seq = frame["seq"]
                continue
            if last_seq is not None and frame["seq"] != last_seq + 1:
                stats["seq_gaps"] += 1
            last_seq = frame["seq"]
            stats["received"] += 1
            published = float(frame["data"]["source"].split(":", 1)[1])
            latencies[int((received - published) * 1000 * BUCKETS_PER_MS)] += 1
    except ConnectionClosed:
        pass
    finally:
        await ws.close()


def client_process(url: str, count: int, ready_q, stop_evt, results_q) -> None:
    raise_fd_limit()

    async def main() -> None:
        stats = Counter(received=0, seq_gaps=0)
        latencies: Counter = Counter()
        ready, sockets = asyncio.Event(), []
        handshakes = asyncio.Semaphore(50)
        subscribed = [0]
        tasks = [asyncio.create_task(_client(url, stats, latencies, ready, sockets, handshakes,
                                             subscribed)) for _ in range(count)]
        while subscribed[0] < count:
            await asyncio.sleep(0.05)
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()
        ready_q.put(count)
        while not stop_evt.is_set():
            await asyncio.sleep(0.1)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        results_q.put((dict(stats), dict(latencies)))

    # uvloop, as the server runs: the clients share the server's cores, so the cheaper
    # their event loop, the less they disturb what is measured.
    import uvloop

    uvloop.run(main())


# --- publisher -------------------------------------------------------------------------


def publisher_process(rate: int, duration: float, env: dict[str, str], done_q) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import UTC, datetime
    from decimal import Decimal

    from apps.marketdata.quotes import Quote
    from apps.marketdata.services import publish

    total = int(rate * duration)
    start = time.monotonic() + 0.5
    # A publisher slower than the rate stops here; what it published is what counts.
    cutoff = start + duration + 60
    late = published = 0
    for n in range(total):
        if time.monotonic() > cutoff:
            break
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late += 1
        now = time.time()
        # The publish time rides in ``source`` (the quote's own timestamp is the feed's).
        publish(quote=Quote(venue=VENUE, symbol=SYMBOL, price=Decimal(n + 1),
                            source=f"bench:{now!r}",
                            timestamp=datetime.fromtimestamp(now, UTC)))
        published += 1
    done_q.put({"published": published, "late": late,
                "elapsed": time.monotonic() - start})


# --- one run ---------------------------------------------------------------------------


def percentile(histogram: Counter, fraction: float) -> float:
    total = sum(histogram.values())
    rank, seen = fraction * total, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket / BUCKETS_PER_MS
    return float("nan")


def run_one(*, url: str, clients: int, rate: int, duration: float, procs: int,
            env: dict[str, str]) -> dict:
    ctx = multiprocessing.get_context("fork")
    ready_q, results_q, done_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    stop = ctx.Event()
    procs = min(procs, clients)
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=client_process, args=(url, n, ready_q, stop, results_q),
                           daemon=True) for n in shares]
    connect_start = time.monotonic()
    for worker in workers:
        worker.start()
    for _ in workers:
        ready_q.get(timeout=300)
    connect_seconds = time.monotonic() - connect_start
    publisher = ctx.Process(target=publisher_process, args=(rate, duration, env, done_q),
                            daemon=True)
    publisher.start()
    publisher.join(duration + 120)
    if publisher.exitcode != 0:
        raise RuntimeError(f"the publisher failed (exit code {publisher.exitcode})")
    publish_report = done_q.get(timeout=5)
    time.sleep(3)  # let the last ticks arrive
    stop.set()
    stats: Counter = Counter()
    latencies: Counter = Counter()
    for _ in workers:
        worker_stats, worker_latencies = results_q.get(timeout=60)
        stats.update(worker_stats)
        latencies.update(worker_latencies)
    for worker in workers:
        worker.join(30)
    expected = clients * publish_report["published"]
    return {
        "bench": "ws_fanout", "clients": clients, "ticks_per_s": rate,
        "duration_s": duration,
        "delivered_pct": round(100 * stats["received"] / expected, 3),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0) / BUCKETS_PER_MS, 1),
        # What was sent out: below clients x ticks_per_s when publish() itself is too slow.
        "messages_per_s": round(expected / publish_report["elapsed"]),
        "published_per_s": round(publish_report["published"] / publish_report["elapsed"], 1),
        "seq_gaps": stats["seq_gaps"], "publisher_late_ticks": publish_report["late"],
        "connect_s": round(connect_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds per run")
    parser.add_argument("--quick", action="store_true",
                        help="100/1000 clients x 1/10 ticks/s, 5 s each (unless --duration)")
    parser.add_argument("--clients", type=int, nargs="+", default=None)
    parser.add_argument("--rates", type=int, nargs="+", default=None)
    parser.add_argument("--procs", type=int, default=8, help="client processes")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn",
                        help="uvicorn: scripts/web.sh, the production command")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (uvicorn's WEB_CONCURRENCY)")
    parser.add_argument("--redis-url", default=os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6407/15"))
    args = parser.parse_args()
    if args.quick and "--duration" not in sys.argv:
        args.duration = 5
    clients = args.clients or [100, 1000]
    rates = args.rates or ([1, 10] if args.quick else [1, 10, 100])
    raise_fd_limit()

    with tempfile.TemporaryDirectory(prefix="ws_fanout-") as tmp:
        env = django_env(Path(tmp) / "bench.sqlite3", args.redis_url)
        prepare_database(env)
        port = free_port()
        server = start_server(env, port, server=args.server, workers=args.workers)
        results = []
        try:
            for count in clients:
                for rate in rates:
                    result = run_one(url=f"ws://127.0.0.1:{port}/ws/", clients=count,
                                     rate=rate, duration=args.duration, procs=args.procs,
                                     env=env)
                    result.update(server=args.server, workers=args.workers)
                    results.append(result)
                    print(json.dumps(result), flush=True)
        finally:
            server.terminate()
            server.wait(30)
    print(f"\n{'clients':>8} {'ticks/s':>8} {'msgs/s':>8} {'published/s':>12} "
          f"{'delivered %':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in results:
        print(f"{r['clients']:>8} {r['ticks_per_s']:>8} {r['messages_per_s']:>8} "
              f"{r['published_per_s']:>12} {r['delivered_pct']:>12} {r['p50_ms']:>8} "
              f"{r['p99_ms']:>8} {r['max_ms']:>8}")
    goal = next((r for r in results if (r["clients"], r["ticks_per_s"]) == (1000, 10)),
                results[-1])
    print(json.dumps({key: goal[key] for key in
                      ("bench", "clients", "ticks_per_s", "delivered_pct", "p99_ms")}))


if __name__ == "__main__":
    main()
