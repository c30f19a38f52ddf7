"""The order store under test: the SQL backend on the test database, and the ScyllaDB
backend through the real cassandra-driver, against the CQL emulator or, when
``SCYLLA_HOSTS`` is set in the environment, a real cluster (README "Order store")."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from apps.orderstore.scylla import ScyllaOrderStore, migrate
from apps.orderstore.sql import SqlInternalOrderStore
from devtools.cql.runner import running_emulator

_TABLES = ("orders", "orders_by_user", "open_orders_by_user", "open_orders_by_market",
           "trades_by_market", "trade_buckets")


@pytest.fixture(scope="session")
def scylla_store() -> Iterator[ScyllaOrderStore]:
    """One migrated keyspace for the session (a real cluster's is
    ``SCYLLA_TEST_KEYSPACE``, default exchange_orders_test, replication factor 1)."""
    hosts = [host for host in os.environ.get("SCYLLA_HOSTS", "").split(",") if host]
    keyspace = os.environ.get("SCYLLA_TEST_KEYSPACE", "exchange_orders_test")
    if hosts:
        store = ScyllaOrderStore(hosts=hosts, port=int(os.environ.get("SCYLLA_PORT", "9042")),
                                 keyspace=keyspace, write_consistency="ONE",
                                 read_consistency="ONE")
        migrate(store=store, replication="{'class': 'SimpleStrategy', 'replication_factor': 1}")
        yield store
        store.close()
        return
    with running_emulator() as cql:
        store = ScyllaOrderStore(hosts=[cql.host], port=cql.port, keyspace=keyspace)
        migrate(store=store, replication="{'class': 'SimpleStrategy', 'replication_factor': 1}")
        yield store
        store.close()


def empty_scylla(store: ScyllaOrderStore) -> None:
    session = store.cluster().connect(store.keyspace)
    try:
        for table in _TABLES:
            session.execute(f"TRUNCATE {table}")
    finally:
        session.shutdown()


@pytest.fixture(params=["sql", "scylla"])
def store(request: pytest.FixtureRequest, db):
    """Each backend, empty."""
    if request.param == "sql":
        return SqlInternalOrderStore()
    scylla = request.getfixturevalue("scylla_store")
    empty_scylla(scylla)
    return scylla
