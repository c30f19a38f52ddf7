"""The order state machine every venue shares."""
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.trading.constants import (
    FINAL_STATUSES,
    HELD_BACK_STATUSES,
    LIVE_STATUSES,
    RESTING_STATUSES,
    TRANSITIONS,
    VENUE_WALLET_TYPE,
    OrderStatus,
    Venue,
    can_transition,
)

S = OrderStatus


def reachable(start: str) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for nxt in TRANSITIONS[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_has_its_exits_listed_and_exits_are_statuses():
    assert set(TRANSITIONS) == set(S.values)
    assert all(set(nexts) <= set(S.values) for nexts in TRANSITIONS.values())


def test_final_states_are_exactly_the_outcomes_and_have_no_exits():
    assert FINAL_STATUSES == {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}
    for status in FINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()
        assert not any(can_transition(status, other) for other in S.values)


@pytest.mark.parametrize("status", sorted(LIVE_STATUSES | {S.UNKNOWN}))
def test_every_live_order_can_still_fill_or_be_cancelled(status):
    assert {S.FILLED, S.CANCELED} <= reachable(status)


def test_only_an_order_the_venue_has_not_seen_goes_to_new_and_resting_orders_are_live():
    # A triggered conditional order, or a bracket's exit once its entry filled, is sent
    # to an asynchronous venue as NEW; nothing the venue has seen goes back.
    assert {s for s, nexts in TRANSITIONS.items() if S.NEW in nexts} == HELD_BACK_STATUSES
    assert HELD_BACK_STATUSES == {S.PENDING, S.WAITING} and HELD_BACK_STATUSES <= LIVE_STATUSES
    assert set(RESTING_STATUSES) <= LIVE_STATUSES
    assert not LIVE_STATUSES & FINAL_STATUSES and S.UNKNOWN not in LIVE_STATUSES
    assert not HELD_BACK_STATUSES & set(RESTING_STATUSES)


def test_a_waiting_exit_becomes_a_pending_or_resting_order_or_ends_and_never_fills_as_is():
    assert TRANSITIONS[S.WAITING] == {S.PENDING, S.OPEN, S.NEW, S.CANCELED, S.REJECTED}
    assert TRANSITIONS[S.PENDING] == {S.NEW, S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.EXPIRED,
                                      S.REJECTED, S.CANCELED}


def test_a_venue_that_does_not_answer_can_leave_any_order_it_has_unknown_and_it_resolves():
    # UNKNOWN is reachable from every live state the venue has seen, and leads to every
    # outcome (which one, only the venue's answer says: see test_services' asynchronous
    # venue tests).
    assert all(S.UNKNOWN in TRANSITIONS[status] for status in LIVE_STATUSES - HELD_BACK_STATUSES)
    assert not any(S.UNKNOWN in TRANSITIONS[status] for status in HELD_BACK_STATUSES)
    assert TRANSITIONS[S.UNKNOWN] >= FINAL_STATUSES | set(RESTING_STATUSES)


@given(st.lists(st.sampled_from(S.values), max_size=30))
def test_a_walk_that_only_takes_allowed_steps_never_leaves_a_final_state(steps):
    status = S.NEW
    for wanted in steps:
        if can_transition(status, wanted):
            assert status not in FINAL_STATUSES
            status = wanted
    assert status in reachable(S.NEW)


def test_each_venue_trades_from_its_own_wallet_type():
    assert set(VENUE_WALLET_TYPE) == set(Venue.values)
    assert len(set(VENUE_WALLET_TYPE.values())) == len(Venue.values)
    assert VENUE_WALLET_TYPE[Venue.PAPER] == "PAPER"
