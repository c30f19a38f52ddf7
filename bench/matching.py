"""Benchmark of the matching core against the plain reference book and PyPI peers.

    .venv/bin/python bench/matching.py            # full run (about 3 minutes on 2 cores)
    .venv/bin/python bench/matching.py --ops 20000 --rounds 3   # quick look

Every engine runs in this one process on the same operations, built once from seed 42:

* ``standard``: 200,000 operations from an empty book: ~60% passive limit adds within
  +/-100 ticks of a random-walking mid, ~25% cancels of live orders, ~15% marketable limits
  (up to 10 ticks through the opposite best, 1-30 lots);
* ``deep``: the same mix after an untimed prefill of 64,000 passive orders.

Which orders are live when a cancel is drawn comes from running the reference book while
generating, so each cancel hits an open order in every engine that matches like ours.

Engines and what their adapters do:

* ``ours``: ``apps.matching.OrderBook``; the loop looks at every event it returns (plain
  tuples ``(Kind, seq, *fields)``) and sums the quantities of the Trade events.
  Self-trade prevention is off (``StpMode.NONE``): no peer has it.
* ``reference``: ``tests/matching/reference_book.py``, the test oracle (SortedDict of price ->
  deque, dict id -> order), same events as ours.
* ``pyorderbook``: ``Book.match(bid/ask(...))``; fills from the returned blotter's trades;
  cancels need the ``Order`` object, kept in a list by add index.
* ``lightmatchingengine``: ``add_order``/``cancel_order``; it numbers orders itself, so
  cancels are mapped to its ids when the workload is prepared; fills are its aggressor-side
  trades (it reports each fill twice, once per side).
* ``liquibook``: the SWIG wrapper's ``DepthOrderBook`` (its only order book that accepts
  orders from Python) with an ``OrderListener`` whose ``on_fill`` sums the fills; every other
  listener method is a no-op but must exist (pure virtual in the C++ book).

All five implement FIFO price-time priority with fills at the maker's price and plain
cancels, so they must agree exactly on filled volume and resting order count; the script
checks that and marks any engine that disagrees. A peer that cannot be installed or imported
is reported with its error and left out.

Throughput is the median of interleaved rounds (each round runs every engine once, on a fresh
book, in turn); latency p50/p99 comes from a separate pass timing each operation with
``time.perf_counter_ns``. The last line printed is one JSON object with the worst ratios over
the two workloads.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.matching import MarketSpec, OrderBook, Side, StpMode, Trade, field_index  # noqa: E402
from tests.matching.reference_book import ReferenceBook  # noqa: E402

ADD, CANCEL = 0, 1
SPEC = MarketSpec("BENCH", Decimal("0.01"), Decimal("1"), StpMode.NONE)
START_MID = 10_000
# Events are plain tuples (Kind, seq, *fields): where a Trade carries these fields.
TRADE_QTY = field_index(Trade, "qty")
TRADE_MAKER = field_index(Trade, "maker_order_id")


@dataclass
class Workload:
    name: str
    prefill: list[tuple]  # untimed adds: (ADD, oid, side, price, qty, owner, add_index)
    ops: list[tuple]  # (ADD, ...) as above, or (CANCEL, oid, add_index_of_that_order)
    adds: int = 0


def make_workload(name: str, *, seed: int, n_ops: int, prefill: int) -> Workload:
    rng = random.Random(seed)
    sim = ReferenceBook(SPEC)
    live: list[int] = []
    where: dict[int, int] = {}
    add_index: dict[int, int] = {}
    mid = START_MID
    next_id = 0

    def forget(oid: int) -> None:
        i = where.pop(oid)
        last = live.pop()
        if last != oid:
            live[i] = last
            where[last] = i

    def add(side: Side, price: int, qty: int) -> tuple:
        nonlocal next_id
        next_id += 1
        oid = next_id
        add_index[oid] = len(add_index)
        op = (ADD, oid, side, price, qty, rng.randrange(1000), add_index[oid])
        for e in sim.place(order_id=oid, owner=op[5], side=side, price=price, qty=qty):
            if e[0] is Trade and e[TRADE_MAKER] not in sim.orders:
                forget(e[TRADE_MAKER])
        if oid in sim.orders:
            where[oid] = len(live)
            live.append(oid)
        return op

    def passive() -> tuple:
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        away = rng.randint(1, 100)
        return add(side, mid - away if side is Side.BUY else mid + away, rng.randint(1, 10))

    pre = [passive() for _ in range(prefill)]
    ops = []
    for _ in range(n_ops):
        # A walk reflected within +/-50 ticks of the start: an unbounded one drifts through
        # the book and drains it, and the deep variant would not stay deep.
        mid += rng.choice((-1, 0, 1))
        if abs(mid - START_MID) > 50:
            mid = 2 * START_MID + (100 if mid > START_MID else -100) - mid
        r = rng.random()
        if r < 0.60 or not live:
            ops.append(passive())
        elif r < 0.85:
            oid = live[rng.randrange(len(live))]
            sim.cancel(order_id=oid)
            forget(oid)
            ops.append((CANCEL, oid, add_index[oid]))
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            through = rng.randint(0, 10)
            if side is Side.BUY:
                best = sim.best_ask()
                price = (mid if best is None else best) + through
            else:
                best = sim.best_bid()
                price = (mid if best is None else best) - through
            ops.append(add(side, price, rng.randint(1, 30)))
    return Workload(name, pre, ops, adds=len(add_index))


# ---------------------------------------------------------------------------- engines


@dataclass
class Engine:
    """One engine's adapter: ``fresh()`` makes a loaded book and returns a runner."""

    name: str
    fresh: Callable[[Workload], Callable[[list[tuple]], int]]
    resting: Callable[[], int]
    state: dict[str, Any]

    def drop(self) -> None:
        """Free the last book, so that no engine's garbage slows another's collections."""
        self.state.clear()


