"""A key's rate limit holds across worker processes: two OS processes (forked, each with
its own database and Redis connections, as two web workers have) send signed requests
with one key at once; within one window exactly API_KEY_RATE_LIMIT of them pass, the rest
get 429. Needs the shared Redis (REDIS_URL) and a database both processes see (MariaDB,
committed rows)."""
import multiprocessing
import os

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connections

from tests.accounts.test_api_keys import TOTP_SECRET, call, make_key
from tests.factories import UserFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

LIMIT = 20
PER_PROCESS = 30


def _worker(key, secret, barrier, results) -> None:
    connections.close_all()  # the parent's connection is not this process's to use
    barrier.wait()
    statuses = [call("GET", "/api/v1/wallets/", key, secret).status_code
                for _ in range(PER_PROCESS)]
    results.put(statuses)
    connections.close_all()


@pytest.fixture
def redis_cache():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: the limit is counted in Redis, shared by the workers")


def test_the_limit_holds_across_two_worker_processes(redis_cache, settings):
    settings.API_KEY_RATE_LIMIT = LIMIT
    settings.API_KEY_RATE_WINDOW_SECONDS = 3600  # one window for the whole run
    settings.API_KEY_REQUEST_WEIGHTS = {}
    user = UserFactory()
    TOTP.activate(user, TOTP_SECRET)
    key, secret = make_key(user, scopes=["read"])
    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_worker, args=(key, secret, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    statuses = [status for _ in workers for status in results.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert len(statuses) == 2 * PER_PROCESS
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * PER_PROCESS - LIMIT
