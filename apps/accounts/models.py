"""KYC (seed 002): a user's identity application, its documents, and the review's decision.

The level itself is not stored: it follows from the account (``selectors.kyc_level``):
0 unverified, 1 a verified e-mail address, 2 an approved application. An application is
decided once (``services``): its reviewer and time are recorded on it and never change; a
rejected user applies again with a new application, so each decision keeps its own row.
"""
import os
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models

from apps.core import conf
from apps.core.fields import ExactCharField


class KycLevel(models.IntegerChoices):
    UNVERIFIED = 0, "Unverified"
    EMAIL_VERIFIED = 1, "E-mail verified"
    IDENTITY_REVIEWED = 2, "Identity reviewed"


class PrivateStorage(FileSystemStorage):
    """Files under conf.KYC_DOCUMENTS_ROOT (read when used, so that a changed setting
    applies), a directory no URL serves: they have no URL, and staff read them through
    the admin's download view only."""

    @property
    def base_location(self) -> str:
        return conf.KYC_DOCUMENTS_ROOT

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL: staff download them in the admin.")


def private_storage() -> PrivateStorage:
    return PrivateStorage()


def document_path(document: "KycDocument", filename: str) -> str:
    # A random name: the uploader's file name says nothing the row does not, and could say
    # more than it should (a name, a path).
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"{document.application.user_id}/{uuid.uuid4().hex}{suffix}"


class KycApplication(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending review"
        APPROVED = "APPROVED", "Approved"
        REJECTED = "REJECTED", "Rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="kyc_applications")
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    reason = models.TextField(blank=True, help_text="Why it was rejected (shown to the user)")

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["user", "status"]), models.Index(fields=["status"])]
        verbose_name = "KYC application"
        verbose_name_plural = "KYC applications"

    def __str__(self) -> str:
        return f"KYC #{self.pk} {self.full_name} ({self.status})"


class KycDocument(models.Model):
    class Kind(models.TextChoices):
        ID_FRONT = "ID_FRONT", "Identity document (front)"
        ID_BACK = "ID_BACK", "Identity document (back)"
        SELFIE = "SELFIE", "Selfie holding the document"
        PROOF_OF_ADDRESS = "ADDRESS", "Proof of address"

    application = models.ForeignKey(KycApplication, on_delete=models.CASCADE,
                                    related_name="documents")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(storage=private_storage, upload_to=document_path, max_length=200)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of KYC #{self.application_id}"


class ApiKey(models.Model):
    """A partner API key: its public id and its secret, with which the partner signs each
    request (HMAC-SHA256, ``apps.accounts.api_keys.authentication``).

    The secret is stored encrypted (``apps.core.crypto``, MultiFernet), not hashed: the
    server must recompute each signature, so it needs the secret itself; a hash would not
    do. It is shown once, when the key is made. The key id is public and looked up as is.
    A key is never deleted: revoking it sets ``revoked_at`` (its audit events keep naming
    it).
    """

    class Scope(models.TextChoices):
        READ = "read", "Read (GET endpoints)"
        TRADE = "trade", "Trade (place and cancel orders)"
        TRANSFER = "transfer", "Transfer (move funds between wallets, deposits)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="api_keys")
    key_id = ExactCharField(max_length=40, unique=True)
    secret_encrypted = models.TextField(editable=False)
    label = models.CharField(max_length=100)
    # Space-separated Scope values, in Scope order.
    scopes = models.CharField(max_length=32)
    # CIDRs (IPv4 or IPv6) the key may be used from; empty: any address.
    allowed_ips = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"])]
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self) -> str:
        return f"{self.key_id} ({self.label})"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk UPDATE and DELETE refused, as ``AuditEvent.save``/``delete`` refuse one row."""

    def update(self, **kwargs):
        raise ValueError("Audit events are append-only: they are never changed.")

    def delete(self):
        raise ValueError("Audit events are append-only: they are never deleted.")


class AuditEvent(models.Model):
    """One append-only record: an admin's change (who changed what, from Django admin's
    log and its actions) or a security event (logins, failed logins, two-factor changes,
    API keys made, used, refused and revoked, KYC decisions).

    Rows are only ever inserted (``apps.accounts.audit.record``): ``save`` refuses to
    update one, ``delete`` refuses, so do the queryset's ``update`` and ``delete``, the
    admin shows them read-only, and on MariaDB and SQLite a trigger refuses any UPDATE.
    The actor is kept by id and name, not as a foreign key, so the record outlives its
    user's row and no cascade ever touches it.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=40, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=150, blank=True,
                             help_text="The user's name then (or as typed, for a failed "
                                       "login)")
    ip = models.GenericIPAddressField(null=True, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.actor}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only: they are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only: they are never deleted.")