def _events_engine(name: str, cls: type) -> Engine:
    state: dict[str, Any] = {}

    def fresh(w: Workload) -> Callable[[list[tuple]], int]:
        book = cls(SPEC)
        state["book"] = book
        place, cancel = book.place, book.cancel
        for _, oid, side, price, qty, owner, _ in w.prefill:
            place(order_id=oid, owner=owner, side=side, price=price, qty=qty)

        def run(ops: list[tuple]) -> int:
            volume = 0
            for op in ops:
                if op[0]:
                    cancel(order_id=op[1])
                else:
                    _, oid, side, price, qty, owner, _ = op
                    for e in place(order_id=oid, owner=owner, side=side, price=price, qty=qty):
                        if e[0] is Trade:
                            volume += e[TRADE_QTY]
            return volume

        return run

    return Engine(name, fresh, lambda: len(state["book"]), state)


def _pyorderbook_engine() -> Engine:
    import logging

    import pyorderbook

    # pyorderbook configures the root logger at INFO on import; its debug calls stay cheap.
    logging.getLogger("pyorderbook").setLevel(logging.WARNING)
    state: dict[str, Any] = {}

    def fresh(w: Workload) -> Callable[[list[tuple]], int]:
        book = pyorderbook.Book()
        state["book"] = book
        match, cancel, bid, ask = book.match, book.cancel, pyorderbook.bid, pyorderbook.ask
        orders: list[Any] = []
        keep = orders.append
        for _, _, side, price, qty, _, _ in w.prefill:
            o = (bid if side is Side.BUY else ask)("B", price, qty)
            keep(o)
            match(o)

        def run(ops: list[tuple]) -> int:
            volume = 0
            for op in ops:
                if op[0]:
                    cancel(orders[op[2]])
                else:
                    o = (bid if op[2] is Side.BUY else ask)("B", op[3], op[4])
                    keep(o)
                    for t in match(o).trades:
                        volume += t.fill_quantity
            return volume

        return run

    return Engine("pyorderbook", fresh, lambda: len(state["book"].order_map), state)


