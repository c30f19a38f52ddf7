"""The SQL backend on a real MariaDB: writers racing (threads with their own connections
write the same orders' states at once), and values the columns cannot hold."""
from __future__ import annotations

import random
import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction

from apps.orderstore.records import OPEN_STATUSES
from apps.orderstore.sql import SqlInternalOrderStore
from tests.factories import OrderRecordFactory, TradeRecordFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
STATUSES = ["OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELED"]


def in_thread(work, errors: list) -> threading.Thread:
    def target():
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_racing_writers_end_in_the_newest_states_without_deadlock():
    rng = random.Random(13)
    store = SqlInternalOrderStore()
    histories = {}
    for order_id in range(1, 31):
        record = OrderRecordFactory(order_id=order_id)
        history = [record]
        for _ in range(5):
            record = replace(record, version=record.version + 1, status=rng.choice(STATUSES))
            history.append(record)
        histories[order_id] = history
    every_state = [state for history in histories.values() for state in history]

    def writer(seed: int):
        def write():
            states = random.Random(seed).sample(every_state, len(every_state))
            for start in range(0, len(states), 9):
                store.put_orders(records=states[start:start + 9])
        return write

    errors: list = []
    for thread in [in_thread(writer(seed), errors) for seed in range(6)]:
        thread.join(60)
    assert errors == []

    newest = {order_id: history[-1] for order_id, history in histories.items()}
    for order_id, record in newest.items():
        assert store.order(venue="ecosystem", order_id=order_id) == record
    assert store.open_orders(venue="ecosystem", market="ABC/USDT") == [
        record for record in newest.values() if record.status in OPEN_STATUSES]


def test_a_writer_whose_snapshot_predates_the_insert_still_writes_its_newer_state():
    store = SqlInternalOrderStore()
    older = OrderRecordFactory()
    newer = replace(older, version=2, status="CANCELED")
    reading, inserted = threading.Event(), threading.Event()

    def late_writer():
        with connection.cursor() as cursor:  # a host on MariaDB's default isolation
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with transaction.atomic():
            assert store.order(venue="ecosystem", order_id=older.order_id) is None
            reading.set()
            inserted.wait(20)
            store.put_orders(records=[newer])

    errors: list = []
    thread = in_thread(late_writer, errors)
    reading.wait(20)
    store.put_orders(records=[older])
    inserted.set()
    thread.join(30)

    assert errors == []
    assert store.order(venue="ecosystem", order_id=older.order_id) == newer


def test_a_value_a_column_cannot_hold_is_refused_never_clipped():
    store = SqlInternalOrderStore()
    with pytest.raises(DataError):
        store.put_trades(records=[TradeRecordFactory(amount=Decimal("1e19"))])
    with pytest.raises(DataError):
        store.put_orders(records=[OrderRecordFactory(cost=Decimal("-1e19"))])
    assert store.market_trades(venue="ecosystem", market="ABC/USDT").items == []
    assert store.user_orders(venue="ecosystem", user_id=7).items == []
