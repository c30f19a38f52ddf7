"""KYC levels, the checks other services call (``kyc_require``), applications with private
documents, and their review in the admin (approve; reject with a reason; who and when)."""
import re
from datetime import date
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts import selectors, services
from apps.accounts.models import KycApplication, KycDocument, KycLevel
from apps.core.errors import Conflict, Forbidden, InvalidInput
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64
CHANGELIST = "/admin/accounts/kycapplication/"


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.KYC_DOCUMENTS_ROOT = str(tmp_path / "private-kyc")
    return Path(settings.KYC_DOCUMENTS_ROOT)


def upload(name="id.png", content=PNG):
    return SimpleUploadedFile(name, content, content_type="image/png")


def apply(user, **overrides):
    return services.kyc_application_submit(**{
        "user_id": user.pk, "full_name": "Ada Lovelace", "date_of_birth": date(1990, 12, 10),
        "country": "GB", "documents": [("ID_FRONT", upload()), ("SELFIE", upload("me.pdf", PDF))],
        **overrides})


@pytest.fixture
def reviewer():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


# --- Levels and the checks -------------------------------------------------------------


def test_levels_follow_the_account():
    user = UserFactory(email_verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    assert selectors.kyc_level(user_id=user.pk) == KycLevel.UNVERIFIED
    EmailAddress.objects.filter(user=user).update(verified=True)
    assert selectors.kyc_level(user_id=user.pk) == KycLevel.EMAIL_VERIFIED
    application = apply(user)
    assert selectors.kyc_level(user_id=user.pk) == KycLevel.EMAIL_VERIFIED  # pending
    services.kyc_application_approve(application_id=application.pk,
                                     reviewer_id=UserFactory(is_staff=True).pk)
    assert selectors.kyc_level(user_id=user.pk) == KycLevel.IDENTITY_REVIEWED


@pytest.mark.parametrize("action, allowed_from", [
    (services.TRADE_PAPER, 0), (services.TRADE_LIVE, 2), (services.WITHDRAW, 1),
    (services.API_KEY_CREATE, 1),
])
def test_each_gated_action_needs_its_level(action, allowed_from):
    users = {0: UserFactory(email_verified=False), 1: UserFactory(), 2: UserFactory()}
    services.kyc_application_approve(application_id=apply(users[2]).pk,
                                     reviewer_id=UserFactory(is_staff=True).pk)
    for level, user in users.items():
        if level >= allowed_from:
            services.kyc_require(user_id=user.pk, action=action)
            continue
        with pytest.raises(services.KycRequired) as refused:
            services.kyc_require(user_id=user.pk, action=action)
        error = refused.value
        assert isinstance(error, Forbidden) and error.status == 403
        assert error.code == "kyc_required"
        assert f"level {allowed_from}" in error.message and f"at level {level}" in error.message
        assert error.fields == {"required_level": allowed_from, "level": level}


def test_the_levels_are_settings(settings):
    settings.KYC_REQUIRED_LEVEL = {**settings.KYC_REQUIRED_LEVEL, services.TRADE_LIVE: 1}
    services.kyc_require(user_id=UserFactory().pk, action=services.TRADE_LIVE)
    with pytest.raises(KeyError):  # an action nobody configured is a bug, not a pass
        services.kyc_require(user_id=UserFactory().pk, action="teleport")


def test_an_action_open_to_level_0_reads_nothing(settings, django_assert_num_queries):
    # Every paper order asks (order_place): a level-0 action must cost no query.
    user = UserFactory(email_verified=False)
    with django_assert_num_queries(0):
        services.kyc_require(user_id=user.pk, action=services.TRADE_PAPER)
    settings.KYC_REQUIRED_LEVEL = {**settings.KYC_REQUIRED_LEVEL, services.TRADE_PAPER: 1}
    with pytest.raises(services.KycRequired):  # raised to level 1, it reads and refuses
        services.kyc_require(user_id=user.pk, action=services.TRADE_PAPER)


def test_daily_withdrawal_limit_per_level(settings):
    settings.KYC_DAILY_WITHDRAWAL_LIMIT = {0: "0", 1: "250.5", 2: "1000000"}
    unverified = UserFactory(email_verified=False)
    verified = UserFactory()
    assert str(selectors.kyc_daily_withdrawal_limit(user_id=unverified.pk)) == "0"
    assert str(selectors.kyc_daily_withdrawal_limit(user_id=verified.pk)) == "250.5"


def test_require_mfa():
    user = UserFactory()
    with pytest.raises(services.MfaRequired) as refused:
        services.require_mfa(user_id=user.pk)
    assert refused.value.status == 403 and refused.value.code == "mfa_required"
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, "JBSWY3DPEHPK3PXP")
    services.require_mfa(user_id=user.pk)


