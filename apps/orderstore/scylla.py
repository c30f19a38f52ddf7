"""The ScyllaDB backend of ``InternalOrderStore`` (``base``'s contract), through
cassandra-driver.

Tables (``cql/0001_initial.cql``), one per query, each row a full copy of the order's
state: ``orders`` (by venue and id), ``orders_by_user`` and ``open_orders_by_user``
(a user's partition, newest id first), ``open_orders_by_market`` (a market's partition,
ascending id) and ``trades_by_market`` (newest ``seq`` first, one partition per market and
bucket of 65,536 sequence numbers, the non-empty buckets listed in ``trade_buckets``).

Versions, not LWT. Every order write carries ``USING TIMESTAMP <version>``, the engine's
command sequence that produced the state: Scylla's per-cell last-write-wins then keeps the
newest state whatever order the writes arrive in, and a replay of an older state is
shadowed. An order leaving the open set is deleted from the ``open_*`` tables with the
same timestamp, and that tombstone shadows any replayed older insert (a closed order is
never resurrected there). A lightweight transaction (``IF version < ?``) would do the
same with a Paxos round per write (4 round trips, serialised per partition) and would
still need a separate idempotent delete; plain timestamped writes are one round trip,
commute, and can be retried blindly (every statement is ``is_idempotent``). Two
conditions keep this true: nothing writes these tables without ``USING TIMESTAMP`` (a
server-time write would win forever), and a replay arrives within the tables'
``gc_grace_seconds`` (10 days by default), before the tombstones it must meet are purged.

Writes go out concurrently (``execute_concurrent``), the trades of one market in
unlogged batches of one partition (atomic and isolated per partition, one round trip);
nothing relies on a batch being atomic across partitions. Consistency is explicit on
every statement (``SCYLLA_WRITE_CONSISTENCY``/``SCYLLA_READ_CONSISTENCY``, LOCAL_QUORUM
by default). A ``Cluster`` and its ``Session`` are created on first use in each process
(keyed by pid): a driver's sockets and threads do not survive a fork, and a child never
touches its parent's (closing them there would close the parent's connections too).
Times are stored as microseconds since the epoch (CQL's ``timestamp`` keeps
milliseconds); ``decimal`` columns are exact.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.concurrent import execute_concurrent
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import (
    BatchStatement,
    BatchType,
    PreparedStatement,
    SimpleStatement,
    dict_factory,
)

from apps.core import conf
from apps.orderstore.base import Page, check_limit, decode_page, newest, page_of
from apps.orderstore.records import OrderRecord, TradeRecord

# Column names in OrderRecord's field order ("type" is a CQL keyword in places).
_ORDER_COLUMNS = ("venue", "market", "order_id", "user_id", "client_order_id", "side",
                  "order_type", "time_in_force", "post_only", "price", "amount", "filled",
                  "remaining", "cost", "fee", "fee_currency", "status", "reason",
                  "created_at", "updated_at", "version")
_TRADE_COLUMNS = ("venue", "market", "trade_id", "seq", "price", "amount", "taker_side",
                  "maker_order_id", "taker_order_id", "maker_user_id", "taker_user_id",
                  "maker_fee", "taker_fee", "executed_at", "bot")
_ORDER_TIMES = {_ORDER_COLUMNS.index("created_at"), _ORDER_COLUMNS.index("updated_at")}
_TRADE_TIME = _TRADE_COLUMNS.index("executed_at")
# seq >> _BUCKET_BITS: a market's trades partition (cql/0001_initial.cql says why).
_BUCKET_BITS = 16
_ORDER_TABLES = ("orders", "orders_by_user", "open_orders_by_user", "open_orders_by_market")
# A key range's open end: every id and seq is below it.
_BEYOND = 2**63 - 1
# Trades per unlogged batch (one partition): well under Scylla's 5 KiB batch warning.
_TRADES_PER_BATCH = 20
_CONCURRENCY = 64
# Buckets listed per round trip when a trades page walks them (most pages read one or two).
_BUCKETS_PER_READ = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_ORDER_LIST = ", ".join(_ORDER_COLUMNS)
_TRADE_LIST = ", ".join(_TRADE_COLUMNS)
# Built from the constant names above only (no input reaches a statement's text).
_STATEMENTS = {
    **{f"put_{table}": f"INSERT INTO {table} ({_ORDER_LIST}) VALUES "  # noqa: S608
       f"({', '.join('?' * len(_ORDER_COLUMNS))}) USING TIMESTAMP ?" for table in _ORDER_TABLES},
    "close_user": "DELETE FROM open_orders_by_user USING TIMESTAMP ? "
                  "WHERE venue = ? AND user_id = ? AND order_id = ?",
    "close_market": "DELETE FROM open_orders_by_market USING TIMESTAMP ? "
                    "WHERE venue = ? AND market = ? AND order_id = ?",
    "put_trade": f"INSERT INTO trades_by_market ({_TRADE_LIST}, bucket) VALUES "  # noqa: S608
                 f"({', '.join('?' * len(_TRADE_COLUMNS))}, ?)",
    "put_bucket": "INSERT INTO trade_buckets (venue, market, bucket) VALUES (?, ?, ?)",
    "buckets": "SELECT bucket FROM trade_buckets WHERE venue = ? AND market = ? AND bucket <= ?",
    "order": f"SELECT {_ORDER_LIST} FROM orders WHERE venue = ? AND order_id = ?",  # noqa: S608
    "user_orders": f"SELECT {_ORDER_LIST} FROM orders_by_user "  # noqa: S608
                   "WHERE venue = ? AND user_id = ? AND order_id < ? LIMIT ?",
    "user_open_orders": f"SELECT {_ORDER_LIST} FROM open_orders_by_user "  # noqa: S608
                        "WHERE venue = ? AND user_id = ? AND order_id < ? LIMIT ?",
    "open_orders": f"SELECT {_ORDER_LIST} FROM open_orders_by_market "  # noqa: S608
                   "WHERE venue = ? AND market = ?",
    "market_trades": f"SELECT {_TRADE_LIST} FROM trades_by_market "  # noqa: S608
                     "WHERE venue = ? AND market = ? AND bucket = ? AND seq < ? LIMIT ?",
}
_WRITES = {name for name in _STATEMENTS if name.startswith(("put_", "close_"))}


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


class ScyllaOrderStore:
    """Orders and trades of the internal markets in a ScyllaDB (or Cassandra) keyspace.

    ``cluster_options`` are passed on to ``cassandra.cluster.Cluster`` (a test may turn
    the driver's metadata refreshes off, for instance)."""

    def __init__(self, *, hosts: Sequence[str], port: int, keyspace: str,
                 write_consistency: str = "LOCAL_QUORUM", read_consistency: str = "LOCAL_QUORUM",
                 local_dc: str = "", request_timeout: float = 10.0, username: str = "",
                 password: str = "", page_size: int = 1000,
                 cluster_options: dict[str, Any] | None = None) -> None:
        self.keyspace = keyspace
        self._hosts, self._port = list(hosts), port
        self.write_consistency = ConsistencyLevel.name_to_value[write_consistency]
        self.read_consistency = ConsistencyLevel.name_to_value[read_consistency]
        self._local_dc, self._timeout = local_dc or None, request_timeout
        self._auth = PlainTextAuthProvider(username, password) if username else None
        self._page_size = page_size
        self._options = dict(cluster_options or {})
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._prepared: dict[str, PreparedStatement] = {}

    @classmethod
    def from_settings(cls) -> ScyllaOrderStore:
        return cls(hosts=conf.SCYLLA_HOSTS, port=conf.SCYLLA_PORT, keyspace=conf.SCYLLA_KEYSPACE,
                   write_consistency=conf.SCYLLA_WRITE_CONSISTENCY,
                   read_consistency=conf.SCYLLA_READ_CONSISTENCY, local_dc=conf.SCYLLA_LOCAL_DC,
                   request_timeout=conf.SCYLLA_REQUEST_TIMEOUT_SECONDS,
                   username=conf.SCYLLA_USERNAME, password=conf.SCYLLA_PASSWORD)

    # -- connection (per process) ----------------------------------------------------------

    def cluster(self) -> Cluster:
        """This process's ``Cluster`` (created on first use after a fork)."""
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    # A parent's driver objects are dropped, never shut down, in a child.
                    self._session, self._prepared = None, {}
                    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=self._local_dc))
                    profile = ExecutionProfile(load_balancing_policy=policy,
                                               request_timeout=self._timeout,
                                               consistency_level=self.read_consistency,
                                               row_factory=dict_factory)
                    self._cluster = Cluster(
                        self._hosts, port=self._port, protocol_version=4,
                        auth_provider=self._auth,
                        execution_profiles={EXEC_PROFILE_DEFAULT: profile}, **self._options)
                    self._pid = pid
        assert self._cluster is not None
        return self._cluster

    def _connect(self) -> tuple[Session, dict[str, PreparedStatement]]:
        cluster = self.cluster()
        if self._session is None:
            with self._lock:
                if self._session is None:
                    session = cluster.connect(self.keyspace)
                    prepared = {}
                    for name, text in _STATEMENTS.items():
                        statement = session.prepare(text)
                        statement.is_idempotent = True
                        statement.consistency_level = (
                            self.write_consistency if name in _WRITES else self.read_consistency)
                        prepared[name] = statement
                    self._prepared, self._session = prepared, session
        return self._session, self._prepared

    def close(self) -> None:
        """Shut this process's connections down (a child's inherited ones are left)."""
        with self._lock:
            if self._cluster is not None and self._pid == os.getpid():
                self._cluster.shutdown()
            self._cluster, self._session, self._prepared, self._pid = None, None, {}, None

    # -- writes ----------------------------------------------------------------------------

    def put_orders(self, *, records: Sequence[OrderRecord]) -> None:
        """Four idempotent timestamped writes per order, sent concurrently; raises the
        first driver error (replay the batch). See ``InternalOrderStore``."""
        session, prepared = self._connect()
        work: list[tuple[PreparedStatement, tuple[Any, ...]]] = []
        for record in newest(records):
            row = _order_row(record)
            version = record.version
            work += [(prepared["put_orders"], (*row, version)),
                     (prepared["put_orders_by_user"], (*row, version))]
            if record.is_open:
                work += [(prepared["put_open_orders_by_user"], (*row, version)),
                         (prepared["put_open_orders_by_market"], (*row, version))]
            else:
                work += [(prepared["close_user"],
                          (version, record.venue, record.user_id, record.order_id)),
                         (prepared["close_market"],
                          (version, record.venue, record.market, record.order_id))]
        if work:
            execute_concurrent(session, work, concurrency=_CONCURRENCY, raise_on_first_error=True)

    def put_trades(self, *, records: Sequence[TradeRecord]) -> None:
        """Unlogged batches of one partition's trades (a market's bucket), and each
        bucket's row in ``trade_buckets``, sent concurrently; raises the first driver
        error (replay the batch: a bucket listed before its trades land is read as
        empty, never wrong). See ``InternalOrderStore``."""
        session, prepared = self._connect()
        by_partition: dict[tuple[str, str, int], list[TradeRecord]] = {}
        for record in records:
            key = (record.venue, record.market, record.seq >> _BUCKET_BITS)
            by_partition.setdefault(key, []).append(record)
        work: list[tuple[Any, Any]] = []
        for (venue, market, bucket), trades in by_partition.items():
            work.append((prepared["put_bucket"], (venue, market, bucket)))
            for start in range(0, len(trades), _TRADES_PER_BATCH):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED,
                                       consistency_level=self.write_consistency)
                batch.is_idempotent = True
                for trade in trades[start:start + _TRADES_PER_BATCH]:
                    batch.add(prepared["put_trade"], (*_trade_row(trade), bucket))
                work.append((batch, None))
        if work:
            execute_concurrent(session, work, concurrency=_CONCURRENCY,
                               raise_on_first_error=True)

    # -- reads -----------------------------------------------------------------------------

    def order(self, *, venue: str, order_id: int) -> OrderRecord | None:
        session, prepared = self._connect()
        row = session.execute(prepared["order"], (venue, order_id)).one()
        return None if row is None else _order(row)

    def user_orders(self, *, venue: str, user_id: int, open_only: bool = False,
                    limit: int = 50, page: str | None = None) -> Page[OrderRecord]:
        check_limit(limit)
        after = decode_page("o", page)
        session, prepared = self._connect()
        statement = prepared["user_open_orders" if open_only else "user_orders"]
        rows = session.execute(statement, (venue, user_id,
                                           _BEYOND if after is None else after, limit + 1))
        found = [_order(row) for row in rows]
        return page_of(found, limit=limit, kind="o", key=lambda record: record.order_id)

    def open_orders(self, *, venue: str, market: str) -> list[OrderRecord]:
        session, prepared = self._connect()
        bound = prepared["open_orders"].bind((venue, market))
        # The driver pages through the partition, page_size rows per round trip.
        bound.fetch_size = self._page_size
        return [_order(row) for row in session.execute(bound)]

    def market_trades(self, *, venue: str, market: str, limit: int = 50,
                      page: str | None = None) -> Page[TradeRecord]:
        """Reads the market's buckets newest first (lazily, a few per round trip) and
        each one's trades below the page's key until one more than a page is found."""
        check_limit(limit)
        after = decode_page("t", page)
        below = _BEYOND if after is None else after
        session, prepared = self._connect()
        buckets = prepared["buckets"].bind((venue, market, (below - 1) >> _BUCKET_BITS))
        buckets.fetch_size = _BUCKETS_PER_READ
        found: list[TradeRecord] = []
        for row in session.execute(buckets):
            found += [_trade(trade) for trade in session.execute(
                prepared["market_trades"],
                (venue, market, row["bucket"], below, limit + 1 - len(found)))]
            if len(found) > limit:
                break
        return page_of(found, limit=limit, kind="t", key=lambda record: record.seq)


