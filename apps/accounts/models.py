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
