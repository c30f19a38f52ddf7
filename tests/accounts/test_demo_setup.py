"""manage.py demo_setup: the demo users, the trader funded and identity-reviewed (the
internal markets are live venues), once however often it runs."""
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts import selectors, services
from apps.accounts.models import KycApplication, KycLevel

pytestmark = pytest.mark.django_db


def test_the_demo_trader_may_trade_live_venues_after_one_run_or_two(settings, tmp_path,
                                                                       currencies):
    settings.DEBUG = True
    settings.KYC_DOCUMENTS_ROOT = str(tmp_path)
    call_command("demo_setup", stdout=io.StringIO())
    call_command("demo_setup", stdout=io.StringIO())
    trader = get_user_model().objects.get(username="trader")
    assert selectors.kyc_level(user_id=trader.pk) == KycLevel.IDENTITY_REVIEWED
    services.kyc_require(user_id=trader.pk, action=services.TRADE_LIVE)  # does not raise
    [application] = KycApplication.objects.filter(user=trader)
    assert application.decided_by.username == "admin"
