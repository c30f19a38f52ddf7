"""Sends to a ticker stream from synchronous code: ours against ``async_to_sync``.

Synchronous publishers (the price stream, Celery workers' order and balance events) send
channel-layer messages without an event loop of their own. Both ways run in this one
process, on the same messages, to the same Redis pub/sub channel layer
(``channels_redis.pubsub.RedisPubSubChannelLayer``):

* ``ours``: ``apps.marketdata.streams.send_to_group``, which runs every send on one event
  loop kept by the process (so the layer keeps one connection);
* ``async_to_sync``: ``asgiref.sync.async_to_sync(layer.group_send)`` per send, what the
  Channels documentation shows for sending from synchronous code and what this project did
  before: a new event loop per call, so the layer connects to Redis for every send.

Throughput is the median of --rounds interleaved rounds of --sends sends each (the two
ways alternate which goes first). It also counts the connections Redis accepted during each
way's rounds (``INFO stats``). The last printed line is one JSON object.

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/stream_send.py
"""
import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2_000, help="sends per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("needs --redis-url or REDIS_URL (a Redis this bench may publish to)")
    os.environ.update(DJANGO_SETTINGS_MODULE="exchange_platform.settings", DJANGO_DEBUG="1",
                      SECRET_KEY="bench-only-not-secret", REDIS_URL=args.redis_url,
                      LOG_LEVEL="WARNING")
    import django

    django.setup()
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.marketdata import streams

    layer = get_channel_layer()
    ticker = {"venue": "paper", "symbol": "BENCH/USD"}
    group = streams.ticker_group(**ticker)
    message = streams.group_message(stream=streams.ticker_stream(**ticker),
                                    data={**ticker, "price": "1.23456"}, seq=1)

    def ours() -> None:
        if not streams.send_to_group(group, message):
            raise RuntimeError("send failed: is Redis up?")

    def baseline() -> None:
        async_to_sync(layer.group_send)(group, message)

    ways: dict[str, Callable[[], None]] = {"ours": ours, "async_to_sync": baseline}
    server = redis.Redis.from_url(args.redis_url)
    times: dict[str, list[float]] = {name: [] for name in ways}
    connections: dict[str, int] = dict.fromkeys(ways, 0)
    for send in ways.values():
        send()  # warm-up: imports, and our loop's first connection
    for r in range(args.rounds):
        order = list(ways.items()) if r % 2 == 0 else list(reversed(ways.items()))
        for name, send in order:
            accepted = server.info("stats")["total_connections_received"]
            t0 = time.perf_counter()
            for _ in range(args.sends):
                send()
            times[name].append(time.perf_counter() - t0)
            connections[name] += server.info("stats")["total_connections_received"] - accepted

    print(f"{args.rounds} interleaved rounds of {args.sends} sends, Redis {args.redis_url}")
    print(f"{'way':<15} {'sends/s':>10} {'us/send':>9} {'connections':>12}")
    rates = {}
    for name in ways:
        median = statistics.median(times[name])
        rates[name] = args.sends / median
        print(f"{name:<15} {rates[name]:>10,.0f} {median / args.sends * 1e6:>9.1f} "
              f"{connections[name]:>12,}")
    ratio = rates["ours"] / rates["async_to_sync"]
    print(f"ours / async_to_sync = {ratio:.2f}x")
    print(json.dumps({"bench": "stream_send", "sends_per_s": round(rates["ours"]),
                      "ratio_vs_async_to_sync": round(ratio, 2),
                      "connections_ours": connections["ours"],
                      "connections_async_to_sync": connections["async_to_sync"]}))


if __name__ == "__main__":
    main()
