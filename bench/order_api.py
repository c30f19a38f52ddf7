"""Order placement over HTTP against a bare DRF view, on the production web server.

Needs MariaDB and Redis (``DATABASE_URL``, ``REDIS_URL``):

    DATABASE_URL=mysql://root@127.0.0.1:3306/exchange_h3 REDIS_URL=redis://127.0.0.1:6379/3 \
        .venv/bin/python bench/order_api.py --fresh

Setup, all through the project's own commands and API: ``--fresh`` drops and recreates the
database and empties the Redis database (else both are reused); migrations and currencies;
the TwelveData emulator on loopback (a random walk, one step a second), ``twd_import``
enabling the markets of ``--symbols`` (EUR/USD), and ``stream_prices`` feeding their
quotes to the quote bus, so each market always has a fresh quote; the production web
command (``scripts/web.sh``: uvicorn, ``--workers`` processes) serving
``bench.order_api_settings``: the project's settings, read from the environment as in
production (DEBUG off), with one more URL, the bare view of ``bench/order_api_urls.py``.
Throttles are raised out of the way (``THROTTLE_*``); both endpoints still count every
request in Redis. ``--clients`` users, each with its own token; each funds its PAPER
wallet as the API does (its first order is granted the demo balance by the paper faucet:
a buy of its market's base currency, so that it can sell).

Then, for ``--duration`` seconds each after a short warm-up, in ``--rounds`` rounds where
the endpoints take turns (the one going first alternating, so that a drift in the
machine's speed moves both alike), ``--clients`` asyncio clients (aiohttp, one connection
each, one request in flight each):
- bare: ``POST /api/v1/bench/bare/`` (token auth, permission, throttle, a constant);
- order: ``POST /api/v1/twd/orders/``: LIMIT orders of 5 units of the base currency, buy
  and sell alternately, resting 5-15 % away from the last price (``--crossing`` of them
  instead cross it by 1 % and fill at once as takers). Client i trades the i-th market of
  ``--symbols`` (modulo).

Errors are answers other than 201 and failed requests. Printed per endpoint: requests/s,
p50/p99/max latency, errors; the orders' statuses; how many order requests were waiting
for a row lock, on average, and on which table (sampled from InnoDB, this database only).
``--profile N`` then places N orders (and N bare requests) in this process through
Django's test client, counting the queries of each, its CPU time (less moved by the
machine's load than wall time) and profiling where the time goes.
The last line is one JSON object: the order endpoint's rps, its ratio to the bare view's,
its p99, and the errors of both phases.

Clients, server, MariaDB and Redis share this machine's cores: the ratio is the figure
to compare, the absolute rates are a floor.
"""
import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TICK = Decimal("0.00001")  # the forex pairs' price precision
ORDER_AMOUNT = "5"
# Each client's opening MARKET buy: far more EUR than its sells can hold in one run.
FUNDING_AMOUNT = "5000"
ORDER_PATH = "/api/v1/twd/orders/"
BARE_PATH = "/api/v1/bench/bare/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(*, emulator_port: int, conn_max_age: str | None,
              static_root: str) -> dict[str, str]:
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="bench.order_api_settings", DJANGO_DEBUG="0",
        SECRET_KEY="bench-only-not-secret", ALLOWED_HOSTS="127.0.0.1",
        # Plain HTTP on loopback: no redirect to https, as behind a TLS-terminating proxy.
        SECURE_SSL_REDIRECT="0", LOG_LEVEL="WARNING", STATIC_ROOT=static_root,
        THROTTLE_USER_RATE="1000000/s", THROTTLE_ANON_RATE="1000000/s",
        TWELVEDATA_BASE_URL=f"http://127.0.0.1:{emulator_port}",
        TWELVEDATA_WS_URL=f"ws://127.0.0.1:{emulator_port}/v1/quotes/price",
        TWELVEDATA_API_KEY="bench",
        # Crossing quotes fill in the stream process, as `make run` does, instead of
        # queueing tasks for a worker this bench does not run.
        CELERY_TASK_ALWAYS_EAGER="1",
        PYTHONPATH=str(ROOT))
    if conn_max_age is not None:
        env["CONN_MAX_AGE"] = conn_max_age
    return env


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    # Two uvicorn workers importing the project on a loaded 2-core machine took over 60 s.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def recreate_storage(env: dict[str, str]) -> None:
    import MySQLdb
    import redis

    db = urlsplit(env["DATABASE_URL"])
    name = db.path.lstrip("/")
    conn = MySQLdb.connect(host=db.hostname, port=db.port or 3306, user=db.username or "root",
                           password=db.password or "")
    conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)


