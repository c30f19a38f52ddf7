from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from apps.core.crypto import decrypt_secret
from apps.marketdata.services import publish
from apps.twelvedata import services
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdOrder, TwdProvider
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_provider_key_is_stored_encrypted_and_tested(admin_client, provider, emulator):
    url = f"/admin/twelvedata/twdprovider/{provider.pk}/change/"
    response = admin_client.post(url, {"name": "twelvedata", "title": "TwelveData",
                                        "status": "on", "api_key": "wrong-key"})
    assert response.status_code == 302
    provider.refresh_from_db()
    assert "wrong-key" not in provider.api_key_encrypted
    assert decrypt_secret(provider.api_key_encrypted) == "wrong-key"
    failed = admin_client.post("/admin/twelvedata/twdprovider/", {
        "action": "test_connection", ACTION_CHECKBOX_NAME: [provider.pk]}, follow=True)
    assert any("request failed" in m for m in messages_of(failed))
    admin_client.post(url, {"name": "twelvedata", "title": "TwelveData", "status": "on",
                            "api_key": emulator.apikey})
    ok = admin_client.post("/admin/twelvedata/twdprovider/", {
        "action": "test_connection", ACTION_CHECKBOX_NAME: [provider.pk]}, follow=True)
    assert any("connected (22 forex pairs)" in m for m in messages_of(ok))
    # An empty key field keeps the stored key.
    admin_client.post(url, {"name": "twelvedata", "title": "TwelveData", "status": "on",
                            "api_key": ""})
    provider.refresh_from_db()
    assert decrypt_secret(provider.api_key_encrypted) == emulator.apikey


def test_market_list_filters_and_bulk_flags(admin_client, markets):
    page = admin_client.get("/admin/twelvedata/twdmarket/?type__exact=stocks&q=Apple")
    assert page.status_code == 200 and b"AAPL" in page.content and b"EUR/USD" not in page.content
    assert b"Import instruments" in page.content
    ids = list(TwdMarket.objects.filter(symbol__in=["GBP/USD", "MSFT"]).values_list("pk",
                                                                                    flat=True))
    for action in ("enable", "mark_trending", "mark_hot"):
        admin_client.post("/admin/twelvedata/twdmarket/", {"action": action,
                                                           ACTION_CHECKBOX_NAME: ids})
    flagged = TwdMarket.objects.filter(pk__in=ids)
    assert all(m.status and m.is_trending and m.is_hot for m in flagged)
    admin_client.post("/admin/twelvedata/twdmarket/", {"action": "disable",
                                                       ACTION_CHECKBOX_NAME: ids})
    assert not TwdMarket.objects.filter(pk__in=ids, status=True).exists()
    assert admin_client.get("/admin/twelvedata/twdmarket/add/").status_code == 403


def test_failed_import_is_recorded_on_the_job(admin_client, provider, currencies,
                                              django_capture_on_commit_callbacks):
    TwdProvider.objects.update(status=False)
    assert admin_client.get("/admin/twelvedata/twdmarket/import/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/twelvedata/twdmarket/import/", {"kind": "stocks"})
    job = TwdImportJob.objects.get()
    assert job.status == "FAILED" and "No TwelveData provider" in job.message
    bad = admin_client.post("/admin/twelvedata/twdmarket/import/", {"kind": "bonds"})
    assert bad.status_code == 200 and TwdImportJob.objects.count() == 1


def test_orders_are_read_only(admin_client, markets, user):
    order = services.order_place(user_id=user.pk, symbol="EUR/USD", side="BUY", type="LIMIT",
                                 amount=Decimal("10"), price=Decimal("1.01"))
    assert admin_client.get(f"/admin/twelvedata/twdorder/{order.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/twelvedata/twdorder/{order.pk}/change/",
                                 {"status": "CLOSED"})
    assert response.status_code == 403
    assert TwdOrder.objects.get(pk=order.pk).status == "OPEN"


def test_set_aside_orders_are_listed_with_their_reason_and_retried(admin_client, markets,
                                                                   user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    stuck, fine = (services.order_place(user_id=user.pk, symbol="EUR/USD", side="BUY",
                                        type="LIMIT", amount=Decimal("10"),
                                        price=Decimal("1.01")) for _ in range(2))
    TwdOrder.objects.filter(pk=stuck.pk).update(maker_fee_rate=Decimal("0.5"))
    assert services.fill_crossing(quote=make_quote("EUR/USD", "1.0", bid="0.999",
                                                   ask="1.0")) == 1

    page = admin_client.get("/admin/twelvedata/twdorder/?set_aside=yes")
    assert page.status_code == 200
    assert f'value="{stuck.pk}"'.encode() in page.content
    assert f'value="{fine.pk}"'.encode() not in page.content
    assert b"cannot pay" in page.content and b"Retry settlement" in page.content

    response = admin_client.post("/admin/twelvedata/twdorder/", {
        "action": "retry_settlement", ACTION_CHECKBOX_NAME: [stuck.pk, fine.pk]}, follow=True)
    assert any("1 order(s) will be tried again" in m for m in messages_of(response))
    stuck.refresh_from_db()
    assert (stuck.status, stuck.settle_error, stuck.settle_error_at) == ("OPEN", "", None)
