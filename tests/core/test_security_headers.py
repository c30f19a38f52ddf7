"""Content-Security-Policy and Permissions-Policy on the trader's pages, the admin and the
API. That the pages still work under the policy is tests/trade/test_browser.py's part
(a real Chromium, which reports every violation)."""
import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.streaming.conftest import make_market

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in
            (part.split() for part in policy.split(";") if part.strip())}


def assert_headers(response) -> None:
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no CDN
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["connect-src"] == ["'self'"]  # the API and /ws/ on this origin
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    permissions = dict(item.strip().split("=", 1)
                       for item in response["Permissions-Policy"].split(","))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert permissions[feature] == "()"


@pytest.fixture
def trader():
    client = Client()
    client.force_login(UserFactory())
    return client


def test_trade_pages(trader):
    make_market("EUR/USD")
    for url in ("/trade/EUR/USD/", "/forex", "/account/"):
        response = trader.get(url)
        assert response.status_code == 200, url
        assert_headers(response)
    for url in ("/accounts/login/", "/accounts/signup/"):
        response = Client().get(url)
        assert response.status_code == 200, url
        assert_headers(response)


def test_admin():
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in ("/admin/", "/admin/login/", "/admin/auth/user/"):
        response = admin.get(url)
        assert response.status_code in (200, 302), url
        assert_headers(response)


def test_api(api):
    for response in (api.get("/api/v1/wallets/"), Client().get("/api/v1/wallets/"),
                     Client().get("/api/schema/"), Client().get("/api/v1/no-such-thing/")):
        assert_headers(response)


def test_api_docs_run_no_inline_script():
    """Swagger UI's page: its setup script comes from a URL of its own; only its inline
    styles are allowed there."""
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    assert directives(page)["script-src"] == ["'self'"]
    assert directives(page)["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "<script>" not in page.content.decode()
    script = Client().get("/api/docs/?script")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
