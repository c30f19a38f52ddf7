"""Market-maker bot accounts: tagged, KYC-cleared for live venues once, never made of a
person's account."""
import pytest

from apps.accounts import selectors, services
from apps.accounts.models import AuditEvent, KycApplication, KycLevel
from apps.core.errors import Conflict
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_bot_account_is_tagged_and_may_trade_live_venues():
    person = UserFactory()
    bot_id = services.bot_account_ensure(username="mm-eco")
    assert selectors.bot_user_ids() == {bot_id}
    assert selectors.kyc_level(user_id=bot_id) == KycLevel.IDENTITY_REVIEWED
    services.kyc_require(user_id=bot_id, action=services.TRADE_LIVE)  # does not raise
    assert person.pk not in selectors.bot_user_ids()
    # Again: the same account, one application, one audit event.
    assert services.bot_account_ensure(username="mm-eco") == bot_id
    assert KycApplication.objects.filter(user_id=bot_id).count() == 1
    assert AuditEvent.objects.filter(kind="kyc_approved", object_id=str(
        KycApplication.objects.get(user_id=bot_id).pk)).count() == 1


def test_a_persons_account_is_never_made_a_bot():
    person = UserFactory(username="alice")
    with pytest.raises(Conflict):
        services.bot_account_ensure(username="alice")
    assert selectors.bot_user_ids() == set()
    assert not KycApplication.objects.filter(user=person).exists()