def users_with_tokens(count: int) -> list[str]:
    """``count`` bench users (created once, reused by later runs) and their API tokens."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    tokens = []
    for n in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-order-{n}")
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


# --- clients ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    # Row-lock waits of this database's transactions, sampled: table -> waiters summed
    # over the samples, and how many samples.
    lock_waits: Counter = field(default_factory=Counter)
    lock_samples: int = 0
    # Each run of the phase: its server workers' CPU seconds, busiest first.
    worker_cpu: list[list[float]] = field(default_factory=list)

    def record_error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {detail[:300]}")

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(fraction: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000,
                         1) if ordered else float("nan")

        return {"requests": len(ordered), "rps": round(len(ordered) / self.elapsed, 1),
                "lock_waits": {table: round(n / max(self.lock_samples, 1), 2)
                               for table, n in self.lock_waits.items()},
                "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "max_ms": round(ordered[-1] * 1000, 1) if ordered else float("nan"),
                "errors": sum(self.errors.values())}


def worker_pids(server_pid: int) -> list[int]:
    """The server's worker processes: the children uvicorn's supervisor spawned (not its
    multiprocessing resource tracker), or the server itself when it runs one worker."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if (int(stat.rsplit(")", 1)[1].split()[1]) == server_pid
                    and b"spawn_main" in command):
                pids.append(int(entry.name))
    return pids or [server_pid]


def cpu_seconds(pids: list[int]) -> list[float]:
    """Each process's CPU time so far (user + system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = []
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        times.append((int(fields[11]) + int(fields[12])) / ticks)
    return times


def order_body(rng: random.Random, n: int, symbol: str, mid: Decimal,
               crossing: float) -> bytes:
    side = "BUY" if n % 2 else "SELL"
    if rng.random() < crossing:
        away = Decimal("-0.01")
    else:
        away = Decimal(rng.randint(500, 1500)) / 10_000
    factor = 1 - away if side == "BUY" else 1 + away
    price = (mid * factor).quantize(TICK)
    return json.dumps({"symbol": symbol, "side": side, "type": "LIMIT",
                       "amount": ORDER_AMOUNT, "price": str(price)}).encode()


async def _client(session, base: str, token: str, phase: Phase | None, path: str,
                  body, deadline: float) -> None:
    import aiohttp

    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    n = 0
    while time.perf_counter() < deadline:
        data = body(n)
        n += 1
        started = time.perf_counter()
        try:
            async with session.post(base + path, data=data, headers=headers) as resp:
                payload = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            if phase is not None:
                phase.latencies.append(time.perf_counter() - started)
                phase.record_error(type(exc).__name__, str(exc))
            continue
        if phase is None:
            continue
        phase.latencies.append(time.perf_counter() - started)
        if status != 201:
            phase.record_error(f"HTTP {status}", payload.decode(errors="replace"))
        elif path == ORDER_PATH:
            phase.statuses[json.loads(payload)["status"]] += 1


async def run_phase(*, base: str, tokens: list[str], path: str, seconds: float,
                    phase: Phase | None, mids: dict[str, Decimal], crossing: float,
                    seed: int) -> None:
    import aiohttp

    symbols = list(mids)

    def body_for(client: int):
        symbol = symbols[client % len(symbols)]
        if path == BARE_PATH:
            # An order's body: both endpoints receive the same bytes.
            return lambda n: order_body(random.Random(seed), 0, symbol, mids[symbol], 0)
        rng = random.Random(seed * 1000 + client)
        return lambda n: order_body(rng, n + client, symbol, mids[symbol], crossing)

    connector = aiohttp.TCPConnector(limit=len(tokens))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(
            _client(session, base, token, phase, path, body_for(i), deadline)
            for i, token in enumerate(tokens)))
        if phase is not None:
            phase.elapsed += time.perf_counter() - started


async def fund(*, base: str, tokens: list[str], mids: dict[str, Decimal]) -> None:
    """Each user's first order: the paper faucet grants the demo balance, then a buy that
    crosses the price gives it the base currency of its market to sell. A LIMIT 2 % above
    the price, not a MARKET order: its hold is sized at the limit, so a tick between the
    hold and the fill cannot leave the hold short."""
    import aiohttp

    symbols = list(mids)
    async with aiohttp.ClientSession() as session:
        for client, token in enumerate(tokens):
            symbol = symbols[client % len(symbols)]
            price = (mids[symbol] * Decimal("1.02")).quantize(TICK)
            body = json.dumps({"symbol": symbol, "side": "BUY", "type": "LIMIT",
                               "amount": FUNDING_AMOUNT, "price": str(price)}).encode()
            async with session.post(base + ORDER_PATH, data=body, headers={
                    "Authorization": f"Token {token}",
                    "Content-Type": "application/json"}) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"funding order: {resp.status} {await resp.text()}")


async def last_price(base: str, symbol: str) -> Decimal:
    """The market's latest price, once the price stream has published one."""
    import aiohttp

    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(base + "/api/v1/twd/ticker/",
                                   params={"symbol": symbol}) as resp:
                if resp.status == 200:
                    return Decimal((await resp.json())["price"])
            await asyncio.sleep(0.5)
    raise RuntimeError(f"no quote for {symbol} within 60 s")


