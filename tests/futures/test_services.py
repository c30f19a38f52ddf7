"""The futures services one by one: fills exactly once and bad ones refused with nothing
written, flips, margin in and out, the mark, liquidation once, funding once."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.futures import selectors, services
from apps.futures.models import AppliedFill, FundingCharge, Liquidation, Position
from apps.futures.services import position_apply_fill
from apps.wallets import selectors as wallet_selectors
from apps.wallets.services import InsufficientFunds
from tests.factories import ContractFactory
from tests.futures.helpers import fill_pair, futures_trader, index_quote, wallet

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
def contract(currencies):
    return ContractFactory()


def buy(contract, user, amount="1", price="60000", key="k1", leverage=10, side="BUY"):
    return position_apply_fill(key=key, user_id=user.pk, contract_id=contract.pk, side=side,
                               amount=D(amount), price=D(price), fee_rate=D("0.0005"),
                               leverage=leverage, now=T0)


def test_a_fill_applies_once_and_a_different_replay_is_a_conflict(contract):
    alice = futures_trader()
    first = buy(contract, alice)
    assert buy(contract, alice).pk == first.pk
    with pytest.raises(Conflict) as other:
        buy(contract, alice, amount="2")
    assert other.value.code == "idempotency_conflict"
    assert wallet(alice) == (D("9970"), D("6000"))
    assert AppliedFill.objects.count() == 1
    buy(contract, futures_trader(), key="k1:s", side="SELL")  # the counterparty's fill
    assert wallet_selectors.reconcile() == []


@pytest.mark.parametrize(("change", "error"), [
    (dict(price="60000.001"), InvalidInput),  # off the tick
    (dict(amount="0.0005"), InvalidInput),  # off the lot
    (dict(amount="-1"), InvalidInput),
    (dict(leverage=0), InvalidInput),
    (dict(leverage=126), InvalidInput),
    (dict(leverage=True), InvalidInput),
    (dict(side="HOLD"), InvalidInput),
    (dict(amount="2", leverage=1), InsufficientFunds),  # 120,000 of margin
])
def test_a_bad_fill_changes_nothing(contract, change, error):
    alice = futures_trader()
    with pytest.raises(error):
        buy(contract, alice, **change)
    assert wallet(alice) == (D("10000"), 0)
    assert not AppliedFill.objects.exists()
    # refused input is refused before anything is written; a fill refused for its money
    # may leave the user's row, flat and empty (made before the fill's transaction)
    assert list(Position.objects.values_list("status", "size", "margin")) == (
        [] if error is InvalidInput else [("FLAT", 0, 0)])


def test_an_unknown_contract_is_not_found(contract):
    with pytest.raises(NotFound):
        position_apply_fill(key="k", user_id=futures_trader().pk, contract_id=contract.pk + 1,
                            side="BUY", amount=D(1), price=D(1), fee_rate=D(0), leverage=1)


def test_a_flip_closes_the_position_and_opens_a_new_generation(contract):
    alice = futures_trader()
    buy(contract, alice, amount="0.1", key="open")  # margin 600, fee 3
    fill = buy(contract, alice, amount="0.3", price="61000", key="flip", side="SELL")
    pos = Position.objects.get(user=alice)
    assert fill.realised_pnl == D(100)
    assert (pos.side, pos.size, pos.generation, pos.entry_price) == ("SHORT", D("0.2"), 2,
                                                                      D(61000))
    assert pos.margin == D(1220)  # 0.2 x 61,000 / 10
    # 10,000 - 3 (fee) + 100 (profit) - 9.15 (fee of 0.3 x 61,000)
    assert wallet(alice) == (D("10087.85"), D(1220))
    bob = futures_trader()  # the counterparty's fills
    buy(contract, bob, amount="0.1", key="open:s", side="SELL")
    buy(contract, bob, amount="0.3", price="61000", key="flip:b")
    assert wallet_selectors.reconcile() == []


def test_margin_added_and_removed_down_to_the_initial_margin_at_the_mark(contract):
    alice, bob = futures_trader(), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t", now=T0)
    pos = Position.objects.get(user=alice)
    before = pos.liquidation_price
    pos = services.position_margin_add(user_id=alice.pk, position_id=pos.pk, amount=D(1000),
                                       key="a1")
    services.position_margin_add(user_id=alice.pk, position_id=pos.pk, amount=D(1000),
                                 key="a1")  # a retry
    pos.refresh_from_db()
    assert pos.margin == D(7000) and pos.liquidation_price < before
    with pytest.raises(Conflict) as stale:  # no mark yet
        services.position_margin_remove(user_id=alice.pk, position_id=pos.pk, amount=D(1),
                                         key="r1")
    assert stale.value.code == "stale_mark"
    now = datetime.now(UTC)
    index_quote("59000", now=now)
    services.mark_refresh(contract=contract, now=now)
    # at 59,000: loss 1,000, initial margin 5,900: at most 7,000 - 1,000 - 5,900 = 100
    with pytest.raises(Conflict) as too_much:
        services.position_margin_remove(user_id=alice.pk, position_id=pos.pk,
                                        amount=D("100.01"), key="r2", now=now)
    assert too_much.value.code == "margin_below_initial" and "At most 100" in \
        too_much.value.message
    for _ in range(2):  # a retry replays
        services.position_margin_remove(user_id=alice.pk, position_id=pos.pk, amount=D(100),
                                         key="r3", now=now)
    pos.refresh_from_db()
    assert pos.margin == D(6900) and wallet(alice)[1] == D(6900)
    with pytest.raises(NotFound):
        services.position_margin_add(user_id=bob.pk, position_id=pos.pk, amount=D(1),
                                     key="b1")
    assert wallet_selectors.reconcile() == []


def test_the_index_is_the_median_of_fresh_sources_and_the_premium_is_bounded(contract):
    contract.index_sources = [{"venue": "spot", "symbol": "BTC/USDT"},
                              {"venue": "paper", "symbol": "BTC/USD"},
                              {"venue": "spot", "symbol": "BTC/USDC"}]
    contract.save()
    now = datetime.now(UTC)
    index_quote("60000", now=now)
    index_quote("60100", now=now, venue="paper", symbol="BTC/USD")
    index_quote("10", now=now - timedelta(seconds=11), symbol="BTC/USDC")  # stale: dropped
    tick = services.mark_compute(contract=contract, now=now)
    assert (tick.index, tick.premium, tick.mark) == (D(60050), 0, D(60050))
    assert [s["price"] for s in tick.evidence()["sources"]] == ["60000", "60100"]
    index_quote("70000", now=now, venue="futures")  # the last trade, 16.6 % above
    tick = services.mark_compute(contract=contract, now=now)
    assert (tick.premium, tick.mark) == (D("0.005"), D("60350.25"))
    contract.market.tick_size = D("0.5")  # a mark is a multiple of the tick
    assert str(services.mark_compute(contract=contract, now=now).mark) == "60350.0"
    assert services.mark_compute(contract=contract, now=now + timedelta(seconds=11)) is None


def test_a_liquidation_happens_once_and_a_rescued_position_is_spared(contract):
    alice, bob, carol = futures_trader(), futures_trader("100000"), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t1", now=T0)
    fill_pair(contract, buyer=carol, seller=bob, amount="1", price="60000", key="t2", now=T0)
    carol_pos = Position.objects.get(user=carol)
    services.position_margin_add(user_id=carol.pk, position_id=carol_pos.pk, amount=D(3000),
                                 key="c")
    now = datetime.now(UTC)
    index_quote("54000", now=now)
    tick = services.mark_refresh(contract=contract, now=now)
    (liquidation,) = Liquidation.objects.all()
    assert liquidation.position.user == alice
    assert services.position_liquidate(position_id=liquidation.position_id, tick=tick) is None
    assert services.position_liquidate(position_id=carol_pos.pk, tick=tick) is None
    assert services.liquidate_on_mark(tick=tick) == []
    assert Liquidation.objects.count() == 1 and wallet(alice) == (D(3970), 0)


def tick_at(contract, index, at, premium=None):
    """A mark tick at ``at`` on ``index`` (with ``premium`` from the premium source)."""

    class Fixed:
        def premium(self, *, contract, index, now):
            return D(premium)

    index_quote(index, now=at)
    previous = services.premium_source_set(Fixed()) if premium is not None else None
    try:
        return services.mark_refresh(contract=contract, now=at)
    finally:
        if previous is not None:
            services.premium_source_set(previous)


def charges_of(user) -> list[Decimal]:
    return list(FundingCharge.objects.filter(position__user=user)
                .order_by("funding__funding_time").values_list("amount", flat=True))


def test_funding_is_charged_once_per_stamp_on_the_size_at_the_stamp(contract):
    alice, bob, carol = (futures_trader() for _ in range(3))
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t1", now=T0)
    tick_at(contract, "60000", T0 + timedelta(minutes=30))  # the 08:00 interval's mark
    stamp = T0 + timedelta(hours=1)
    # After the stamp: alice adds 0.5 (carol sells it, opening): neither is charged on it.
    fill_pair(contract, buyer=alice, seller=carol, amount="0.5", price="60000", key="t2",
              now=stamp + timedelta(seconds=1))
    at = stamp + timedelta(seconds=5)
    tick_at(contract, "61000", at)  # the run's mark is not the stamp's
    (first,) = services.funding_run(contract_id=contract.pk, now=at)
    assert services.funding_run(contract_id=contract.pk, now=at + timedelta(minutes=5)) == []
    assert (first.funding_time, first.rate, first.mark) == (stamp, D("0.0001"), D(60000))
    charges = {user: (size, amount) for user, size, amount in
               FundingCharge.objects.values_list("position__user", "size", "amount")}
    assert charges == {alice.pk: (D(1), D(6)), bob.pk: (D(1), D(-6))}
    assert wallet(alice) == (D(10000 - 30 - 15 - 6), D(9000 - 6))
    assert wallet(bob)[0] == D(10000 - 30 + 6)
    preview = services.funding_preview(contract=contract, user_id=alice.pk, now=at)
    assert preview.funding_time == stamp + timedelta(hours=8)
    assert preview.amount == D("1.5") * D(61000) * D("0.0001")


def test_stamps_the_beat_missed_are_charged_once_each_at_their_own_rate_and_mark(contract):
    alice, bob = futures_trader(), futures_trader()
    fill_pair(contract, buyer=alice, seller=bob, amount="1", price="60000", key="t1", now=T0)
    tick_at(contract, "60000", T0 + timedelta(minutes=30), premium="0")  # until 08:00
    # Until 16:00: an average premium of 0.2 %, F = 0.002 - 0.0005; the last mark 62,186.
    tick_at(contract, "62000", T0 + timedelta(hours=3), premium="0.001")
    tick_at(contract, "62000", T0 + timedelta(hours=5), premium="0.003")
    # The beat was down from 07:00 to 17:00 (and the 00:00 stamp's interval had no tick).
    back = T0 + timedelta(hours=10)
    tick_at(contract, "62000", back)
    charged = services.funding_run(contract_id=contract.pk, now=back)
    assert [(f.funding_time.hour, f.rate, f.mark) for f in charged] == [
        (8, D("0.0001"), D(60000)), (16, D("0.0015"), D(62186))]
    assert services.funding_run(contract_id=contract.pk, now=back + timedelta(hours=1)) == []
    assert charges_of(alice) == [D(6), D("93.279")]  # 62,186 x 0.0015
    assert charges_of(bob) == [D(-6), D("-93.279")]


def test_a_large_premium_makes_the_capped_rate(contract):
    class Premium:
        def premium(self, *, contract, index, now):
            return D("0.004")

    contract.max_premium = D("0.01")
    contract.funding_rate_cap = D("0.003")
    contract.save()
    previous = services.premium_source_set(Premium())
    try:
        now = datetime.now(UTC)
        index_quote("60000", now=now)
        preview = services.funding_preview(contract=contract, user_id=None, now=now)
    finally:
        services.premium_source_set(previous)
    assert (preview.rate, preview.mark, preview.amount) == (D("0.003"), D(60240), None)


def test_a_mark_tick_is_streamed_on_mark_at_its_venue_and_symbol(contract, monkeypatch):
    from apps.marketdata import streams

    sent = []
    monkeypatch.setattr(streams, "send_to_group",
                        lambda group, message: sent.append((group, message)) or True)
    now = datetime.now(UTC)
    index_quote("60000", now=now)
    services.mark_refresh(contract=contract, now=now)
    marks = [message for _, message in sent if message["stream"] == "mark@futures:BTC/USDT"]
    assert marks and {(m["data"]["mark_price"], m["data"]["index_price"])
                      for m in marks} == {("60000", "60000")}
    assert services.mark_compute(contract=contract, now=now).mark == D(60000)
    assert selectors.latest_mark(contract=contract).price == D(60000)


@pytest.mark.django_db(transaction=True)
def test_a_first_fill_losing_a_deadlock_on_its_new_position_row_finds_the_row(
        currencies, monkeypatch):
    """Two workers' first fills of one user: one makes the flat row and, holding it, adds a
    fund position beside it in the same unique index; InnoDB may then choose the other's
    insert (its shared lock on the duplicate queued first) as the deadlock's victim. That
    insert, in autocommit, lost nothing but itself: it looks again (the row is there by
    then, or is made now) and the fill goes on."""
    from django.db import OperationalError

    from apps.futures.services.positions import ensure_position

    contract, alice = ContractFactory(), futures_trader("2500")
    create, lost = Position.objects.create, []

    def deadlocked_once(**fields):
        if not lost:
            lost.append(fields)
            raise OperationalError(1213, "Deadlock found when trying to get lock; "
                                         "try restarting transaction")
        return create(**fields)

    monkeypatch.setattr(Position.objects, "create", deadlocked_once)
    ensure_position(user_id=alice.pk, contract=contract)
    assert lost and Position.objects.filter(user=alice, contract=contract).count() == 1