def _lme_engine() -> Engine:
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine
    from lightmatchingengine.lightmatchingengine import Side as LSide

    state: dict[str, Any] = {}

    def fresh(w: Workload) -> Callable[[list[tuple]], int]:
        lme = LightMatchingEngine()
        state["lme"] = lme
        add_order, cancel_order = lme.add_order, lme.cancel_order
        buy, sell = LSide.BUY, LSide.SELL
        for _, _, side, price, qty, _, _ in w.prefill:
            add_order("B", price, qty, buy if side is Side.BUY else sell)

        def run(ops: list[tuple]) -> int:
            volume = 0
            for op in ops:
                if op[0]:
                    # LME numbers orders 1, 2, ... in the order they are added.
                    cancel_order(op[2] + 1, "B")
                else:
                    order, trades = add_order("B", op[3], op[4], buy if op[2] is Side.BUY else sell)
                    oid = order.order_id
                    for t in trades:
                        if t.order_id == oid:
                            volume += t.trade_qty
            return volume

        return run

    def resting() -> int:
        book = state["lme"].order_books.get("B")
        if book is None:
            return 0
        return sum(len(q) for q in book.bids.values()) + sum(len(q) for q in book.asks.values())

    return Engine("lightmatchingengine", fresh, resting, state)


def _liquibook_engine() -> Engine:
    import liquibook

    class Listener(liquibook.OrderListener):
        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.filled = 0

        def on_fill(self, passive: Any, aggressive: Any, qty: int, cost: int) -> None:
            self.filled += qty

        def on_accept(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: str) -> None:
            pass

        def on_cancel(self, order: Any) -> None:
            pass

        def on_cancel_reject(self, order: Any, reason: str) -> None:
            pass

        def on_replace(self, order: Any, size_delta: int, new_price: int) -> None:
            pass

        def on_replace_reject(self, order: Any, reason: str) -> None:
            pass

    state: dict[str, Any] = {}

    def fresh(w: Workload) -> Callable[[list[tuple]], int]:
        book = liquibook.DepthOrderBook()
        listener = Listener()
        book.set_order_listener(listener)
        book.set_symbol("B")
        state["book"], state["listener"] = book, listener
        new, add, cancel = liquibook.SimpleOrder, book.add, book.cancel
        orders: list[Any] = []
        keep = orders.append
        for _, _, side, price, qty, _, _ in w.prefill:
            o = new(side is Side.BUY, price, qty)
            keep(o)
            add(o)

        def run(ops: list[tuple]) -> int:
            before = listener.filled
            for op in ops:
                if op[0]:
                    cancel(orders[op[2]])
                else:
                    o = new(op[2] is Side.BUY, op[3], op[4])
                    keep(o)
                    add(o)
            return listener.filled - before

        return run

    def resting() -> int:
        return len(state["book"].bids()) + len(state["book"].asks())

    return Engine("liquibook", fresh, resting, state)


def load_engines() -> tuple[list[Engine], list[str]]:
    engines = [_events_engine("ours", OrderBook), _events_engine("reference", ReferenceBook)]
    problems = []
    for build in (_pyorderbook_engine, _lme_engine, _liquibook_engine):
        try:
            engines.append(build())
        except Exception as exc:  # a peer that does not import is reported, not fatal
            problems.append(f"{build.__name__}: {type(exc).__name__}: {exc}")
    return engines, problems


# ---------------------------------------------------------------------------- measuring


def timed_run(engine: Engine, w: Workload) -> tuple[float, int, int]:
    run = engine.fresh(w)
    gc.collect()
    t0 = time.perf_counter()
    volume = run(w.ops)
    elapsed = time.perf_counter() - t0
    resting = engine.resting()
    engine.drop()
    return elapsed, volume, resting