def sample_lock_waits(*, database: dict, stop, phase: Phase) -> None:
    """Every 0.2 s, count this database's transactions waiting for a row lock, by table
    (the waits of other databases on the same server are left out)."""
    import MySQLdb

    conn = MySQLdb.connect(host=database["HOST"], port=int(database["PORT"] or 3306),
                           user=database["USER"], password=database["PASSWORD"])
    cursor = conn.cursor()
    while not stop.wait(0.2):
        cursor.execute(
            "SELECT l.lock_table, COUNT(DISTINCT w.requesting_trx_id)"
            " FROM information_schema.INNODB_LOCK_WAITS w"
            " JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id"
            " JOIN information_schema.INNODB_TRX t ON t.trx_id = w.requesting_trx_id"
            " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id"
            " WHERE p.DB = %s GROUP BY l.lock_table", [database["NAME"]])
        phase.lock_waits.update(dict(cursor.fetchall()))
        phase.lock_samples += 1
    conn.close()


# --- in-process profile ----------------------------------------------------------------

# (label, file part, function): cumulative time per request of the steps worth naming.
PROFILE_STEPS = [
    ("DRF token authentication", "rest_framework/authentication.py",
     "authenticate_credentials"),
    ("DRF throttle (cache get+set)", "rest_framework/throttling.py", "allow_request"),
    ("input validation", "rest_framework/serializers.py", "is_valid"),
    ("output serializer (.data)", "rest_framework/serializers.py", "data"),
    ("Django ORM: building SQL", "django/db/models/sql/compiler.py", "as_sql"),
    ("MariaDB: queries (round trip + rows)", "MySQLdb/cursors.py", "execute"),
    ("MariaDB: commit", "django/db/backends/base/base.py", "commit"),
    ("Redis: commands", "redis/client.py", "execute_command"),
]


def _cumulative(stats: pstats.Stats, file_part: str, function: str) -> float:
    return sum(entry[3] for (filename, _, name), entry in stats.stats.items()
               if file_part in filename and name == function)