# --- Applications ------------------------------------------------------------------------


def test_an_application_keeps_its_documents_in_private_storage(settings, private_root):
    user = UserFactory()
    application = apply(user)
    documents = list(application.documents.order_by("kind"))
    assert [(d.kind, d.content_type) for d in documents] == [
        ("ID_FRONT", "image/png"), ("SELFIE", "application/pdf")]
    for document in documents:
        path = Path(document.file.path)
        assert path.is_relative_to(private_root) and path.read_bytes() in (PNG, PDF)
        assert "id.png" not in path.name and "me.pdf" not in path.name  # a random name
        for served in (settings.MEDIA_ROOT, settings.STATIC_ROOT):
            assert not served or not path.is_relative_to(Path(served).resolve())
    assert application.status == KycApplication.Status.PENDING


@pytest.mark.parametrize("documents, message", [
    ([("ID_FRONT", upload("id.png", b"#!/bin/sh\nrm -rf /\n"))], "PDF, JPEG or PNG"),
    ([("ID_FRONT", upload("id.png", b""))], "empty"),
    ([("SELFIE", upload())], "front of an identity document"),
    ([("ID_FRONT", upload()), ("PASSPORT_SCAN", upload())], "Unknown document kind"),
    ([], "front of an identity document"),
])
def test_bad_documents_are_refused_and_nothing_is_filed(private_root, documents, message):
    user = UserFactory()
    with pytest.raises(InvalidInput, match=message):
        apply(user, documents=documents)
    assert not KycApplication.objects.exists()
    assert not private_root.exists() or not any(private_root.rglob("*.*"))


def test_a_document_over_the_size_limit_is_refused(settings):
    settings.KYC_DOCUMENT_MAX_BYTES = 100
    with pytest.raises(InvalidInput, match="at most"):
        apply(UserFactory(), documents=[("ID_FRONT", upload("id.png", PNG + b"\x00" * 100))])
    assert not KycApplication.objects.exists()


def test_who_may_apply_and_when(reviewer):
    unverified = UserFactory(email_verified=False)
    with pytest.raises(services.KycRequired):
        apply(unverified)
    user = UserFactory()
    first = apply(user)
    with pytest.raises(Conflict, match="waiting for review"):
        apply(user)
    services.kyc_application_reject(application_id=first.pk, reviewer_id=reviewer.pk,
                                    reason="The photo is blurred.")
    second = apply(user)  # after a rejection, a new application
    services.kyc_application_approve(application_id=second.pk, reviewer_id=reviewer.pk)
    with pytest.raises(Conflict, match="already reviewed"):
        apply(user)
    assert KycApplication.objects.filter(user=user).count() == 2


def test_a_decision_is_made_once_by_someone_else(reviewer):
    user = UserFactory(is_staff=True)
    application = apply(user)
    with pytest.raises(Conflict, match="own application"):
        services.kyc_application_approve(application_id=application.pk, reviewer_id=user.pk)
    with pytest.raises(InvalidInput, match="reason"):
        services.kyc_application_reject(application_id=application.pk,
                                        reviewer_id=reviewer.pk, reason="   ")
    approved = services.kyc_application_approve(application_id=application.pk,
                                                reviewer_id=reviewer.pk)
    assert (approved.decided_by_id, approved.status) == (reviewer.pk, "APPROVED")
    decided_at = approved.decided_at
    with pytest.raises(Conflict, match="already approved"):
        services.kyc_application_reject(application_id=application.pk,
                                        reviewer_id=reviewer.pk, reason="changed my mind")
    approved.refresh_from_db()
    assert (approved.status, approved.decided_at, approved.reason) == (
        "APPROVED", decided_at, "")


# --- The web form and the account page --------------------------------------------------


