"""API throttling: on for every endpoint, counted per client address as configured.

The rates are shrunk in the dict DRF's throttles read them from (SimpleRateThrottle
binds REST_FRAMEWORK's rates when it is imported), so a few requests reach them.
"""
import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.lockout import client_address

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def rates(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/min")


def post_empty(client: APIClient, address: str, **headers):
    """An anonymous request that never reaches a login (no credentials: a 400)."""
    return client.post(TOKEN_URL, {}, format="json", REMOTE_ADDR=address, **headers)


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_a_forwarded_for_header_from_the_client_does_not_reset_the_limit(rates):
    client = APIClient()
    for _ in range(3):
        assert post_empty(client, "198.51.100.7").status_code == 400
    # The same client claims to be someone else each time: still the same client.
    for n in range(3):
        assert_throttled(post_empty(client, "198.51.100.7",
                                    HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"))
    # Another address has its own allowance.
    assert post_empty(client, "198.51.100.8").status_code == 400


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_client_is_the_entry_it_appended(rates, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    proxy = "10.0.0.2"
    for _ in range(3):
        assert post_empty(client, proxy, HTTP_X_FORWARDED_FOR="forged, 192.0.2.1"
                          ).status_code == 400
    # What the client put before the proxy's entry changes nothing...
    assert_throttled(post_empty(client, proxy, HTTP_X_FORWARDED_FOR="other, 192.0.2.1"))
    # ...and another client behind the same proxy is counted on its own.
    assert post_empty(client, proxy, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 400


@pytest.mark.django_db
def test_a_logged_in_user_is_throttled_on_every_endpoint(rates, api):
    for _ in range(3):
        assert api.get("/api/v1/wallets/").status_code == 200
    assert_throttled(api.get("/api/v1/wallets/"))
    assert_throttled(api.get("/api/v1/twd/orders/"))


def test_client_address_is_the_throttles(rf, settings):
    request = rf.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.1")
    assert client_address(request) == "198.51.100.7"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_address(request) == "203.0.113.1"
