"""The Redis cache backend (apps.core.cache): Django's, reusing its redis-py clients."""
import os
import threading
from unittest import mock

import pytest
import redis

from apps.core import cache as cache_module
from apps.core.cache import RedisCache

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                                reason="needs REDIS_URL (a Redis server)")


@pytest.fixture
def backend(monkeypatch):
    # A registry of its own: the test settings' cache may have made the process's client.
    monkeypatch.setattr(cache_module, "_clients", {}, raising=False)
    cache = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": "test-core-cache"})
    yield cache
    cache.delete_many([f"k{n}" for n in range(8)])


def test_operations_share_one_client_per_pool(backend):
    with mock.patch.object(redis.Redis, "__init__", autospec=True,
                           side_effect=redis.Redis.__init__) as made:
        for n in range(5):
            backend.set(f"k{n}", n, 30)
            assert backend.get(f"k{n}") == n
        backend.incr("k0")
        assert backend.get_many(["k0", "k1"]) == {"k0": 1, "k1": 1}
    # One server: reads and writes use the same pool, hence the same client.
    assert made.call_count == 1


def test_cache_objects_of_one_server_share_one_client_and_pool(backend):
    """Django makes a cache object per asyncio context (under ASGI, per request): they
    must not each open their own connections."""
    other = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": "test-core-cache"})
    backend.set("k6", 1, 30)
    assert other.get("k6") == 1
    ours, theirs = backend._cache.get_client(), other._cache.get_client(write=True)
    assert ours is theirs
    assert ours.connection_pool is theirs.connection_pool


def test_threads_use_the_shared_client_safely(backend):
    backend.set("k7", 0, 30)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(200):
                backend.incr("k7")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert backend.get("k7") == 800
