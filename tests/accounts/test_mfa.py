"""Two-factor sign-in (allauth.mfa TOTP): the login asks for the code of an account that
has one, and with ADMIN_REQUIRE_MFA the admin admits only staff whose session used it."""
import re
import time
from urllib.parse import unquote

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
SECRET = "JBSWY3DPEHPK3PXP"


def code(secret: str = SECRET, *, periods_ahead: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + periods_ahead))


def with_totp(**kwargs):
    user = UserFactory(**kwargs)
    TOTP.activate(user, SECRET)
    return user


def log_in(client: Client, user, next_url: str = "/"):
    return client.post(f"/accounts/login/?next={next_url}",
                       {"login": user.username, "password": PASSWORD})


def test_the_login_asks_for_the_code_and_refuses_a_wrong_one():
    user = with_totp()
    client = Client()
    step = log_in(client, user)
    assert step.status_code == 302 and step.url.startswith("/accounts/2fa/authenticate/")
    assert "_auth_user_id" not in client.session  # the password alone is not a login
    wrong = client.post("/accounts/2fa/authenticate/",
                        {"code": "000000" if code() != "000000" else "111111"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    done = client.post("/accounts/2fa/authenticate/", {"code": code()})
    assert done.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_recovery_codes_are_a_second_factor_too():
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = with_totp()
    recovery = RecoveryCodes.activate(user)
    [first, *_] = recovery.get_unused_codes()
    client = Client()
    log_in(client, user)
    client.post("/accounts/2fa/authenticate/", {"code": first})
    assert client.session["_auth_user_id"] == str(user.pk)
    assert first not in RecoveryCodes(Authenticator.objects.get(
        user=user, type=Authenticator.Type.RECOVERY_CODES)).get_unused_codes()


@pytest.fixture
def mfa_admin(settings):
    settings.ADMIN_REQUIRE_MFA = True


def test_staff_without_a_second_factor_are_sent_to_set_one_up(mfa_admin):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    log_in(client, staff)
    assert client.session["_auth_user_id"] == str(staff.pk)
    response = client.get("/admin/", follow=True)
    # To the authenticator app's set-up (allauth has the password confirmed first).
    assert "/accounts/2fa/totp/activate/" in unquote(response.redirect_chain[-1][0])
    assert client.get("/admin/auth/user/").status_code == 302


def test_staff_who_signed_in_without_the_code_give_it_again(mfa_admin):
    staff = with_totp(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)  # a session that never saw the code
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/2fa/reauthenticate/")
    client.post("/accounts/2fa/reauthenticate/", {"code": code()})
    assert client.get("/admin/").status_code == 200


def test_staff_signed_in_with_the_code_use_the_admin(mfa_admin):
    staff = with_totp(is_staff=True, is_superuser=True)
    client = Client()
    log_in(client, staff, next_url="/admin/")
    done = client.post("/accounts/2fa/authenticate/", {"code": code()})
    assert done.status_code == 302 and done.url == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "Site administration" in page.content.decode()


def test_without_the_setting_staff_use_the_admin_with_a_password(settings):
    settings.ADMIN_REQUIRE_MFA = False
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    log_in(client, staff, next_url="/admin/")
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_never_takes_a_password_itself(mfa_admin):
    """Django's admin login form would check only the password: it is not reachable."""
    staff = with_totp(is_staff=True, is_superuser=True)
    client = Client()
    response = client.post("/admin/login/?next=/admin/",
                           {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_the_account_page_shows_the_second_factor():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/account/").content.decode()
    assert re.search(r'data-testid="mfa-state">off<', page)
    TOTP.activate(user, SECRET)
    page = client.get("/account/").content.decode()
    assert re.search(r'data-testid="mfa-state">on<', page)
    sessions = client.get("/accounts/sessions/")
    assert sessions.status_code == 200
