"""The account API for a non-browser client: register, confirm the e-mail address, reset
the password; the token login with a second factor. Hostile input gets a 4xx in the API's
error format and changes nothing."""
import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/accounts/register/"
VERIFY = "/api/v1/accounts/verify-email/"
RESET = "/api/v1/accounts/password/reset/"
RESET_CONFIRM = "/api/v1/accounts/password/reset/confirm/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "a-long-enough-pass-42"
NEW_PASSWORD = "another-long-pass-77"

User = get_user_model()


@pytest.fixture
def client():
    return APIClient()


def register(client, **overrides):
    body = {"username": "newbie", "email": "newbie@example.test", "password": PASSWORD,
            **overrides}
    return client.post(REGISTER, body, format="json")


def link_key(mail, pattern: str) -> str:
    match = re.search(pattern + r"([^/\s]+)/", mail.body)
    assert match, mail.body
    return match.group(1)


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error


def test_register_verify_then_log_in(client, mailoutbox):
    response = register(client)
    assert response.status_code == 202, response.content
    user = User.objects.get(username="newbie")
    assert not EmailAddress.objects.get(user=user).verified
    # Not before the address is confirmed.
    assert client.post(TOKEN, {"username": "newbie", "password": PASSWORD},
                       format="json").status_code == 403

    [mail] = mailoutbox
    assert mail.to == ["newbie@example.test"]
    key = link_key(mail, r"/accounts/confirm-email/")
    response = client.post(VERIFY, {"key": key}, format="json")
    assert response.status_code == 200 and response.json() == {"email": "newbie@example.test"}
    assert EmailAddress.objects.get(user=user).verified
    token = client.post(TOKEN, {"username": "newbie", "password": PASSWORD}, format="json")
    assert token.status_code == 200 and token.json()["token"]
    # The link has done its work: again, it is refused (nothing left to confirm).
    assert_error(client.post(VERIFY, {"key": key}, format="json"), 400, "invalid", "key")


def test_an_address_with_an_account_gets_the_same_answer_and_a_notice(client, mailoutbox):
    existing = UserFactory(email="taken@example.test")
    response = register(client, email="TAKEN@example.test")
    assert response.status_code == 202
    assert User.objects.filter(email__iexact="taken@example.test").get() == existing
    [mail] = mailoutbox
    assert mail.to == ["TAKEN@example.test"] or mail.to == ["taken@example.test"]
    assert "confirm-email" not in mail.body  # a notice, not a confirmation link


@pytest.mark.parametrize("overrides, field", [
    ({"username": "UserTaken"}, "username"),                 # taken, whatever the case
    ({"username": "аdmin"}, "username"),                      # Cyrillic "а": ASCII only
    ({"username": "a b"}, "username"),
    ({"username": "x" * 151}, "username"),
    ({"username": ""}, "username"),
    ({"username": 12345}, "username"),                        # not a string (the schema)
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@" + "b" * 300 + ".test"}, "email"),
    ({"email": ["a@b.test"]}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "password"}, "password"),                   # common
    ({"password": "newbie123"}, "password"),                  # like the username
    ({"password": "x" * 10_000}, "password"),
    ({"password": None}, "password"),
])
def test_register_refuses_bad_input_and_creates_nothing(client, mailoutbox, overrides, field):
    UserFactory(username="usertaken")
    before = User.objects.count()
    response = register(client, **overrides)
    if field is None:
        assert response.status_code == 202
        return
    assert_error(response, 400, "invalid", field)
    assert User.objects.count() == before and not mailoutbox


@pytest.mark.parametrize("body", [[], "x", {"username": {"$ne": ""}}, {}])
def test_register_refuses_bodies_that_are_not_the_form(client, body):
    response = client.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid", "parse_error")
    assert not User.objects.exists()


@pytest.mark.parametrize("key", ["", "nope", "x" * 257, "MQ:1abc:" + "A" * 40, "💥", "../../"])
def test_verify_refuses_a_bad_key(client, key):
    user = UserFactory(email_verified=False)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    response = client.post(VERIFY, {"key": key}, format="json")
    assert response.status_code == 400
    assert not EmailAddress.objects.get(user=user).verified


def test_a_key_for_another_address_confirms_only_that_one(client, mailoutbox):
    register(client)
    register(client, username="second", email="second@example.test")
    first_key = link_key(mailoutbox[0], r"/accounts/confirm-email/")
    assert client.post(VERIFY, {"key": first_key}, format="json").status_code == 200
    assert EmailAddress.objects.get(email="newbie@example.test").verified
    assert not EmailAddress.objects.get(email="second@example.test").verified