def _order_row(record: OrderRecord) -> tuple[Any, ...]:
    return tuple(_micros(value) if index in _ORDER_TIMES else value
                 for index, value in enumerate(astuple(record)))


def _trade_row(record: TradeRecord) -> tuple[Any, ...]:
    return tuple(_micros(value) if index == _TRADE_TIME else value
                 for index, value in enumerate(astuple(record)))


def _order(row: dict[str, Any]) -> OrderRecord:
    values = [row[column] for column in _ORDER_COLUMNS]
    for index in _ORDER_TIMES:
        values[index] = _moment(values[index])
    return OrderRecord(*values)


def _trade(row: dict[str, Any]) -> TradeRecord:
    values = [row[column] for column in _TRADE_COLUMNS]
    values[_TRADE_TIME] = _moment(values[_TRADE_TIME])
    return TradeRecord(*values)


# -- schema ----------------------------------------------------------------------------------

def schema_files() -> list[tuple[str, str]]:
    """(version, CQL text) of every ``cql/NNNN_*.cql`` file, in version order."""
    found = [(entry.name.removesuffix(".cql"), entry.read_text(encoding="utf-8"))
             for entry in resources.files("apps.orderstore").joinpath("cql").iterdir()
             if entry.name.endswith(".cql")]
    return sorted(found)


