"""The Redis cache backend: Django's, with one redis-py client and connection pool per
server and options for the whole process.

Django's ``RedisCacheClient`` keeps its connection pools on the cache object, and Django
makes a cache object per asyncio context: under ASGI every request got its own, with a
new pool, so every request opened a new TCP connection to Redis (about one per request
in bench/order_api.py). It also builds a new ``redis.Redis`` for every operation, and
redis-py's constructor copies its table of some 170 response callbacks each time: about
a fifth of a millisecond of CPU per ``cache.get``, more than the round trip on loopback.
A ``redis.Redis`` keeps no per-call state and takes its connections from its pool, which
is thread-safe and starts afresh in a forked child, so one of each serves every request,
thread and cache object of the process.
"""
import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

# (server URL, pool class, pool options) -> the process's client for them.
_clients: dict[tuple[str, type, str], object] = {}
_clients_lock = threading.Lock()


class _SharedClients(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # This cache object's clients by server index, taken from the registry once.
        self._mine: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._mine.get(index)
        if client is None:
            client = self._mine[index] = self._shared(self._servers[index])
        return client

    def _shared(self, server: str):
        # The options' repr: they may hold unhashable values (connection kwargs).
        shared = (server, self._pool_class, repr(sorted(self._pool_options.items())))
        with _clients_lock:
            client = _clients.get(shared)
            if client is None:
                pool = self._pool_class.from_url(server, **self._pool_options)
                client = _clients[shared] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _SharedClients
