"""The audit trail: admins' changes and security events are recorded, searchable in the
admin, and append-only (no edit or delete in the admin, the model refuses both, and the
database refuses an UPDATE)."""
import time
from datetime import date

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client

from apps.accounts import audit, services
from apps.accounts.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 64


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="boss"))
    return client


def kinds() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("kind", flat=True))


def test_logins_and_failed_logins_are_recorded():
    user = UserFactory(username="alice")
    client = Client()
    client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    failed = AuditEvent.objects.get(kind=audit.LOGIN_FAILED)
    assert (failed.actor, failed.actor_id, failed.ip) == ("alice", None, "127.0.0.1")
    login = AuditEvent.objects.get(kind=audit.LOGIN)
    assert (login.actor, login.actor_id) == ("alice", user.pk)


def test_two_factor_changes_are_recorded():
    from allauth.mfa import signals

    user = UserFactory()
    authenticator = TOTP.activate(user, "JBSWY3DPEHPK3PXP").instance
    signals.authenticator_added.send(sender=type(authenticator), request=None, user=user,
                                     authenticator=authenticator)
    signals.authenticator_removed.send(sender=type(authenticator), request=None, user=user,
                                       authenticator=authenticator)
    assert kinds() == [audit.MFA_ADDED, audit.MFA_REMOVED]
    assert AuditEvent.objects.filter(actor_id=user.pk, message="authenticator: totp").count() == 2


def test_totp_set_up_on_the_account_pages_is_recorded(django_capture_on_commit_callbacks):
    # allauth's own page sends the signal; here it is reached as a user would.
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    user = UserFactory()
    client = Client()
    client.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})  # allauth asks first
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = client.session["mfa.totp.secret"]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    # allauth sends its signal once the activation commits.
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert done.status_code == 302 and "activate" not in done.url, done.url
    assert AuditEvent.objects.filter(kind=audit.MFA_ADDED, actor_id=user.pk).exists()


def test_an_admin_change_and_an_admin_action_are_recorded(admin_client, settings, tmp_path):
    settings.KYC_DOCUMENTS_ROOT = str(tmp_path)
    added = admin_client.post("/admin/auth/group/add/", {"name": "desk"})
    assert added.status_code == 302
    event = AuditEvent.objects.get(kind=audit.ADMIN_ADD)
    assert (event.actor, event.object_type, event.object_repr) == ("boss", "auth.Group",
                                                                   "desk")
    application = services.kyc_application_submit(
        user_id=UserFactory().pk, full_name="Ada", date_of_birth=date(1990, 1, 1),
        country="GB", documents=[("ID_FRONT", SimpleUploadedFile("a.png", PNG))])
    admin_client.post("/admin/accounts/kycapplication/",
                      {"action": "approve", "_selected_action": [application.pk]})
    decision = AuditEvent.objects.get(kind=audit.KYC_APPROVED)
    assert (decision.actor, decision.object_id) == ("boss", str(application.pk))
    action = AuditEvent.objects.get(kind=audit.ADMIN_ACTION)
    assert action.object_id == str(application.pk) and "approve" in action.message


def test_the_audit_is_searchable_and_read_only_in_the_admin(admin_client):
    group = Group.objects.create(name="g")
    event = audit.record(kind=audit.ADMIN_CHANGE, actor="someone", obj=group,
                         message="changed fee")
    listing = admin_client.get("/admin/accounts/auditevent/?q=fee")
    assert listing.status_code == 200 and "changed fee" in listing.content.decode()
    assert "changed fee" not in admin_client.get(
        "/admin/accounts/auditevent/?q=nothing-like-it").content.decode()
    admin_client.post(f"/admin/accounts/auditevent/{event.pk}/change/", {"message": "x"})
    admin_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    event.refresh_from_db()
    assert event.message == "changed fee"
    assert admin_client.get("/admin/accounts/auditevent/add/").status_code == 403


def test_audit_events_are_append_only():
    event = audit.record(kind=audit.LOGIN, actor="a")
    event.message = "edited"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    with pytest.raises(ValueError):
        AuditEvent.objects.filter(pk=event.pk).update(message="edited")
    with pytest.raises(ValueError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    # Past Django too: the database refuses an UPDATE (trigger on MariaDB and SQLite).
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditevent SET message = %s WHERE id = %s",
                       ["edited", event.pk])
    event.refresh_from_db()
    assert event.message == ""
