"""Account services: KYC applications and their review, and the checks other apps call
before an action that needs a KYC level or a second factor.

Contract kept by every function here:
- keyword-only arguments; raises ``apps.core.errors`` errors only (the API maps each to its
  4xx): ``Forbidden`` (403) for what the user may not do yet, ``InvalidInput`` (400) for bad
  input, ``Conflict`` (409) for a state that forbids it, ``NotFound`` (404).
- writes run in one transaction and lock what they change first: the user's row for a new
  application (one pending application per user, on every database, without a partial
  unique index MariaDB does not have), the application's row for a decision.
- the checks (``kyc_require``, ``require_mfa``) read only; call them inside the caller's
  transaction, before its first write, so a refused action changes nothing.
"""
import hashlib
from collections.abc import Sequence
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts import audit, selectors
from apps.accounts.models import KycApplication, KycDocument, KycLevel
from apps.core import conf
from apps.core.errors import Conflict, Forbidden, InvalidInput, NotFound

# Actions gated by KYC level (conf.KYC_REQUIRED_LEVEL holds the level of each).
TRADE_PAPER = "trade_paper"
TRADE_LIVE = "trade_live"
WITHDRAW = "withdraw"
API_KEY_CREATE = "api_key_create"

# What an identity document may be, told by its first bytes (never by the name or the
# Content-Type the browser sent).
_SIGNATURES = {b"%PDF-": "application/pdf", b"\xff\xd8\xff": "image/jpeg",
               b"\x89PNG\r\n\x1a\n": "image/png"}


class KycRequired(Forbidden):
    code = "kyc_required"


class MfaRequired(Forbidden):
    code = "mfa_required"


def kyc_require(*, user_id: int, action: str) -> None:
    """Raise ``KycRequired`` (403) unless the user's KYC level reaches the one
    conf.KYC_REQUIRED_LEVEL sets for ``action`` (``TRADE_LIVE``, ``WITHDRAW``, ...).
    An action missing from the setting is a programming error (KeyError), never a pass.
    Reads the user's level only when the action needs more than level 0."""
    required = KycLevel(conf.KYC_REQUIRED_LEVEL[action])
    if required == KycLevel.UNVERIFIED:
        return  # every account reaches level 0: no query (paper orders ask on each one)
    level = selectors.kyc_level(user_id=user_id)
    if level < required:
        raise KycRequired(
            f"This needs KYC level {required.value} ({required.label}); your account is at "
            f"level {level.value} ({level.label}). "
            + ("Verify your e-mail address." if required == KycLevel.EMAIL_VERIFIED
               else "Apply for identity verification on your account page."),
            fields={"required_level": required.value, "level": level.value})


def require_mfa(*, user_id: int) -> None:
    """Raise ``MfaRequired`` (403) unless the user has an authenticator app (TOTP) set up.
    For withdrawals and API key creation: the action itself proves the code separately if
    it asks for one; this says the account is protected at all."""
    if not selectors.has_totp(user_id=user_id):
        raise MfaRequired("Set up two-factor authentication (an authenticator app) on your "
                          "account page first.")


def _document_type(upload: UploadedFile) -> str:
    if upload.size is None or upload.size == 0:
        raise InvalidInput("The file is empty.", fields={"documents": ["empty file"]})
    if upload.size > conf.KYC_DOCUMENT_MAX_BYTES:
        raise InvalidInput(
            f"A document may be at most {conf.KYC_DOCUMENT_MAX_BYTES // 1024} KiB.",
            fields={"documents": ["too large"]})
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    for signature, content_type in _SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    raise InvalidInput("Documents must be PDF, JPEG or PNG files.",
                       fields={"documents": ["not a PDF, JPEG or PNG file"]})


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def kyc_application_submit(*, user_id: int, full_name: str, date_of_birth: date,
                           country: str,
                           documents: Sequence[tuple[str, UploadedFile]]) -> KycApplication:
    """File an identity application with its documents (kind, file) for review.

    Locks the user's row (one submission at a time per user). Raises ``KycRequired`` below
    level 1 (an e-mail address is verified first), ``Conflict`` if an application is
    pending or the identity is already reviewed, ``InvalidInput`` for a document that is
    empty, too large, not a PDF/JPEG/PNG, or of an unknown kind, or without an identity
    document's front. The files go to the private storage (conf.KYC_DOCUMENTS_ROOT).
    """
    kinds = {kind for kind, _ in documents}
    if not kinds <= set(KycDocument.Kind.values):
        raise InvalidInput("Unknown document kind.", fields={"documents": ["unknown kind"]})
    if KycDocument.Kind.ID_FRONT not in kinds:
        raise InvalidInput("The front of an identity document is required.",
                           fields={"documents": ["ID_FRONT is required"]})
    checked = [(kind, upload, _document_type(upload)) for kind, upload in documents]
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user_id).first()
        level = selectors.kyc_level(user_id=user_id)
        if level < KycLevel.EMAIL_VERIFIED:
            raise KycRequired("Verify your e-mail address before applying for identity "
                              "verification.", fields={"required_level": 1, "level": 0})
        if level >= KycLevel.IDENTITY_REVIEWED:
            raise Conflict("Your identity is already reviewed.")
        if KycApplication.objects.filter(user_id=user_id,
                                         status=KycApplication.Status.PENDING).exists():
            raise Conflict("An application of yours is waiting for review.")
        application = KycApplication.objects.create(
            user_id=user_id, full_name=full_name, date_of_birth=date_of_birth,
            country=country)
        for kind, upload, content_type in checked:
            document = KycDocument(application=application, kind=kind,
                                   content_type=content_type, size=upload.size,
                                   sha256=_sha256(upload))
            document.file.save(upload.name or "document", upload, save=False)
            document.save()
    return application


