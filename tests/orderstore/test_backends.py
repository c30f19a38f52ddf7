"""How a process gets its store: ``get_store()`` from the settings, one per process
(a forked child builds its own driver session), and the ScyllaDB schema command."""
from __future__ import annotations

import multiprocessing

import pytest
from cassandra import ConsistencyLevel
from django.core.management import call_command
from django.test import override_settings

from apps.orderstore.base import get_store
from apps.orderstore.scylla import ScyllaOrderStore, migrate, schema_files
from apps.orderstore.sql import SqlInternalOrderStore
from devtools.cql.runner import CqlEmulator, running_emulator
from tests.factories import OrderRecordFactory, TradeRecordFactory


@pytest.fixture(scope="module")
def cql() -> CqlEmulator:
    with running_emulator() as emulator:
        yield emulator


def scylla_settings(cql: CqlEmulator, keyspace: str) -> override_settings:
    return override_settings(
        ORDER_STORE="scylla", SCYLLA_HOSTS=[cql.host], SCYLLA_PORT=cql.port,
        SCYLLA_KEYSPACE=keyspace,
        SCYLLA_REPLICATION="{'class': 'SimpleStrategy', 'replication_factor': 1}")


def test_the_sql_store_is_the_default(db):
    assert isinstance(get_store(), SqlInternalOrderStore)
    assert get_store() is get_store()


def test_orderstore_migrate_applies_each_schema_file_once(cql, capsys):
    with scylla_settings(cql, "migrated"):
        call_command("orderstore_migrate")
        first = capsys.readouterr().out
        call_command("orderstore_migrate")
        again = capsys.readouterr().out
        store = get_store()
        assert isinstance(store, ScyllaOrderStore)
        record = OrderRecordFactory()
        store.put_orders(records=[record])
        assert store.order(venue=record.venue, order_id=record.order_id) == record
    versions = [version for version, _ in schema_files()]
    assert versions[0] == "0001_initial"
    assert [line.split()[1] for line in first.splitlines() if line.startswith("applied")] \
        == versions
    assert "applied" not in again and "up to date" in again


def test_a_migration_against_no_server_fails_with_a_message(capsys):
    with override_settings(ORDER_STORE="scylla", SCYLLA_HOSTS=["127.0.0.1"], SCYLLA_PORT=1):
        with pytest.raises(Exception, match="orderstore_migrate failed"):
            call_command("orderstore_migrate")


def _read_in_child(store: ScyllaOrderStore, order_id: int, answers) -> None:
    record = store.order(venue="ecosystem", order_id=order_id)
    answers.put((record is not None and record.order_id == order_id,
                 store._pid == multiprocessing.current_process().pid))
    store.close()


def test_a_forked_child_uses_a_session_of_its_own(cql):
    with scylla_settings(cql, "forked"):
        call_command("orderstore_migrate")
        store = get_store()
        record = OrderRecordFactory()
        store.put_orders(records=[record])
        parent_cluster = store.cluster()

        context = multiprocessing.get_context("fork")
        answers = context.Queue()
        child = context.Process(target=_read_in_child, args=(store, record.order_id, answers))
        child.start()
        found, own_session = answers.get(timeout=30)
        child.join(30)

        assert (found, own_session, child.exitcode) == (True, True, 0)
        # The parent's connections were left alone by the child.
        assert store.cluster() is parent_cluster
        assert store.order(venue="ecosystem", order_id=record.order_id) == record


def test_a_books_open_orders_are_read_a_page_at_a_time(cql):
    store = ScyllaOrderStore(hosts=[cql.host], port=cql.port, keyspace="paged", page_size=3)
    migrate(store=store, replication="{'class': 'SimpleStrategy', 'replication_factor': 1}")
    try:
        book = [OrderRecordFactory(order_id=i) for i in range(1, 12)]
        store.put_orders(records=book)
        assert store.open_orders(venue="ecosystem", market="ABC/USDT") == book
    finally:
        store.close()


def test_statements_are_prepared_and_sent_at_the_configured_consistency(cql):
    store = ScyllaOrderStore(hosts=[cql.host], port=cql.port, keyspace="levels",
                             write_consistency="QUORUM", read_consistency="LOCAL_ONE")
    migrate(store=store, replication="{'class': 'SimpleStrategy', 'replication_factor': 1}")
    try:
        before = len(cql.requests())
        opened = OrderRecordFactory()
        store.put_orders(records=[opened, OrderRecordFactory(status="FILLED")])
        store.put_trades(records=TradeRecordFactory.build_batch(2))
        store.order(venue="ecosystem", order_id=opened.order_id)
        store.user_orders(venue="ecosystem", user_id=7, open_only=True)
        store.open_orders(venue="ecosystem", market="ABC/USDT")
        store.market_trades(venue="ecosystem", market="ABC/USDT")
        sent = [r for r in cql.requests()[before:] if "system." not in r.text]
    finally:
        store.close()

    writes = [r for r in sent if r.text.startswith(("INSERT", "DELETE"))]
    reads = [r for r in sent if r.text.startswith("SELECT")]
    assert {r.kind for r in writes} == {"EXECUTE", "BATCH"}  # prepared; trades batched
    assert {r.kind for r in reads} == {"EXECUTE"}
    assert {r.consistency for r in writes} == {ConsistencyLevel.QUORUM}
    assert {r.consistency for r in reads} == {ConsistencyLevel.LOCAL_ONE}
    assert all("USING TIMESTAMP" in r.text for r in writes if "orders" in r.text)
