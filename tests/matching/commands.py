"""A seeded random command stream over every command, order type, STP mode and error."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from apps.matching import OrderType, Side, StpMode

_TYPES = [OrderType.LIMIT] * 8 + [
    OrderType.IOC,
    OrderType.FOK,
    OrderType.POST_ONLY,
    OrderType.MARKET,
]


def random_commands(
    seed: int, count: int, is_open: Callable[[int], bool] = lambda _: True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``count`` (command, kwargs) pairs around a random-walking mid, mostly valid ones.

    ``is_open`` lets the stream aim most cancels, reduces and replaces at open orders.
    """
    rng = random.Random(seed)
    mid = 1000
    next_id = 0
    ids: list[int] = []
    def some_id() -> int:
        pool = ids[-300:] if rng.random() < 0.9 else ids
        pick = rng.choice(pool)
        for _ in range(4):
            if is_open(pick):
                break
            pick = rng.choice(pool)
        return pick

    for _ in range(count):
        mid = max(50, mid + rng.choice((-1, 0, 0, 1)))
        r = rng.random()
        if r < 0.62 or not ids:
            next_id += 1
            ids.append(next_id)
            if len(ids) > 4000:
                ids = ids[-2000:]
            order_type = rng.choice(_TYPES)
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            kw: dict[str, Any] = {
                "order_id": next_id,
                "owner": rng.randrange(8),
                "side": side,
                "order_type": order_type,
                "stp": None if rng.random() < 0.7 else rng.choice(list(StpMode)),
            }
            if order_type is OrderType.MARKET:
                if side is Side.BUY and rng.random() < 0.5:
                    kw["quote_budget"] = rng.randrange(1, 20 * mid)
                else:
                    kw["qty"] = rng.randrange(1, 25)
            else:
                # Mostly passive, some through the spread.
                away = rng.randrange(-3, 15)
                kw["price"] = mid - away if side is Side.BUY else mid + away
                kw["qty"] = rng.randrange(1, 12)
            if rng.random() < 0.01:
                kw["qty"] = rng.choice((0, -1, None))
            yield "place", kw
        elif r < 0.82:
            yield "cancel", {"order_id": some_id()}
        elif r < 0.91:
            yield "reduce", {"order_id": some_id(), "qty": rng.randrange(0, 8)}
        else:
            yield "replace", {"order_id": some_id(), "price": mid + rng.randrange(-12, 13)}