def _decide(*, application_id: int, reviewer_id: int, status: str,
            reason: str = "", request: HttpRequest | None = None) -> KycApplication:
    with transaction.atomic():
        application = (KycApplication.objects.select_for_update()
                       .filter(pk=application_id).first())
        if application is None:
            raise NotFound(f"No KYC application {application_id}.")
        if application.status != KycApplication.Status.PENDING:
            raise Conflict(f"KYC application {application_id} is already "
                           f"{application.get_status_display().lower()}.")
        if application.user_id == reviewer_id:
            raise Conflict("Nobody reviews their own application.")
        application.status = status
        application.reason = reason
        application.decided_by_id = reviewer_id
        application.decided_at = timezone.now()
        application.save(update_fields=["status", "reason", "decided_by", "decided_at"])
        audit.record(kind=(audit.KYC_APPROVED if status == KycApplication.Status.APPROVED
                           else audit.KYC_REJECTED),
                     request=request, actor_id=reviewer_id,
                     actor=get_user_model().objects.get(pk=reviewer_id).get_username(),
                     obj=application, message=reason)
    return application


def kyc_application_approve(*, application_id: int, reviewer_id: int,
                            request: HttpRequest | None = None) -> KycApplication:
    """Approve a pending application: its user is at level 2 from now on. Locks the
    application's row; records the reviewer and the time. Raises ``NotFound``, or
    ``Conflict`` if it is decided already or the reviewer is its applicant. Records the
    decision in the audit trail (with ``request``'s address)."""
    return _decide(application_id=application_id, reviewer_id=reviewer_id,
                   status=KycApplication.Status.APPROVED, request=request)


def bot_account_ensure(*, username: str) -> int:
    """The operator's bot account ``username`` (a market maker, the futures liquidation
    engine; created if missing), tagged as a bot (in ``selectors.BOT_GROUP``, so its
    trades are marked and volume can leave them out) and at KYC level 2 (an application
    the platform approved itself, audited once), so that live venues take its orders. It
    has no usable password: it never logs in.

    Idempotent; locks the user's row. Raises ``Conflict`` if ``username`` is a person's
    account (one not in the bot group that exists already): a bot is never made of one.
    Returns the user's id."""
    User = get_user_model()
    group, _ = Group.objects.get_or_create(name=selectors.BOT_GROUP)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            user = User(username=username, is_active=True)
            user.set_unusable_password()
            user.save()
            user.groups.add(group)
        elif not user.groups.filter(pk=group.pk).exists():
            raise Conflict(f"{username} is a person's account, not a bot's.")
        if selectors.kyc_level(user_id=user.pk) < KycLevel.IDENTITY_REVIEWED:
            application = KycApplication.objects.create(
                user=user, full_name=f"Bot {username} (operator account)",
                date_of_birth=date(1970, 1, 1), country="ZZ",
                status=KycApplication.Status.APPROVED, decided_at=timezone.now())
            audit.record(kind=audit.KYC_APPROVED, actor="system", obj=application,
                         message="the operator's bot account")
    return user.pk


def kyc_application_reject(*, application_id: int, reviewer_id: int, reason: str,
                           request: HttpRequest | None = None) -> KycApplication:
    """Reject a pending application with the reason its user will read. As ``approve``;
    also ``InvalidInput`` for an empty reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("A rejection needs a reason.", fields={"reason": ["required"]})
    return _decide(application_id=application_id, reviewer_id=reviewer_id,
                   status=KycApplication.Status.REJECTED, reason=reason, request=request)
