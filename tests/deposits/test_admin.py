"""The deposits admin: intents with their deliveries, the problems findable, and a manual
resolution that asks for a reason, credits through the service once, and is recorded."""
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission

from apps.deposits import services
from apps.deposits.models import DepositIntent
from apps.wallets.models import Journal, Wallet
from tests.deposits.test_services import payment, receive
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
INTENTS = "/admin/deposits/depositintent/"


@pytest.fixture
def staff(depositor):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def test_an_intent_shows_its_deliveries_and_cannot_be_edited(admin_client, intent):
    services.event_process(event_id=receive(payment(intent, amount="1")).pk)
    page = admin_client.get(f"{INTENTS}{intent.pk}/change/")
    assert page.status_code == 200
    assert b"UNDERPAID" in page.content or b"Underpaid" in page.content
    assert b"Paid 1 of 50 SGC." in page.content
    assert admin_client.post(f"{INTENTS}{intent.pk}/change/", {"status": "CONFIRMED"}
                             ).status_code == 403
    assert admin_client.get(f"{INTENTS}add/").status_code == 403
    problems = admin_client.get(INTENTS, {"problem": "yes"})
    assert str(intent.public_id).encode() in problems.content
    events = admin_client.get("/admin/deposits/depositevent/", {"verdict__exact": "UNDERPAID"})
    assert events.status_code == 200 and b"UNDERPAID" in events.content


def test_confirming_asks_for_a_reason_then_credits_once_and_records_who(admin_client, staff,
                                                                       intent):
    form = admin_client.post(INTENTS, {"action": "confirm", ACTION_CHECKBOX_NAME: [intent.pk]})
    assert form.status_code == 200 and b"reason" in form.content
    no_reason = admin_client.post(INTENTS, {"action": "confirm", "apply": "1", "reason": "",
                                            ACTION_CHECKBOX_NAME: [intent.pk]})
    assert no_reason.status_code == 200 and not Journal.objects.exists()
    for _ in range(2):  # submitted twice: the second is refused, nothing more credited
        done = admin_client.post(INTENTS, {"action": "confirm", "apply": "1",
                                           "reason": "paid on chain, webhook lost",
                                           "amount": "100",
                                           ACTION_CHECKBOX_NAME: [intent.pk]}, follow=True)
        assert done.status_code == 200
    assert b"already confirmed" in done.content
    intent.refresh_from_db()
    assert (intent.status, intent.resolved_by, intent.resolution_reason) == (
        "CONFIRMED", staff, "paid on chain, webhook lost")
    assert Journal.objects.filter(key=f"deposit:{intent.pk}").count() == 1
    assert Wallet.objects.get(user=intent.user, type="SPOT").balance == Decimal("100")
    page = admin_client.get(f"{INTENTS}{intent.pk}/change/")
    assert b"paid on chain, webhook lost" in page.content


def test_failing_records_the_reason_and_credits_nothing(admin_client, staff, intent):
    admin_client.post(INTENTS, {"action": "fail", "apply": "1", "reason": "sent to wrong chain",
                                ACTION_CHECKBOX_NAME: [intent.pk]})
    intent.refresh_from_db()
    assert (intent.status, intent.resolved_by, intent.resolution_reason) == (
        "FAILED", staff, "sent to wrong chain")
    assert not Journal.objects.exists()


def test_staff_without_the_change_permission_cannot_resolve(client, intent):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_depositintent"))
    client.force_login(viewer)
    assert client.get(INTENTS).status_code == 200
    client.post(INTENTS, {"action": "confirm", "apply": "1", "reason": "x", "amount": "1",
                          ACTION_CHECKBOX_NAME: [intent.pk]})
    assert DepositIntent.objects.get().status == "PENDING" and not Journal.objects.exists()


def test_confirming_shows_what_was_paid_and_credits_the_stated_amount(admin_client, staff,
                                                                      intent):
    services.event_process(event_id=receive(payment(intent, tx_hash="0xunderpaid01",
                                                    amount="30")).pk)
    form = admin_client.post(INTENTS, {"action": "confirm", ACTION_CHECKBOX_NAME: [intent.pk]})
    page = form.content.decode()
    assert "0xunderpaid01" in page and "Underpaid" in page
    assert 'id="paid">30' in page and 'id="suggested">60' in page  # 30 SGC at 2 USDT
    assert 'name="amount" value="60' in page  # the suggestion is the default
    above = admin_client.post(INTENTS, {"action": "confirm", "apply": "1", "amount": "100.01",
                                        "reason": "x", ACTION_CHECKBOX_NAME: [intent.pk]},
                              follow=True)
    assert b"more than the intent" in above.content and not Journal.objects.exists()
    admin_client.post(INTENTS, {"action": "confirm", "apply": "1", "amount": "59.5",
                                "reason": "short payment accepted, fee kept",
                                ACTION_CHECKBOX_NAME: [intent.pk]})
    intent.refresh_from_db()
    assert (intent.status, intent.credited_amount, intent.resolved_by) == (
        "CONFIRMED", Decimal("59.5"), staff)
    assert Wallet.objects.get(user=intent.user, type="SPOT").balance == Decimal("59.5")


def test_confirming_is_one_intent_at_a_time(admin_client, depositor, intent):
    other = services.intent_create(user_id=depositor.pk, amount=Decimal("5"))
    done = admin_client.post(INTENTS, {"action": "confirm", "apply": "1", "amount": "5",
                                       "reason": "x", ACTION_CHECKBOX_NAME: [intent.pk, other.pk]},
                             follow=True)
    assert b"one intent at a time" in done.content
    assert not Journal.objects.exists()
