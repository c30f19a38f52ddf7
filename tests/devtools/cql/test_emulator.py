"""The CQL emulator through the real cassandra-driver: handshake, paging, ordering,
timestamps and tombstones, lightweight transactions, batches, errors."""
from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from cassandra import AlreadyExists, InvalidRequest
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.murmur3 import murmur3
from cassandra.policies import RoundRobinPolicy
from cassandra.protocol import SyntaxException
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from devtools.cql.runner import CqlEmulator, running_emulator

_names = itertools.count(1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def profiles() -> dict:
    return {EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy())}


def connect(emulator: CqlEmulator) -> Cluster:
    return Cluster([emulator.host], port=emulator.port, protocol_version=4,
                   execution_profiles=profiles())


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def emulator(clock) -> Iterator[CqlEmulator]:
    with running_emulator(clock=clock) as cql:
        yield cql


@pytest.fixture(scope="module")
def session(emulator) -> Iterator[Session]:
    cluster = connect(emulator)
    session = cluster.connect()
    session.execute("CREATE KEYSPACE ks WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.set_keyspace("ks")
    yield session
    cluster.shutdown()


@pytest.fixture
def table(session) -> str:
    """A fresh table: partition p, clustering c (DESC), values v and w."""
    name = f"t{next(_names)}"
    session.execute(f"CREATE TABLE {name} (p text, c bigint, v decimal, w text, "
                    "PRIMARY KEY ((p), c)) WITH CLUSTERING ORDER BY (c DESC)")
    return name


def test_the_driver_connects_unpinned_reads_the_node_and_agrees_on_schema(emulator):
    # Not pinned, the driver offers v5 first and downgrades on the protocol error.
    cluster = Cluster([emulator.host], port=emulator.port, execution_profiles=profiles())
    try:
        session = cluster.connect()
        assert cluster.protocol_version == 4
        assert cluster.metadata.cluster_name == "cql-emulator"
        assert [h.datacenter for h in cluster.metadata.all_hosts()] == ["datacenter1"]
        session.execute("CREATE KEYSPACE IF NOT EXISTS other WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        assert cluster.control_connection.wait_for_schema_agreement()
    finally:
        cluster.shutdown()


def test_pages_follow_the_clustering_order_and_resume_after_changes(session, table):
    insert = session.prepare(f"INSERT INTO {table} (p, c, v) VALUES (?, ?, ?)")
    for c in range(20):
        session.execute(insert, ("a", c, Decimal(c) / 4))
    query = SimpleStatement(f"SELECT c FROM {table} WHERE p = 'a'", fetch_size=6)

    first = session.execute(query)
    assert [r.c for r in first.current_rows] == [19, 18, 17, 16, 15, 14]
    assert first.has_more_pages
    # Between pages: a row of the next page goes, one before the cursor comes, one after.
    session.execute(f"DELETE FROM {table} WHERE p = 'a' AND c = 12")
    session.execute(insert, ("a", 25, Decimal(0)))
    session.execute(f"UPDATE {table} SET w = 'x' WHERE p = 'a' AND c = -1")
    rest = session.execute(query, paging_state=first.paging_state)
    assert [r.c for r in rest] == [13, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1]
    # The driver pages by itself and LIMIT counts over the pages.
    assert [r.c for r in session.execute(query)][:3] == [25, 19, 18]
    limited = SimpleStatement(f"SELECT c FROM {table} WHERE p = 'a' LIMIT 8", fetch_size=3)
    assert [r.c for r in session.execute(limited)] == [25, 19, 18, 17, 16, 15, 14, 13]


def test_a_scan_comes_in_token_order_and_order_by_reverses_a_partition(session, table):
    insert = session.prepare(f"INSERT INTO {table} (p, c) VALUES (?, ?)")
    keys = [f"k{i}" for i in range(12)]
    for key in keys:
        for c in (1, 2):
            session.execute(insert, (key, c))

    scanned = [(r.p, r.c) for r in session.execute(
        SimpleStatement(f"SELECT p, c FROM {table}", fetch_size=5))]
    by_token = sorted(keys, key=lambda k: murmur3(k.encode()))
    assert scanned == [(k, c) for k in by_token for c in (2, 1)]

    ascending = session.execute(session.prepare(
        f"SELECT c FROM {table} WHERE p = ? AND c >= ? AND c < ? ORDER BY c ASC"), ("k1", 1, 3))
    assert [r.c for r in ascending] == [1, 2]
    assert session.execute(f"SELECT COUNT(*) FROM {table} WHERE p = 'k1'").one().count == 2


def test_the_newest_timestamp_wins_per_cell_and_a_tombstone_wins_a_tie(session, table):
    row = f"SELECT v, w FROM {table} WHERE p = 'a' AND c = 1"
    insert = session.prepare(
        f"INSERT INTO {table} (p, c, v, w) VALUES ('a', 1, ?, ?) USING TIMESTAMP ?")
    session.execute(insert, (Decimal("5"), "five", 5))
    session.execute(insert, (Decimal("3"), "three", 3))
    assert session.execute(row).one() == (Decimal("5"), "five")
    session.execute(f"UPDATE {table} USING TIMESTAMP 7 SET w = 'seven' WHERE p = 'a' AND c = 1")
    assert session.execute(row).one() == (Decimal("5"), "seven")

    delete = session.prepare(f"DELETE FROM {table} USING TIMESTAMP ? WHERE p = 'a' AND c = 1")
    session.execute(delete, (6,))  # after v, before w
    assert session.execute(row).one() == (None, "seven")
    session.execute(delete, (7,))  # a tie: the tombstone wins
    assert session.execute(row).one() is None
    session.execute(insert, (Decimal("4"), "four", 7))  # shadowed by the tombstone
    assert session.execute(row).one() is None
    session.execute(insert, (Decimal("8"), "eight", 8))
    assert session.execute(row).one() == (Decimal("8"), "eight")


def test_a_ttl_expires_cells_on_the_emulators_clock(session, table, clock):
    session.execute(f"INSERT INTO {table} (p, c, w) VALUES ('a', 1, 'x') USING TTL 10")
    assert session.execute(f"SELECT w FROM {table} WHERE p = 'a'").one().w == "x"
    clock.now += 11
    assert session.execute(f"SELECT w FROM {table} WHERE p = 'a'").one() is None


def test_lightweight_transactions_answer_applied(session, table):
    insert = f"INSERT INTO {table} (p, c, w) VALUES ('a', 1, %s) IF NOT EXISTS"
    assert session.execute(insert, ("first",)).one()[0] is True
    refused = session.execute(insert, ("second",)).one()
    assert refused[0] is False and refused.w == "first"

    update = f"UPDATE {table} SET w = %s WHERE p = 'a' AND c = 1 IF w = %s"
    assert session.execute(update, ("third", "nope")).one()[0] is False
    assert session.execute(update, ("third", "first")).one()[0] is True
    assert session.execute(f"SELECT w FROM {table} WHERE p = 'a'").one().w == "third"


@pytest.mark.parametrize("kind", [BatchType.LOGGED, BatchType.UNLOGGED])
def test_a_batch_applies_whole_or_not_at_all(session, table, kind):
    insert = session.prepare(f"INSERT INTO {table} (p, c, w) VALUES (?, ?, ?)")
    batch = BatchStatement(batch_type=kind)
    batch.add(insert, ("a", 1, "one"))
    batch.add(SimpleStatement(f"UPDATE {table} SET w = 'two' WHERE p = 'b' AND c = 2"))
    batch.add(SimpleStatement(f"DELETE FROM {table} WHERE p = 'a' AND c = 3"))
    session.execute(batch)
    assert sorted(tuple(r) for r in session.execute(f"SELECT p, c, w FROM {table}")) == [
        ("a", 1, "one"), ("b", 2, "two")]

    bad = BatchStatement(batch_type=kind)
    bad.add(insert, ("c", 1, "never"))
    bad.add(SimpleStatement(f"INSERT INTO {table} (p, c, nope) VALUES ('c', 2, 1)"))
    with pytest.raises(InvalidRequest, match="nope"):
        session.execute(bad)
    assert session.execute(f"SELECT * FROM {table} WHERE p = 'c'").one() is None


@pytest.mark.parametrize(("statement", "error", "message"), [
    ("SELEC * FROM t", SyntaxException, "statement"),
    ("GRANT ALL ON KEYSPACE ks TO someone", SyntaxException, "statement"),
    ("SELECT * FROM t WHERE p = 'a' LIMIT", SyntaxException, "term"),
    ("SELECT * FROM missing WHERE p = 'a'", InvalidRequest, "unconfigured table"),
    ("SELECT nope FROM {table}", InvalidRequest, "nope"),
    ("SELECT * FROM {table} WHERE w = 'x'", InvalidRequest, "FILTERING"),
    ("INSERT INTO {table} (p, v) VALUES ('a', 1)", InvalidRequest, "c"),
    ("INSERT INTO {table} (p, c) VALUES ('a', 'one')", InvalidRequest, "Invalid literal"),
])
def test_bad_statements_get_an_error_and_the_session_lives_on(session, table, statement,
                                                              error, message):
    with pytest.raises(error, match=message):
        session.execute(statement.format(table=table))
    assert session.execute(f"SELECT COUNT(*) FROM {table}").one().count == 0


def test_creating_a_table_twice_says_it_exists(session, table):
    with pytest.raises(AlreadyExists):
        session.execute(f"CREATE TABLE {table} (p text PRIMARY KEY)")
    session.execute(f"CREATE TABLE IF NOT EXISTS {table} (p text PRIMARY KEY)")


def test_a_statement_the_node_forgot_is_prepared_again_by_the_driver(session, table, emulator):
    insert = session.prepare(f"INSERT INTO {table} (p, c, w) VALUES (?, ?, ?)")
    emulator.server.prepared.clear()  # as after a node's restart
    session.execute(insert, ("a", 1, "again"))
    assert session.execute(f"SELECT w FROM {table} WHERE p = 'a'").one().w == "again"


def test_it_runs_on_its_own_from_the_command_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "devtools.cql", "--port", str(port)],
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the emulator did not listen"
                time.sleep(0.05)
        cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4,
                          execution_profiles=profiles())
        try:
            assert cluster.connect().execute(
                "SELECT release_version FROM system.local WHERE key = 'local'").one()
        finally:
            cluster.shutdown()
    finally:
        process.terminate()
    assert process.wait(10) == 0  # SIGTERM stops it cleanly