def test_a_user_applies_on_the_web_and_sees_the_status(private_root):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/account/")
    assert page.status_code == 200
    assert re.search(r'data-testid="kyc-level">1<', page.content.decode())
    response = client.post("/account/kyc/", {
        "full_name": "Ada Lovelace", "date_of_birth": "1990-12-10", "country": "GB",
        "id_front": upload(), "selfie": upload("me.pdf", PDF)})
    assert response.status_code == 302 and response.url == "/account/"
    application = KycApplication.objects.get(user=user)
    assert application.documents.count() == 2
    assert 'data-status="PENDING"' in client.get("/account/").content.decode()

    again = client.post("/account/kyc/", {
        "full_name": "Ada", "date_of_birth": "1990-12-10", "country": "GB",
        "id_front": upload()})
    assert again.status_code == 200 and "waiting for review" in again.content.decode()
    assert KycApplication.objects.count() == 1


@pytest.mark.parametrize("field, value", [
    ("country", "gb"), ("country", "GBR"), ("date_of_birth", "2999-01-01"),
    ("date_of_birth", "1990-02-30"), ("full_name", "x" * 201),
])
def test_the_web_form_refuses_bad_fields(field, value):
    client = Client()
    client.force_login(UserFactory())
    data = {"full_name": "Ada Lovelace", "date_of_birth": "1990-12-10", "country": "GB",
            "id_front": upload(), field: value}
    response = client.post("/account/kyc/", data)
    assert response.status_code == 200
    assert not KycApplication.objects.exists()


def test_the_account_pages_need_a_login():
    for url in ("/account/", "/account/kyc/"):
        response = Client().get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# --- Review in the admin ----------------------------------------------------------------


def test_admin_approves_and_the_decision_is_recorded(admin_client, reviewer):
    application = apply(UserFactory())
    listing = admin_client.get(CHANGELIST)
    assert listing.status_code == 200 and "Ada Lovelace" in listing.content.decode()
    response = admin_client.post(CHANGELIST, {"action": "approve",
                                              "_selected_action": [application.pk]})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == "APPROVED"
    assert application.decided_by == reviewer and application.decided_at is not None
    assert selectors.kyc_level(user_id=application.user_id) == KycLevel.IDENTITY_REVIEWED


def test_admin_rejects_with_a_reason(admin_client, reviewer):
    application = apply(UserFactory())
    ask = admin_client.post(CHANGELIST, {"action": "reject",
                                         "_selected_action": [application.pk]})
    assert ask.status_code == 200 and 'name="reason"' in ask.content.decode()
    application.refresh_from_db()
    assert application.status == "PENDING"  # nothing until a reason is given
    empty = admin_client.post(CHANGELIST, {"action": "reject", "apply": "1", "reason": "",
                                           "_selected_action": [application.pk]})
    assert empty.status_code == 200
    done = admin_client.post(CHANGELIST, {
        "action": "reject", "apply": "1", "reason": "The document has expired.",
        "_selected_action": [application.pk]})
    assert done.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.reason, application.decided_by) == (
        "REJECTED", "The document has expired.", reviewer)
    # A decided application is not decided again.
    admin_client.post(CHANGELIST, {"action": "approve", "_selected_action": [application.pk]})
    application.refresh_from_db()
    assert application.status == "REJECTED"


def test_applications_cannot_be_edited_in_the_admin(admin_client):
    application = apply(UserFactory())
    admin_client.post(f"{CHANGELIST}{application.pk}/change/", {
        "full_name": "Someone Else", "status": "APPROVED"})
    application.refresh_from_db()
    assert (application.full_name, application.status) == ("Ada Lovelace", "PENDING")
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_documents_are_served_to_staff_only(admin_client):
    application = apply(UserFactory())
    document = application.documents.get(kind="ID_FRONT")
    url = f"{CHANGELIST}document/{document.pk}/"
    page = admin_client.get(f"{CHANGELIST}{application.pk}/change/").content.decode()
    assert url in page  # linked from the application
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Disposition"].startswith("attachment")
    assert {"private", "no-store"} <= set(re.split(r",\s*", response["Cache-Control"]))
    assert admin_client.get(f"{CHANGELIST}document/999999/").status_code == 404

    owner = Client()
    owner.force_login(application.user)  # not staff: the admin sends them to log in
    assert owner.get(url).status_code == 302
    assert Client().get(url).status_code == 302
    staff_without_permission = Client()
    staff_without_permission.force_login(UserFactory(is_staff=True))
    assert staff_without_permission.get(url).status_code in (403, 404)
    # No URL outside the admin serves the private storage.
    assert Client().get(f"/media/{document.file.name}").status_code == 404
    assert KycDocument.objects.count() == 2
