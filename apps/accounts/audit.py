"""The audit trail: append-only ``AuditEvent`` rows for admins' changes and security events.

``record`` is the one writer. The receivers below (connected in ``AccountsConfig.ready``)
feed it from what already announces each event, so no view has to remember to:

- Django's auth signals: logins (web, admin, API token) and failed logins, logouts;
- allauth's: password changes and resets, two-factor authenticators added, removed or
  reset (recovery codes), a wrong second-factor code;
- the admin's ``LogEntry`` (every add, change and delete a ModelAdmin saves: markets,
  fees, providers, ...); admin actions (which Django does not log) are recorded by the
  admin site itself (``apps.accounts.admin_site``), the KYC decisions and API keys by
  their services.

A record is written in the caller's transaction when there is one (an action that rolls
back leaves no record of having happened), and never raises into the caller for a field
too long: each text is cut to its column.
"""
import ipaddress

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_save
from django.http import HttpRequest
from rest_framework.request import Request

from apps.accounts.lockout import client_address
from apps.accounts.models import AuditEvent

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"
PASSWORD_RESET = "password_reset"
MFA_ADDED = "mfa_added"
MFA_REMOVED = "mfa_removed"
MFA_RESET = "mfa_reset"
MFA_FAILED = "mfa_failed"
ADMIN_ADD = "admin_add"
ADMIN_CHANGE = "admin_change"
ADMIN_DELETE = "admin_delete"
ADMIN_ACTION = "admin_action"
KYC_APPROVED = "kyc_approved"
KYC_REJECTED = "kyc_rejected"
API_KEY_CREATED = "api_key_created"
API_KEY_REVOKED = "api_key_revoked"
API_KEY_USED = "api_key_used"
API_KEY_REFUSED = "api_key_refused"
ORDER_CANCELLED_BY_ADMIN = "order_cancelled_by_admin"

_ADMIN_KINDS = {ADDITION: ADMIN_ADD, CHANGE: ADMIN_CHANGE, DELETION: ADMIN_DELETE}


def _cut(text: object, field: str) -> str:
    return str(text)[:AuditEvent._meta.get_field(field).max_length]


def _address(request: HttpRequest | Request | None) -> str | None:
    # What the client address column can hold: an IP address, or nothing.
    if request is None:
        return None
    try:
        return str(ipaddress.ip_address(client_address(request)))
    except ValueError:
        return None


def record(*, kind: str, request: HttpRequest | Request | None = None,
           actor_id: int | None = None, actor: str = "", obj: object = None,
           object_type: str = "", object_id: object = "", object_repr: str = "",
           message: str = "") -> AuditEvent:
    """Insert one audit event. The actor defaults to the request's user, the address to
    the request's client (``client_address``); ``obj`` (a model instance) fills the
    object's type, id and text. Runs in the caller's transaction, if any."""
    if actor_id is None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor_id, actor = user.pk, actor or user.get_username()
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    return AuditEvent.objects.create(
        kind=kind, actor_id=actor_id, actor=_cut(actor, "actor"),
        ip=_address(request),
        object_type=_cut(object_type, "object_type"), object_id=_cut(object_id, "object_id"),
        object_repr=_cut(object_repr, "object_repr"), message=str(message))


def _on_login(sender, request, user, **kwargs) -> None:
    record(kind=LOGIN, request=request, actor_id=user.pk, actor=user.get_username())


def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked secrets in ``credentials`` (password: ****).
    typed = credentials.get("username") or credentials.get("email") or ""
    record(kind=LOGIN_FAILED, request=request, actor=typed)


def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        record(kind=LOGOUT, request=request, actor_id=user.pk, actor=user.get_username())


def _user_event(kind: str):
    def receiver(sender, request, user, **kwargs) -> None:
        authenticator = kwargs.get("authenticator")
        record(kind=kind, request=request, actor_id=user.pk, actor=user.get_username(),
               message=f"authenticator: {authenticator.type}" if authenticator else "")
    return receiver


def _on_log_entry(sender, instance: LogEntry, created: bool, raw: bool = False,
                  **kwargs) -> None:
    if not created or raw:
        return
    record(kind=_ADMIN_KINDS.get(instance.action_flag, ADMIN_CHANGE),
           actor_id=instance.user_id, actor=instance.user.get_username(),
           object_type=(instance.content_type.model_class()._meta.label
                        if instance.content_type and instance.content_type.model_class()
                        else ""),
           object_id=instance.object_id or "", object_repr=instance.object_repr,
           message=instance.get_change_message())


# weak=False on connecting: the receivers made by _user_event have no other reference.
_RECEIVERS = [
    (auth_signals.user_logged_in, _on_login),
    (auth_signals.user_login_failed, _on_login_failed),
    (auth_signals.user_logged_out, _on_logout),
    (account_signals.password_changed, _user_event(PASSWORD_CHANGED)),
    (account_signals.password_reset, _user_event(PASSWORD_RESET)),
    (mfa_signals.authenticator_added, _user_event(MFA_ADDED)),
    (mfa_signals.authenticator_removed, _user_event(MFA_REMOVED)),
    (mfa_signals.authenticator_reset, _user_event(MFA_RESET)),
    (mfa_signals.authentication_failed, _user_event(MFA_FAILED)),
]


def connect() -> None:
    """Connect the receivers (from ``AccountsConfig.ready``; idempotent by dispatch_uid)."""
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, weak=False, dispatch_uid=f"audit.{receiver.__qualname__}"
                       f".{id(signal)}")
    post_save.connect(_on_log_entry, sender=LogEntry, dispatch_uid="audit.log_entry")
