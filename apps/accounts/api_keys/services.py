"""Partner API keys: made, revoked, and their use recorded.

Contract kept by every function here (as ``apps.accounts.services``): keyword-only
arguments; raises ``apps.core.errors`` errors only (``Forbidden`` 403, ``InvalidInput``
400, ``NotFound`` 404, ``Conflict`` 409); writes run in one transaction and lock what they
count or change first (the user's row to make a key, so that two at once cannot pass
``API_KEY_MAX_PER_USER``; the key's row to revoke it), and record their audit event in the
same transaction.

A key's secret is returned once, by ``api_key_create``, and stored encrypted
(``apps.core.crypto``): signatures are recomputed with it, so it cannot be a hash. Nothing
about a key is cached: every signed request reads its row, so a revocation holds from the
next request on, in every worker.
"""
import ipaddress
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request

from apps.accounts import audit, services
from apps.accounts.models import ApiKey
from apps.core import conf
from apps.core.crypto import encrypt_secret
from apps.core.errors import Conflict, InvalidInput, NotFound

KEY_ID_PREFIX = "ak_"
MAX_ALLOWED_NETWORKS = 20
# How often a key's use is written down (last_used_at, and an audit event when the
# address changes): once per key per interval, not on every request.
USE_RECORD_INTERVAL = timedelta(minutes=1)


def _networks(allowed_ips: Sequence[str]) -> list[str]:
    if len(allowed_ips) > MAX_ALLOWED_NETWORKS:
        raise InvalidInput(f"At most {MAX_ALLOWED_NETWORKS} networks.",
                           fields={"allowed_ips": ["too many"]})
    networks = []
    for entry in allowed_ips:
        try:
            # strict: "10.0.0.1/8" (host bits set) is a typo more likely than a wish.
            network = ipaddress.ip_network(entry.strip(), strict=True)
        except (ValueError, TypeError):
            raise InvalidInput(f"{entry!r} is not an IP address or network (CIDR).",
                               fields={"allowed_ips": [f"{entry!r}: not a CIDR"]}) from None
        networks.append(str(network))
    return sorted(set(networks))


def api_key_create(*, user_id: int, label: str, scopes: Sequence[str],
                   allowed_ips: Sequence[str] = (), expires_at: datetime | None = None,
                   request: HttpRequest | Request | None = None) -> tuple[ApiKey, str]:
    """Make a key for the user; return it and its secret (shown this once, never again).

    Refuses (``Forbidden``: ``mfa_required``, ``kyc_required``) a user without an
    authenticator app or below the KYC level of ``API_KEY_CREATE``; ``InvalidInput`` for no
    or unknown scopes, an empty label, a network that is not a CIDR, an expiry in the
    past; ``Conflict`` past ``API_KEY_MAX_PER_USER`` usable keys. Locks the user's row.
    """
    label = label.strip()
    if not label:
        raise InvalidInput("A key needs a label.", fields={"label": ["required"]})
    chosen = set(scopes)
    if not chosen or not chosen <= set(ApiKey.Scope.values):
        raise InvalidInput("Scopes are one or more of read, trade, transfer.",
                           fields={"scopes": ["one or more of read, trade, transfer"]})
    networks = _networks(allowed_ips)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("The expiry must be in the future.",
                           fields={"expires_at": ["in the past"]})
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user_id).first()
        services.require_mfa(user_id=user_id)
        services.kyc_require(user_id=user_id, action=services.API_KEY_CREATE)
        usable = ApiKey.objects.filter(user_id=user_id, revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)).count()
        if usable >= conf.API_KEY_MAX_PER_USER:
            raise Conflict(f"You have {usable} keys: revoke one first (at most "
                           f"{conf.API_KEY_MAX_PER_USER}).")
        secret = secrets.token_urlsafe(32)
        key = ApiKey.objects.create(
            user_id=user_id, key_id=KEY_ID_PREFIX + secrets.token_hex(16),
            secret_encrypted=encrypt_secret(secret), label=label,
            scopes=" ".join(scope for scope in ApiKey.Scope.values if scope in chosen),
            allowed_ips=networks, expires_at=expires_at)
        audit.record(kind=audit.API_KEY_CREATED, request=request, obj=key,
                     message=f"scopes: {key.scopes}; networks: {', '.join(networks) or 'any'}"
                             f"; expires: {expires_at.isoformat() if expires_at else 'never'}")
    return key, secret


def api_key_revoke(*, user_id: int, key_id: str,
                   request: HttpRequest | Request | None = None) -> ApiKey:
    """Revoke the user's key ``key_id``: it is refused from the next request on (401
    ``api_key_revoked``). Locks the key's row. Revoking a revoked key changes nothing and
    returns it. ``NotFound`` for a key that is not the user's."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(user_id=user_id,
                                                        key_id=key_id).first()
        if key is None:
            raise NotFound("No such API key of yours.")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit.record(kind=audit.API_KEY_REVOKED, request=request, obj=key)
    return key


def api_key_used(*, key: ApiKey, ip: str | None,
                 request: HttpRequest | Request | None = None) -> None:
    """Note that ``key`` signed a request from ``ip``: ``last_used_at`` / ``last_used_ip``
    at most once per USE_RECORD_INTERVAL, and an audit event when the address is new. A
    conditional UPDATE: of concurrent requests, one writes."""
    now = timezone.now()
    fresh = key.last_used_at is not None and now - key.last_used_at < USE_RECORD_INTERVAL
    if fresh and key.last_used_ip == ip:
        return
    updated = ApiKey.objects.filter(pk=key.pk, last_used_at=key.last_used_at).update(
        last_used_at=now, last_used_ip=ip)
    if updated and key.last_used_ip != ip:
        audit.record(kind=audit.API_KEY_USED, request=request, actor_id=key.user_id,
                     actor=key.user.get_username(), obj=key, message=f"from {ip}")
