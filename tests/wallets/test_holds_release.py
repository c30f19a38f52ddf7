"""holds_release: several holds released in one transaction, each once."""
from decimal import Decimal

import pytest

from apps.core.errors import NotFound
from apps.wallets import services
from apps.wallets.models import Hold, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def test_each_hold_is_released_in_full_once_and_an_unknown_key_changes_nothing(currencies):
    users = [UserFactory(), UserFactory()]
    for i, user in enumerate(users):
        services.deposit(user_id=user.pk, wallet_type="ECO", currency="USDT", amount=D("100"),
                         key=f"d{i}")
        services.hold_create(user_id=user.pk, wallet_type="ECO", currency="USDT",
                             amount=D("40"), key=f"h{i}")
    services.hold_release(key="h1", amount=D("15"))
    with pytest.raises(NotFound):
        services.holds_release(keys=["h0", "nope"])
    assert Hold.objects.get(key="h0").remaining == D("40")
    services.holds_release(keys=["h1", "h0"])
    services.holds_release(keys=["h0"])  # a replay releases nothing more
    assert set(Hold.objects.values_list("key", "remaining", "status")) == {
        ("h0", D(0), Hold.Status.CLOSED), ("h1", D(0), Hold.Status.CLOSED)}
    assert [w.held for w in Wallet.objects.filter(user__in=users).order_by("user_id")] == [
        D(0), D(0)]
