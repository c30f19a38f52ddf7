"""Signed requests with a partner API key (DRF): authentication, scopes, rate limits.

A request carries four headers:

- ``X-API-Key``: the key id (``ak_...``);
- ``X-API-Timestamp``: Unix time in seconds when it was signed;
- ``X-API-Nonce``: 16 to 64 characters of ``[A-Za-z0-9_-]``, never used twice;
- ``X-API-Signature``: lower-case hex HMAC-SHA256, under the key's secret, of ``string_to_sign``:
  timestamp, nonce, method, path, canonical query, each followed by a newline, then the
  body's raw bytes. The path is as the server sees it (percent-decoded); the canonical
  query is its parameters sorted by name then value, percent-encoded (RFC 3986,
  ``urllib.parse.quote`` with ``safe="-_.~"``) and joined with ``&``.

Checked in this order, the first failure answering: the headers' form (401
``signature_malformed``); the key (401 ``api_key_invalid``, ``api_key_revoked``,
``api_key_expired``); the timestamp within API_KEY_SIGNATURE_WINDOW_SECONDS of the
server's clock (401 ``timestamp_outside_window``); the signature (401
``signature_invalid``); the client address in the key's allowlist (403
``ip_not_allowed``); the nonce unseen (401 ``nonce_reused``: a Redis ``SET NX`` with a
TTL of twice the window, shared by every worker, taken only once all else passed, so a
refused request burns no nonce). Then ``ApiKeyScopePermission`` (403
``api_key_scope``) and ``ApiKeyRateThrottle`` (429 ``throttled`` with ``Retry-After``).
A refused request reaches no view, so it changes nothing (its audit event aside).
"""
import hashlib
import hmac
import ipaddress
import math
import re
import time
from urllib.parse import parse_qsl, quote

from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import BaseThrottle

from apps.accounts import audit
from apps.accounts.api_keys import services
from apps.accounts.lockout import client_address
from apps.accounts.models import ApiKey
from apps.core import conf
from apps.core.crypto import decrypt_secret

KEY_HEADER = "X-API-Key"
TIMESTAMP_HEADER = "X-API-Timestamp"
NONCE_HEADER = "X-API-Nonce"
SIGNATURE_HEADER = "X-API-Signature"
_KEY_ID = re.compile(r"ak_[0-9a-f]{32}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


def canonical_query(query_string: str) -> str:
    pairs = sorted(parse_qsl(query_string, keep_blank_values=True))
    return "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
                    for name, value in pairs)


def string_to_sign(*, timestamp: str, nonce: str, method: str, path: str,
                   query_string: str, body: bytes) -> bytes:
    head = "\n".join([timestamp, nonce, method.upper(), path, canonical_query(query_string)])
    return head.encode() + b"\n" + body


def sign(*, secret: str, timestamp: str, nonce: str, method: str, path: str,
         query_string: str, body: bytes) -> str:
    """The signature a client sends (the README's example computes the same)."""
    return hmac.new(secret.encode(), string_to_sign(
        timestamp=timestamp, nonce=nonce, method=method, path=path,
        query_string=query_string, body=body), hashlib.sha256).hexdigest()