def test_password_reset_by_link_key(client, mailoutbox):
    user = UserFactory(email="resetme@example.test")
    Token.objects.create(user=user)
    response = client.post(RESET, {"email": "ResetMe@example.test"}, format="json")
    assert response.status_code == 202
    [mail] = mailoutbox
    key = link_key(mail, r"/accounts/password/reset/key/")

    weak = client.post(RESET_CONFIRM, {"key": key, "password": "123"}, format="json")
    assert_error(weak, 400, "invalid", "password")
    response = client.post(RESET_CONFIRM, {"key": key, "password": NEW_PASSWORD},
                           format="json")
    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not Token.objects.filter(user=user).exists()  # the old token is out
    # The key worked once: the password it was made from has changed.
    again = client.post(RESET_CONFIRM, {"key": key, "password": "yet-another-pass-99"},
                        format="json")
    assert_error(again, 400, "invalid", "key")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_answers_the_same(client, mailoutbox):
    response = client.post(RESET, {"email": "nobody@example.test"}, format="json")
    assert response.status_code == 202
    # allauth tells the address that it has no account (no reset link in it).
    assert all("/password/reset/key/" not in mail.body for mail in mailoutbox)


@pytest.mark.parametrize("body, field", [
    ({"email": "nope"}, "email"),
    ({"email": ""}, "email"),
    ({"email": None}, "email"),
    ({}, "email"),
])
def test_password_reset_refuses_bad_input(client, mailoutbox, body, field):
    assert_error(client.post(RESET, body, format="json"), 400, "invalid", field)
    assert not mailoutbox


@pytest.mark.parametrize("key", [
    "", "nope", "1-abc", "zzzzzzzzzzzzzzzzzzzz-abc", "-", "x" * 257,
    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ-abc",   # a huge user id
])
def test_password_reset_confirm_refuses_a_bad_key(client, key):
    user = UserFactory()
    response = client.post(RESET_CONFIRM, {"key": key, "password": NEW_PASSWORD},
                           format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)


def test_a_reset_key_of_one_user_does_not_reset_another(client, mailoutbox):
    victim, attacker = UserFactory(), UserFactory(email="attacker@example.test")
    client.post(RESET, {"email": attacker.email}, format="json")
    key = link_key(mailoutbox[0], r"/accounts/password/reset/key/")
    _, _, secret = key.partition("-")
    from allauth.account.utils import user_pk_to_url_str

    forged = f"{user_pk_to_url_str(victim)}-{secret}"
    response = client.post(RESET_CONFIRM, {"key": forged, "password": NEW_PASSWORD},
                           format="json")
    assert_error(response, 400, "invalid", "key")
    victim.refresh_from_db()
    assert not victim.check_password(NEW_PASSWORD)


# --- The token login and the second factor ----------------------------------------------


def totp_user():
    user = UserFactory()
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    return user, secret


def current_code(secret: str) -> str:
    import time

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_token_needs_the_code_of_an_account_with_two_factor(client):
    user, secret = totp_user()
    body = {"username": user.username, "password": "pw-for-tests-only"}
    missing = client.post(TOKEN, body, format="json")
    assert_error(missing, 403, "mfa_required")
    wrong = client.post(TOKEN, {**body, "code": "000000" if current_code(secret) != "000000"
                                else "111111"}, format="json")
    assert_error(wrong, 400, "invalid", "code")
    assert not Token.objects.filter(user=user).exists()
    code = current_code(secret)
    response = client.post(TOKEN, {**body, "code": code}, format="json")
    assert response.status_code == 200 and response.json()["token"]
    # A code works once.
    assert_error(client.post(TOKEN, {**body, "code": code}, format="json"), 400, "invalid")


def test_token_ignores_a_code_for_an_account_without_two_factor(client):
    user = UserFactory()
    response = client.post(TOKEN, {"username": user.username, "password": "pw-for-tests-only",
                                   "code": "123456"}, format="json")
    assert response.status_code == 200
    assert not Authenticator.objects.exists() and not AccessAttempt.objects.exists()


def test_wrong_codes_count_towards_the_lockout(client, settings):
    user, secret = totp_user()
    body = {"username": user.username, "password": "pw-for-tests-only"}
    wrong = "000000" if current_code(secret) != "000000" else "111111"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(TOKEN, {**body, "code": wrong}, format="json", REMOTE_ADDR="192.0.2.9")
    response = client.post(TOKEN, {**body, "code": current_code(secret)}, format="json",
                           REMOTE_ADDR="192.0.2.10")
    assert_error(response, 429, "locked_out")


def test_a_token_login_before_confirming_mails_the_link_again_within_limits(client, mailoutbox):
    user = UserFactory(email_verified=False)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    body = {"username": user.username, "password": "pw-for-tests-only"}
    assert_error(client.post(TOKEN, body, format="json"), 403, "email_unverified")
    [mail] = mailoutbox
    key = link_key(mail, r"/accounts/confirm-email/")
    # Again at once: allauth's cool-down holds the next mail back.
    assert_error(client.post(TOKEN, body, format="json"), 403, "email_unverified")
    assert len(mailoutbox) == 1
    assert not Token.objects.filter(user=user).exists()
    assert client.post(VERIFY, {"key": key}, format="json").status_code == 200
    assert client.post(TOKEN, body, format="json").status_code == 200
