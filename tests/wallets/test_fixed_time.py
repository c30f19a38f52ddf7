"""settle_fixed_time: one journal per trade outcome, against the house of its money."""
from decimal import Decimal as D

import pytest

from apps.core.errors import Conflict, InvalidInput
from apps.wallets import selectors, services
from apps.wallets.models import Journal, Wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def staked(user, currencies):
    """``user`` with 100 USD in SPOT, 10 of it held as a fixed-time stake."""
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USD", amount=D("100"),
                     key="seed")
    services.hold_create(user_id=user.pk, wallet_type="SPOT", currency="USD", amount=D("10"),
                         key="ft:1")
    return user


def _settle(user, payout, *, key="ft:1:settle", wallet_type="SPOT"):
    return services.settle_fixed_time(key=key, user_id=user.pk, wallet_type=wallet_type,
                                      currency="USD", hold_key="ft:1", stake=D("10"),
                                      payout=payout)


def _house(system):
    return selectors.system_balance(system=system, wallet_type="SPOT", currency="USD")


@pytest.mark.parametrize(("payout", "balance", "house"), [
    (D("0"), D("90"), D("10")),        # loss: the stake goes to the house
    (D("10"), D("100"), D("0")),       # draw or void: the stake comes back
    (D("18.50"), D("108.50"), D("-8.50")),  # win at 85%: the house pays the profit
])
def test_an_outcome_pays_out_of_the_hold_and_closes_it(staked, payout, balance, house):
    _settle(staked, payout)
    wallet = Wallet.objects.get(user=staked, type="SPOT", currency_id="USD")
    assert (wallet.balance, wallet.held) == (balance, 0)
    assert _house("FIXED_TIME_HOUSE") == house
    assert selectors.reconcile() == []


def test_a_replay_pays_once_and_another_payout_under_the_key_is_a_conflict(staked):
    first = _settle(staked, D("18.50"))
    assert _settle(staked, D("18.50")).pk == first.pk
    with pytest.raises(Conflict) as exc:
        _settle(staked, D("0"))
    assert exc.value.code == "idempotency_conflict"
    assert Journal.objects.filter(kind="FIXED_TIME").count() == 1
    assert Wallet.objects.get(user=staked, type="SPOT").balance == D("108.50")


@pytest.mark.parametrize("payout", [D("-1"), D("1.001"), D("NaN")])
def test_a_bad_payout_writes_nothing(staked, payout):
    with pytest.raises(InvalidInput):
        _settle(staked, payout)
    assert not Journal.objects.filter(kind="FIXED_TIME").exists()


def test_demo_money_is_paid_by_the_paper_house_only(user, currencies):
    services.grant_paper_funds(user_id=user.pk, currency="USD", amount=D("50"), key="grant")
    services.hold_create(user_id=user.pk, wallet_type="PAPER", currency="USD", amount=D("10"),
                         key="ft:1")
    _settle(user, D("0"), wallet_type="PAPER")
    assert selectors.system_balance(system="PAPER_FIXED_TIME_HOUSE", wallet_type="PAPER",
                                    currency="USD") == D("10")
    assert services.fixed_time_house("SPOT") == "FIXED_TIME_HOUSE"
    # The demo house can never pay into a real wallet.
    with pytest.raises(InvalidInput) as exc:
        services.post(key="x", kind="FIXED_TIME", legs=[
            services.Leg("SPOT", "USD", D("-1"), system="PAPER_FIXED_TIME_HOUSE"),
            services.Leg("SPOT", "USD", D("1"), user_id=user.pk)])
    assert exc.value.code == "paper_separation"
