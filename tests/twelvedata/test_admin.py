from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from apps.core.crypto import decrypt_secret
from apps.marketdata.services import publish
from apps.trading import services as trading_services
from apps.trading.models import Fill, Market, Order
from apps.twelvedata import paper, services
from apps.twelvedata.models import TwdImportJob, TwdMarket, TwdProvider
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def place(user, **kwargs):
    params = {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": Decimal("10"),
              "price": Decimal("1.01"), **kwargs}
    return trading_services.order_place(user_id=user.pk, venue="paper", **params)


def flags(symbols) -> dict[str, tuple]:
    return {m.symbol: (m.status, m.is_trending, m.is_hot)
            for m in Market.objects.filter(venue="paper", symbol__in=symbols)}


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


def test_instrument_list_filters_and_bulk_flags_its_markets(admin_client, markets):
    page = admin_client.get("/admin/twelvedata/twdmarket/?type__exact=stocks&q=Apple")
    assert page.status_code == 200 and b"AAPL" in page.content and b"EUR/USD" not in page.content
    assert b"Import instruments" in page.content
    enabled = admin_client.get("/admin/twelvedata/twdmarket/?market__status__exact=enabled")
    assert b"AAPL" in enabled.content and b"GBP/USD" not in enabled.content
    symbols = ["GBP/USD", "MSFT"]
    ids = list(TwdMarket.objects.filter(symbol__in=symbols).values_list("pk", flat=True))
    for action in ("enable", "mark_trending", "mark_hot"):
        admin_client.post("/admin/twelvedata/twdmarket/", {"action": action,
                                                           ACTION_CHECKBOX_NAME: ids})
    assert flags(symbols) == dict.fromkeys(symbols, ("enabled", True, True))
    admin_client.post("/admin/twelvedata/twdmarket/", {"action": "disable",
                                                       ACTION_CHECKBOX_NAME: ids})
    assert flags(symbols) == dict.fromkeys(symbols, ("disabled", True, True))
    assert flags(["EUR/USD"]) == {"EUR/USD": ("enabled", False, False)}  # not selected
    assert admin_client.get("/admin/twelvedata/twdmarket/add/").status_code == 403


def test_one_market_list_across_venues_with_status_and_flag_actions(admin_client, markets):
    listed = admin_client.get("/admin/trading/market/?venue__exact=paper&status__exact=enabled")
    assert listed.status_code == 200
    rows = {m.pk for m in markets.values()}
    for market in Market.objects.filter(venue="paper"):
        assert (f'value="{market.pk}"'.encode() in listed.content) == (market.pk in rows)
    symbols = ["EUR/USD", "AAPL"]
    ids = [m.pk for m in markets.values()]
    for action, expected in [("halt", ("halted", False, False)),
                             ("mark_trending", ("halted", True, False)),
                             ("mark_hot", ("halted", True, True)),
                             ("delist", ("delisted", True, True)),
                             ("unmark_hot", ("delisted", True, False)),
                             ("unmark_trending", ("delisted", False, False)),
                             ("disable", ("disabled", False, False)),
                             ("enable", ("enabled", False, False))]:
        response = admin_client.post("/admin/trading/market/", {
            "action": action, ACTION_CHECKBOX_NAME: ids}, follow=True)
        assert any("2 market(s) updated" in m for m in messages_of(response)), action
        assert flags(symbols) == dict.fromkeys(symbols, expected), action
    assert admin_client.get("/admin/trading/market/add/").status_code == 403
    assert admin_client.post(f"/admin/trading/market/{ids[0]}/delete/").status_code == 403


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


def test_orders_and_fills_are_read_only(admin_client, markets, user):
    order = place(user)
    assert admin_client.get(f"/admin/trading/order/{order.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/trading/order/{order.pk}/change/",
                                 {"status": "FILLED"})
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == "OPEN"

    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    filled = place(user, type="MARKET", price=None)
    [fill] = Fill.objects.filter(order=filled)
    page = admin_client.get(f"/admin/trading/order/{filled.pk}/change/")
    assert page.status_code == 200 and fill.trade_id.encode() in page.content
    assert admin_client.get(f"/admin/trading/fill/{fill.pk}/change/").status_code == 200
    for url in (f"/admin/trading/fill/{fill.pk}/change/", f"/admin/trading/fill/{fill.pk}/delete/",
                f"/admin/trading/order/{filled.pk}/delete/"):
        assert admin_client.post(url, {"price": "1", "post": "yes"}).status_code == 403, url
    assert Fill.objects.get(pk=fill.pk).price == fill.price
    assert Order.objects.filter(pk=filled.pk, status="FILLED").exists()


