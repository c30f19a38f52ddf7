"""Seeded long runs: the fast book against the reference, and lots conserved throughout."""

from __future__ import annotations

import pytest

from apps.matching import StpMode
from tests.matching.commands import random_commands
from tests.matching.helpers import Twin, assert_gapless, conservation, spec


def _run(seed: int, count: int, mode: StpMode, check_every: int) -> Twin:
    twin = Twin(spec(mode))
    for i, (command, kwargs) in enumerate(random_commands(seed, count, twin.fast.__contains__)):
        twin.do(command, **kwargs)
        if i % check_every == 0:
            twin.check_books()
    twin.check_books()
    resting = sum(o.qty for o in twin.fast.open_orders())
    placed, accounted = conservation(twin.events, resting)
    assert placed == accounted
    assert_gapless(twin.events)
    return twin


@pytest.mark.parametrize("mode", list(StpMode))
def test_5k_operations_per_stp_mode_match_the_reference(mode: StpMode) -> None:
    twin = _run(seed=20_000 + mode, count=5_000, mode=mode, check_every=250)
    assert len(twin.fast) > 0


def test_20k_operations_match_the_reference_and_conserve_quantity() -> None:
    twin = _run(seed=7, count=20_000, mode=StpMode.CANCEL_MAKER, check_every=1_000)
    kinds = {type(e).__name__ for e in twin.events}
    # The stream must have exercised every kind of event for the run to mean anything.
    assert kinds == {"Accepted", "Rejected", "Trade", "Cancelled", "Reduced", "Replaced",
                     "BookChanged"}


@pytest.mark.slow
def test_1m_operations_match_the_reference() -> None:
    _run(seed=1_000_000, count=1_000_000, mode=StpMode.CANCEL_BOTH, check_every=50_000)