def latencies(engine: Engine, w: Workload) -> tuple[float, float]:
    """p50 and p99 per operation in microseconds, one ``perf_counter_ns`` pair per op."""
    run = engine.fresh(w)
    clock = time.perf_counter_ns
    samples = array("q")
    record = samples.append
    gc.collect()
    for op in w.ops:
        one = [op]
        t0 = clock()
        run(one)
        record(clock() - t0)
    engine.drop()
    ordered = sorted(samples)
    n = len(ordered)
    return ordered[n // 2] / 1000, ordered[min(n - 1, (n * 99) // 100)] / 1000


def bench_workload(engines: list[Engine], w: Workload, rounds: int) -> dict[str, dict]:
    times: dict[str, list[float]] = {e.name: [] for e in engines}
    results: dict[str, tuple[int, int]] = {}
    for r in range(rounds):
        # Rotate the starting engine so no engine always runs first (cold) or last.
        order = engines[r % len(engines):] + engines[: r % len(engines)]
        for engine in order:
            elapsed, volume, resting = timed_run(engine, w)
            times[engine.name].append(elapsed)
            results.setdefault(engine.name, (volume, resting))
            if results[engine.name] != (volume, resting):
                raise RuntimeError(f"{engine.name} is not deterministic on {w.name}")
    out = {}
    expected = results["reference"]
    for engine in engines:
        med = statistics.median(times[engine.name])
        p50, p99 = latencies(engine, w)
        volume, resting = results[engine.name]
        out[engine.name] = {
            "ops_per_s": len(w.ops) / med,
            "median_s": med,
            "p50_us": p50,
            "p99_us": p99,
            "filled": volume,
            "resting": resting,
            "agrees": (volume, resting) == expected,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--deep", type=int, default=64_000, help="prefilled resting orders")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{args.ops} ops, seed {args.seed}, {args.rounds} interleaved rounds")
    engines, problems = load_engines()
    for problem in problems:
        print(f"peer unavailable: {problem}")
    workloads = [
        make_workload("standard", seed=args.seed, n_ops=args.ops, prefill=0),
        make_workload("deep", seed=args.seed, n_ops=args.ops, prefill=args.deep),
    ]
    # The workloads live for the whole run: keep the collector from walking them again and
    # again while it times the engines (the same for every engine).
    gc.collect()
    gc.freeze()
    peers = [e.name for e in engines if e.name not in ("ours", "reference")]
    worst_ref = worst_peer = float("inf")
    worst_p99 = 0.0
    for w in workloads:
        cancels = sum(1 for op in w.ops if op[0] == CANCEL)
        print(f"\n== {w.name}: {len(w.prefill)} prefilled, {len(w.ops)} ops "
              f"({cancels} cancels), {w.adds} orders in all")
        try:
            res = bench_workload(engines, w, args.rounds)
        except Exception:
            traceback.print_exc()
            raise
        ours = res["ours"]
        print(f"{'engine':<20}{'ops/s':>12}{'x ours':>9}{'p50 us':>9}{'p99 us':>9}"
              f"{'filled':>11}{'resting':>9}  agrees")
        for name, r in res.items():
            print(f"{name:<20}{r['ops_per_s']:>12,.0f}{ours['ops_per_s'] / r['ops_per_s']:>9.2f}"
                  f"{r['p50_us']:>9.2f}{r['p99_us']:>9.2f}{r['filled']:>11}{r['resting']:>9}"
                  f"  {'yes' if r['agrees'] else 'NO'}")
        disagree = [n for n, r in res.items() if not r["agrees"]]
        if "ours" in disagree:
            raise SystemExit(f"ours disagrees with the reference on {w.name}")
        for name in disagree:
            print(f"warning: {name} disagrees with the reference; its ratio is not comparable")
        ratio_ref = ours["ops_per_s"] / res["reference"]["ops_per_s"]
        comparable = [n for n in peers if res[n]["agrees"]]
        best = max(comparable, key=lambda n: res[n]["ops_per_s"], default=None)
        ratio_peer = ours["ops_per_s"] / res[best]["ops_per_s"] if best else float("nan")
        print(f"ours / reference = {ratio_ref:.2f}x; ours / best peer ({best}) = {ratio_peer:.2f}x")
        worst_ref = min(worst_ref, ratio_ref)
        worst_peer = min(worst_peer, ratio_peer)
        worst_p99 = max(worst_p99, ours["p99_us"])
    print(json.dumps({
        "bench": "matching",
        "ratio_vs_reference": round(worst_ref, 2),
        "ratio_vs_best_peer": round(worst_peer, 2),
        "p99_us": round(worst_p99, 2),
    }))


if __name__ == "__main__":
    main()