def test_set_aside_orders_are_listed_with_their_reason_and_retried(admin_client, markets,
                                                                   user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    stuck, fine = place(user), place(user)
    Order.objects.filter(pk=stuck.pk).update(maker_fee_rate=Decimal("0.5"))
    assert paper.fill_crossing(quote=make_quote("EUR/USD", "1.0", bid="0.999",
                                                ask="1.0")) == 1

    page = admin_client.get("/admin/trading/order/?set_aside=yes")
    assert page.status_code == 200
    assert f'value="{stuck.pk}"'.encode() in page.content
    assert f'value="{fine.pk}"'.encode() not in page.content
    assert b"cannot pay" in page.content and b"Retry settlement" in page.content

    response = admin_client.post("/admin/trading/order/", {
        "action": "retry_settlement", ACTION_CHECKBOX_NAME: [stuck.pk, fine.pk]}, follow=True)
    assert any("1 order(s) will be tried again" in m for m in messages_of(response))
    stuck.refresh_from_db()
    assert (stuck.status, stuck.settle_error, stuck.settle_error_at) == ("OPEN", "", None)


def test_a_market_form_changes_the_admins_choices_not_the_steps_the_import_owns(
        admin_client, markets):
    market = markets["EUR/USD"]
    url = f"/admin/trading/market/{market.pk}/change/"
    response = admin_client.post(url, {
        "tick_size": "0.001", "lot_size": "1", "min_amount": "5", "min_notional": "0",
        "maker_fee": "0.000100", "taker_fee": "0.000200", "is_hot": "on"})
    assert response.status_code == 302
    market.refresh_from_db()
    # Steps come from the catalog (a re-import would put them back under resting orders).
    assert (market.tick_size, market.lot_size) == (Decimal("0.00001"), Decimal("0.01"))
    assert (market.min_amount, market.maker_fee, market.taker_fee, market.is_hot) == (
        Decimal("5"), Decimal("0.0001"), Decimal("0.0002"), True)
    services.catalog_import(kind="forex")
    market.refresh_from_db()
    assert (market.tick_size, market.min_amount, market.maker_fee, market.is_hot) == (
        Decimal("0.00001"), Decimal("5"), Decimal("0.0001"), True)


def test_models_have_plain_names_in_the_admin(admin_client):
    index = admin_client.get("/admin/").content.decode()
    for name in ("Paper markets", "TwelveData providers", "Catalog imports",
                 "Fixed-time instruments", "Fixed-time trades"):
        assert f">{name}<" in index, name
    assert "Twd markets" not in index


def test_import_progress_moves_per_chunk_and_the_list_can_poll_it(
        admin_client, provider, currencies, emulator, monkeypatch, settings):
    from django.db import connection

    settings.TWELVEDATA_API_KEY = emulator.apikey
    monkeypatch.setattr(services, "_CHUNK", 5)  # the emulator's 22 forex pairs: 5 chunks
    job = TwdImportJob.objects.create(kind="forex")
    seen = []

    def watch(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("UPDATE") and "twdimportjob" in sql:
            seen.append(TwdImportJob.objects.values_list("progress", flat=True).get(pk=job.pk))
        return result

    with connection.execute_wrapper(watch):
        assert services.import_job_run(job_id=job.pk).status == "DONE"
    # A row update per chunk (a worker's progress is seen by the admin as it goes).
    assert [p for p in seen if 0 < p < 100] == [22, 45, 68, 90]
    assert seen == sorted(seen) and seen[-1] == 100

    page = admin_client.get("/admin/twelvedata/twdimportjob/").content.decode()
    assert "twelvedata/import_progress.js" in page
    assert f'<progress max="100" value="100" data-job="{job.pk}"' in page
    progress = admin_client.get("/admin/twelvedata/twdimportjob/progress/",
                                {"ids": f"{job.pk},x,999"}).json()
    assert progress == {"jobs": [{"id": job.pk, "status": "DONE", "progress": 100,
                                  "created": 22, "updated": 0,
                                  "message": "22 created, 0 updated"}]}
    admin_client.logout()
    assert admin_client.get("/admin/twelvedata/twdimportjob/progress/").status_code == 302