def cql_statements(text: str) -> list[str]:
    """The statements of a CQL file: ``--`` comments dropped, split on ``;`` (the schema
    files keep both out of their string literals)."""
    lines = [line.split("--", 1)[0] for line in text.splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";")
            if statement.strip()]


def migrate(*, store: ScyllaOrderStore, replication: str) -> list[str]:
    """Create the keyspace (``replication``, a CQL map) if it is missing, then apply the
    schema files not yet recorded in its ``schema_migrations`` table, in order, each
    recorded once all its statements succeeded (they are all ``IF NOT EXISTS``, so a
    file interrupted half-way is applied again safely). Returns the versions applied.
    Waits for schema agreement after each DDL statement (the driver does). Run it from
    one process at a time (``manage.py orderstore_migrate``)."""
    session = store.cluster().connect()
    try:
        session.execute(f"CREATE KEYSPACE IF NOT EXISTS {store.keyspace} "
                        f"WITH replication = {replication}")
        session.set_keyspace(store.keyspace)
        session.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version text PRIMARY KEY, applied_at bigint)")
        applied = {row["version"] for row in session.execute(SimpleStatement(
            "SELECT version FROM schema_migrations",
            consistency_level=store.read_consistency))}
        done = []
        for version, text in schema_files():
            if version in applied:
                continue
            for statement in cql_statements(text):
                session.execute(statement)
            session.execute(SimpleStatement(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                consistency_level=store.write_consistency), (version, _micros(datetime.now(UTC))))
            done.append(version)
        return done
    finally:
        session.shutdown()