def _query_shape(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    # The statement's own table: a FROM inside a subquery's parentheses is not it.
    spaced = sql.replace("(", " ( ").replace(")", " ) ").split()
    depth, table = 0, ""
    for word, following in zip(spaced, spaced[1:], strict=False):
        depth += (word == "(") - (word == ")")
        if depth == 0 and word.upper() in ("FROM", "INTO", "UPDATE"):
            table = following.strip("`")
            break
    if verb == "UPDATE":
        table = words[1].strip("`")
    lock = " FOR UPDATE" if "FOR UPDATE" in sql.upper() else ""
    return f"{verb} {table}{lock}".strip()


def profile(*, tokens: list[str], mids: dict[str, Decimal], crossing: float,
            count: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # The test client keeps its connection across requests; the server, with
    # CONN_MAX_AGE=0, opens one per request (the bare view's token lookup included).
    started = time.perf_counter()
    for _ in range(count):
        connection.close()
        with CaptureQueriesContext(connection) as captured:
            connection.ensure_connection()
    print(f"\na new database connection: {(time.perf_counter() - started) / count * 1000:.2f}"
          f" ms ({len(captured.captured_queries)} queries); with CONN_MAX_AGE=0 every "
          "request pays it")

    client = Client(HTTP_AUTHORIZATION=f"Token {tokens[0]}", HTTP_HOST="127.0.0.1")
    rng = random.Random(7)
    symbol = next(iter(mids))  # the first client's market
    for path in (BARE_PATH, ORDER_PATH):
        bodies = [order_body(rng, n, symbol, mids[symbol],
                             crossing if path == ORDER_PATH else 0)
                  for n in range(count + 20)]
        for body in bodies[:20]:  # warm-up: imports, caches
            client.post(path, body, content_type="application/json")
        shapes: Counter = Counter()
        per_request, db_seconds = [], 0.0
        example: list[str] = []
        started = time.perf_counter()
        # CPU time: what a request costs this process, nearly unmoved by the machine's
        # load, where wall time (waiting on MariaDB and Redis too) is not.
        cpu_started, process_started = time.thread_time(), time.process_time()
        for body in bodies[20:]:
            with CaptureQueriesContext(connection) as captured:
                response = client.post(path, body, content_type="application/json")
            assert response.status_code == 201, response.content
            per_request.append(len(captured.captured_queries))
            shapes.update(_query_shape(q["sql"]) for q in captured.captured_queries)
            db_seconds += sum(float(q["time"]) for q in captured.captured_queries)
            if not example and path == ORDER_PATH:
                example = [q["sql"][:150] for q in captured.captured_queries]
        wall = (time.perf_counter() - started) / count
        cpu = (time.thread_time() - cpu_started) / count
        process_cpu = (time.process_time() - process_started) / count
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies[20:]:
            client.post(path, body, content_type="application/json")
        profiler.disable()
        stats = pstats.Stats(profiler)
        profiled = stats.total_tt / count
        print(f"\nprofile {path}: {count} requests in process (Django test client, "
              f"same settings); {wall * 1000:.2f} ms/request unprofiled; CPU "
              f"{cpu * 1000:.2f} ms/request in the request's thread, {process_cpu * 1000:.2f}"
              " in the process (with the stream sender's thread)")
        print(f"  queries/request: mean {sum(per_request) / count:.1f}, "
              f"min {min(per_request)}, max {max(per_request)}; "
              f"SQL time {db_seconds / count * 1000:.2f} ms/request (client-side timing)")
        for shape, n in shapes.most_common():
            print(f"    {n / count:5.2f}  {shape}")
        if example:
            print("  one order's statements, in order:")
            for sql in example:
                print(f"    {sql}")
        print(f"  profiled: {profiled * 1000:.2f} ms/request (cProfile's overhead included); "
              "cumulative per request:")
        for label, file_part, function in PROFILE_STEPS:
            seconds = _cumulative(stats, file_part, function) / count
            if seconds:
                print(f"    {seconds * 1000:7.3f} ms  {label}")
        # The project's own functions, whatever they are called: the costliest first.
        ours = sorted(((entry[3], f"{filename.split('/apps/', 1)[1]}:{name}")
                       for (filename, _, name), entry in stats.stats.items()
                       if "/apps/" in filename and entry[3] / count >= 0.0005), reverse=True)
        for seconds, where in ours[:20]:
            print(f"    {seconds / count * 1000:7.3f} ms  apps/{where}")


# --- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=3,
                        help="split each endpoint's seconds into this many rounds, the "
                             "endpoints taking turns (1: bare, then order)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds per endpoint")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    parser.add_argument("--symbols", default="EUR/USD",
                        help="comma-separated forex markets; client i trades the i-th "
                             "(modulo): more markets, fewer orders per market row")
    parser.add_argument("--crossing", type=float, default=0.0,
                        help="fraction of the orders that cross the price and fill at once")
    parser.add_argument("--conn-max-age", default=None,
                        help="CONN_MAX_AGE for the server (default: the environment's)")
    parser.add_argument("--fresh", action="store_true",
                        help="drop and recreate DATABASE_URL's database, empty REDIS_URL's")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="then profile N requests of each endpoint in process")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("mysql") or not os.environ.get(
            "REDIS_URL"):
        sys.exit("Set DATABASE_URL (MariaDB: mysql://...) and REDIS_URL.")

    emulator_port, port = free_port(), free_port()
    # WhiteNoise (DEBUG off) wants the directory; the API serves no static file.
    static_root = tempfile.mkdtemp(prefix="order_api_static_")
    env = bench_env(emulator_port=emulator_port, conn_max_age=args.conn_max_age,
                    static_root=static_root)
    if args.fresh:
        recreate_storage(env)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "loaddata", "fixtures/currencies.json", "-v", "0")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    tokens = users_with_tokens(args.clients)

    children: list[subprocess.Popen] = []
    try:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "devtools.twelvedata", "--port", str(emulator_port),
             "--apikey", "bench", "--interval", "1", "--log-level", "WARNING"],
            env=env, cwd=ROOT)
        children.append(emulator)
        wait_for_port(emulator_port, emulator, "the TwelveData emulator")
        manage(env, "twd_import", "--kind", "forex", "--enable-provider", "--enable",
               args.symbols)
        children.append(subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "stream_prices"], env=env, cwd=ROOT))
        bin_dir = Path(sys.executable).parent
        server = subprocess.Popen(
            ["sh", str(ROOT / "scripts" / "web.sh"), "--log-level", "warning"],
            env=dict(env, HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(args.workers),
                     PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"),
            cwd=ROOT)
        children.append(server)
        wait_for_port(port, server, "the web server")
        base = f"http://127.0.0.1:{port}"
        # The clients' loop as the server's: the cheaper, the less they take from it.
        import uvloop

        workers = worker_pids(server.pid)  # web.sh execs the server: the same process
        results = uvloop.run(measure(base=base, tokens=tokens, workers=workers, args=args))
    finally:
        for child in reversed(children):
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()

    bare, order, mids = results
    print(f"\n{args.clients} clients x {args.duration:g} s per endpoint in {args.rounds} "
          f"rounds taking turns, {args.workers} "
          f"uvicorn workers, CONN_MAX_AGE={env.get('CONN_MAX_AGE', '0')}, "
          f"crossing={args.crossing:g}, markets: {args.symbols}")
    for phase in (bare, order):
        s = phase.summary()
        print(f"{phase.name:6s} {s['rps']:8.1f} req/s  p50 {s['p50_ms']:7.1f} ms  "
              f"p99 {s['p99_ms']:7.1f} ms  max {s['max_ms']:7.1f} ms  "
              f"errors {s['errors']} of {s['requests']}")
        for sample in phase.error_samples:
            print(f"       {sample}")
        # An uneven split means the connections went unevenly: with one listening socket
        # shared (uvicorn's own, before exchange_platform/web.py), a phase's 32
        # connections all went to one worker, near 100 % while the other idled.
        print("       server workers' CPU per run, busiest first (s): " + ", ".join(
            "/".join(f"{seconds:.1f}" for seconds in run) for run in phase.worker_cpu))
    print(f"order statuses: {dict(order.statuses)}")
    print("order requests waiting for a row lock (mean per 0.2 s sample, by table): "
          f"{order.summary()['lock_waits'] or 'none seen'}")
    if args.profile:
        profile(tokens=tokens, mids=mids, crossing=args.crossing, count=args.profile)
    b, o = bare.summary(), order.summary()
    print(json.dumps({"bench": "order_api", "rps": o["rps"],
                      "ratio_vs_bare": round(o["rps"] / b["rps"], 3), "p99_ms": o["p99_ms"],
                      "errors": o["errors"] + b["errors"]}))


async def measure(*, base: str, tokens: list[str], workers: list[int],
                  args: argparse.Namespace) -> tuple[Phase, Phase, dict[str, Decimal]]:
    from django.db import connection

    symbols = args.symbols.split(",")
    mids = {symbol: await last_price(base, symbol) for symbol in symbols}
    await fund(base=base, tokens=tokens, mids=mids)
    endpoints = (("bare", BARE_PATH), ("order", ORDER_PATH))
    for _, path in endpoints:
        await run_phase(seconds=args.warmup, phase=None, base=base, tokens=tokens, path=path,
                        mids=mids, crossing=args.crossing, seed=args.seed)
    phases = {name: Phase(name) for name, _ in endpoints}
    # In rounds, the endpoint that goes first alternating: a machine whose speed drifts
    # (a 2-core VM's neighbours) then moves both endpoints' figures alike, where one
    # 30 s phase after the other could catch a slow spell in one only.
    for round_ in range(args.rounds):
        for name, path in endpoints[::-1] if round_ % 2 else endpoints:
            phase = phases[name]
            stop = threading.Event()
            sampler = threading.Thread(target=sample_lock_waits, kwargs=dict(
                database=connection.settings_dict, stop=stop, phase=phase))
            sampler.start()
            before = cpu_seconds(workers)
            await run_phase(seconds=args.duration / args.rounds, phase=phase, base=base,
                            tokens=tokens, path=path, mids=mids, crossing=args.crossing,
                            seed=args.seed + round_)
            phase.worker_cpu.append(sorted(
                (after - start for start, after in zip(before, cpu_seconds(workers),
                                                       strict=True)), reverse=True))
            stop.set()
            await asyncio.to_thread(sampler.join)
    return phases["bare"], phases["order"], mids


if __name__ == "__main__":
    main()
