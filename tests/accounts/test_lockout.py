"""Failed logins lock the account and the address (django-axes), on the API token login
and the web login (allauth's, which the admin's login leads to) alike; the right password
does not get through a lockout, whether the account is named by username or e-mail."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory

PASSWORD = "pw-for-tests-only"
ADDRESS = "198.51.100.7"
TOKEN_URL = "/api/v1/auth/token/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def victim():
    return UserFactory(is_staff=True)


def token_login(username: str, password: str, *, address: str = ADDRESS):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password},
                            format="json", REMOTE_ADDR=address)


def fail_logins(settings, login, username: str) -> list:
    return [login(username, "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def assert_api_locked_out(response) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "locked_out"
    assert "locked" in error["message"]
    assert int(response["Retry-After"]) == 15 * 60


def test_api_locks_the_account_and_the_address(settings, victim):
    codes = fail_logins(settings, token_login, victim.username)
    assert codes[:-1] == [400] * (settings.AXES_FAILURE_LIMIT - 1)
    assert codes[-1] == 429  # the failure that reaches the limit already says so

    assert_api_locked_out(token_login(victim.username, PASSWORD))
    # The account, from any address...
    assert_api_locked_out(token_login(victim.username, PASSWORD, address="192.0.2.1"))
    # ...and the address, for any account.
    other = UserFactory()
    assert_api_locked_out(token_login(other.username, PASSWORD))
    # Others elsewhere are not concerned.
    assert token_login(other.username, PASSWORD, address="192.0.2.1").status_code == 200


def test_api_lockout_ends_after_the_cool_off(settings, victim):
    fail_logins(settings, token_login, victim.username)
    assert_api_locked_out(token_login(victim.username, PASSWORD))
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = token_login(victim.username, PASSWORD)
    assert response.status_code == 200 and response.json()["token"]


def test_a_success_before_the_limit_starts_the_count_again(settings, victim):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert token_login(victim.username, "wrong").status_code == 400
    assert token_login(victim.username, PASSWORD).status_code == 200
    assert token_login(victim.username, "wrong").status_code == 400


LOGIN_URL = "/accounts/login/"


def form_login(username: str, password: str, *, address: str = ADDRESS):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN_URL, {"login": username, "password": password})
    response.logged_in = "_auth_user_id" in client.session
    return response


def assert_page_locked_out(response) -> None:
    assert response.status_code == 429
    assert not response.logged_in
    page = response.content.decode()
    assert "Login locked" in page and "locked for" in page and "15" in page


@pytest.mark.parametrize("url", ["/login/?next=/forex", "/admin/login/?next=/admin/"],
                         ids=["web", "admin"])
def test_the_old_and_the_admin_login_lead_to_the_one_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL + "?next=")


def test_the_login_locks_the_account_and_the_address(settings, victim):
    codes = fail_logins(settings, form_login, victim.username)
    assert codes[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form, with an error
    assert codes[-1] == 429

    assert_page_locked_out(form_login(victim.username, PASSWORD))
    assert_page_locked_out(form_login(victim.username, PASSWORD, address="192.0.2.1"))
    # By its e-mail address it is the same account, locked too.
    assert_page_locked_out(form_login(victim.email.upper(), PASSWORD, address="192.0.2.2"))
    assert_page_locked_out(form_login(UserFactory(is_staff=True).username, PASSWORD))
    other = form_login(UserFactory(is_staff=True).username, PASSWORD, address="192.0.2.1")
    assert other.status_code == 302 and other.logged_in


def test_failures_by_username_and_by_email_count_for_one_account(settings, victim):
    for n in range(settings.AXES_FAILURE_LIMIT):
        name = victim.username if n % 2 else victim.email
        form_login(name, "wrong", address=f"192.0.2.{n}")
    assert_page_locked_out(form_login(victim.username, PASSWORD, address="192.0.2.50"))
    assert_api_locked_out(token_login(victim.username, PASSWORD, address="192.0.2.51"))


def test_failures_count_across_entry_points(settings, victim):
    """One count per account: failing on the API and the web login in turn."""
    logins = [token_login, form_login]
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        logins[n % 2](victim.username, "wrong", address=f"192.0.2.{n}")
    logins[0](victim.username, "wrong", address="192.0.2.99")
    assert_api_locked_out(token_login(victim.username, PASSWORD, address="192.0.2.100"))
    assert_page_locked_out(form_login(victim.username, PASSWORD, address="192.0.2.101"))


def test_an_overlong_username_is_refused_before_any_login():
    """Longer than any username can be: a 400 naming the field, and no failed attempt
    recorded (on MariaDB recording it was a 500: too long for axes' column)."""
    response = token_login("u" * 10_000, "wrong")
    assert response.status_code == 400
    assert "username" in response.json()["error"]["fields"]
    assert not AccessAttempt.objects.exists()


def test_an_overlong_login_on_the_page_is_a_failure_not_an_error(settings):
    """The page's login field is a free text: an enormous one fails like a wrong password
    (recorded, cut to what axes' column holds; on MariaDB the insert was the risk)."""
    response = form_login("u" * 10_000, "wrong")
    assert response.status_code == 200 and not response.logged_in
    assert AccessAttempt.objects.get().username == "u" * 255


@pytest.mark.parametrize("name", ["USER", "User", "ｕｓｅｒ", "us\u200ber", "u%"])
def test_the_login_takes_the_username_exactly(name):
    """A look-alike of the name with the right password is no login (allauth alone matched
    names case-insensitively)."""
    user = UserFactory(username="user")
    response = form_login(name, PASSWORD)
    assert not response.logged_in
    assert form_login(user.username, PASSWORD, address="192.0.2.77").logged_in