class KeyRefused(exceptions.AuthenticationFailed):
    """401 with a code of its own (the API's ``error.code``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


class IpNotAllowed(exceptions.PermissionDenied):
    default_code = "ip_not_allowed"


def _refuse(request, key: ApiKey, error: exceptions.APIException) -> None:
    # One audit event per key and reason a minute: enough to see an attack, too few for
    # one to fill the table.
    code = error.get_codes()
    if cache.add(f"apikey-refused:{key.pk}:{code}", 1, timeout=60):
        # The Django request: the DRF one's .user would authenticate it again.
        audit.record(kind=audit.API_KEY_REFUSED, request=request._request, actor_id=key.user_id,
                     actor=key.user.get_username(), obj=key, message=str(code))
    raise error


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates a request signed with an API key; ``request.auth`` is the ApiKey.
    A request without ``X-API-Key`` is left to the other authentication classes."""

    def authenticate(self, request):
        headers = request.headers
        key_id = headers.get(KEY_HEADER)
        if key_id is None:
            return None
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not (_KEY_ID.fullmatch(key_id) and _TIMESTAMP.fullmatch(timestamp)
                and _NONCE.fullmatch(nonce) and _SIGNATURE.fullmatch(signature)):
            raise KeyRefused(f"Signed requests carry {KEY_HEADER}, {TIMESTAMP_HEADER} (Unix "
                             f"seconds), {NONCE_HEADER} (16-64 of A-Z a-z 0-9 _ -) and "
                             f"{SIGNATURE_HEADER} (64 lower-case hex digits).",
                             "signature_malformed")
        key = ApiKey.objects.select_related("user").filter(key_id=key_id).first()
        if key is None or not key.user.is_active:
            raise KeyRefused("Unknown API key.", "api_key_invalid")
        if key.revoked_at is not None:
            _refuse(request, key, KeyRefused("This API key is revoked.", "api_key_revoked"))
        if key.expires_at is not None and key.expires_at <= timezone.now():
            _refuse(request, key, KeyRefused("This API key has expired.", "api_key_expired"))
        window = conf.API_KEY_SIGNATURE_WINDOW_SECONDS
        if abs(time.time() - int(timestamp)) > window:
            _refuse(request, key, KeyRefused(
                f"{TIMESTAMP_HEADER} must be within {window} s of the server's time "
                f"(now {int(time.time())}).", "timestamp_outside_window"))
        expected = sign(secret=decrypt_secret(key.secret_encrypted), timestamp=timestamp,
                        nonce=nonce, method=request.method, path=request.path,
                        query_string=request.META.get("QUERY_STRING", ""),
                        body=request._request.body)
        if not hmac.compare_digest(expected, signature):
            _refuse(request, key, KeyRefused("The signature does not match.",
                                             "signature_invalid"))
        ip = client_address(request)
        if key.allowed_ips and not _allowed(ip, key.allowed_ips):
            _refuse(request, key, IpNotAllowed(f"This API key may not be used from {ip}."))
        if not cache.add(f"apikey-nonce:{key.pk}:{nonce}", 1, timeout=2 * window + 1):
            _refuse(request, key, KeyRefused("This nonce was used already.", "nonce_reused"))
        services.api_key_used(key=key, ip=_ip_or_none(ip), request=request._request)
        return key.user, key

    def authenticate_header(self, request) -> str:
        return 'HMAC-SHA256 realm="api"'


def _ip_or_none(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _allowed(ip: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def required_scope(request, view) -> str:
    """read for GET/HEAD/OPTIONS; transfer for the unsafe methods of the URL names in
    API_KEY_TRANSFER_URL_NAMES (moving funds); trade for every other unsafe method."""
    if request.method in SAFE_METHODS:
        return ApiKey.Scope.READ.value
    match = request.resolver_match
    if match is not None and match.url_name in conf.API_KEY_TRANSFER_URL_NAMES:
        return ApiKey.Scope.TRANSFER.value
    return ApiKey.Scope.TRADE.value


class ApiKeyScopePermission(BasePermission):
    """A request signed with an API key needs the scope the view's method requires (403
    ``api_key_scope``); any other request passes. In DEFAULT_PERMISSION_CLASSES."""

    code = "api_key_scope"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        scope = required_scope(request, view)
        if scope in request.auth.scope_list:
            return True
        self.message = f"This API key lacks the {scope!r} scope this request needs."
        return False


class ApiKeyRateThrottle(BaseThrottle):
    """Per key: at most API_KEY_RATE_LIMIT weight per fixed window of
    API_KEY_RATE_WINDOW_SECONDS, counted in the default cache (Redis: one ``INCRBY`` per
    request, atomic, shared by every worker). A request weighs API_KEY_REQUEST_WEIGHTS[its
    URL name], else 1. A refused request gives its weight back, so it does not count;
    ``Retry-After`` is the time to the window's end."""

    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        match = request.resolver_match
        weight = conf.API_KEY_REQUEST_WEIGHTS.get(match.url_name if match else "", 1)
        window = conf.API_KEY_RATE_WINDOW_SECONDS
        now = time.time()
        index = int(now // window)
        counter = f"apikey-rate:{request.auth.pk}:{index}"
        # Outlives its window: never expires (and restarts at zero) while still counted.
        cache.add(counter, 0, timeout=2 * window)
        if cache.incr(counter, weight) <= conf.API_KEY_RATE_LIMIT:
            return True
        cache.decr(counter, weight)
        self._wait = (index + 1) * window - now
        return False

    def wait(self) -> float:
        return math.ceil(self._wait)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKeySignature"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": KEY_HEADER,
                "description": "A partner API key's id; the request also carries "
                               f"{TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} "
                               "(README \"Partner API keys\")."}
