"""How the payment chain signs a webhook, and how it is checked.

The chain sends two headers with the raw JSON body:

- ``X-Deposit-Timestamp``: the Unix time (whole seconds) it signed at;
- ``X-Deposit-Signature``: ``sha256=`` and the lower-case hex HMAC-SHA256, under a shared
  secret, of ``<timestamp>.<raw body>`` (the bytes as sent).

Signing the timestamp with the body means an old delivery cannot be replayed with a fresh
timestamp; the window (``DEPOSIT_WEBHOOK_WINDOW_SECONDS``, either side of our clock) bounds
how long a captured delivery stays valid at all. Any of ``DEPOSIT_WEBHOOK_SECRETS`` verifies,
so a secret is rotated without a refused delivery: add the new one, switch the chain to
it, remove the old one. Comparisons are constant-time.
"""
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence

TIMESTAMP_HEADER = "X-Deposit-Timestamp"
SIGNATURE_HEADER = "X-Deposit-Signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})", re.ASCII)


class SignatureError(ValueError):
    """Refused; ``str()`` says why, fit for the sender."""


class StaleTimestamp(SignatureError):
    pass


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Deposit-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(*, body: bytes, timestamp: str | None, signature: str | None,
           secrets: Sequence[str], now: float, window: int) -> int:
    """The index in ``secrets`` of the secret that signed ``body``; raises SignatureError
    (missing or malformed header, no secret matches: a changed body or a wrong secret) or
    StaleTimestamp (signed more than ``window`` seconds from ``now``). The signature is
    checked before the time, so an unsigned caller learns nothing about our clock."""
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be the Unix time in whole seconds.")
    match = _SIGNATURE.fullmatch(signature or "")
    if match is None:
        raise SignatureError(f"{SIGNATURE_HEADER} must be sha256=<64 lower-case hex digits>.")
    given = match.group(0)
    found = None
    for index, secret in enumerate(secrets):
        # Every secret is tried: the time taken does not say which one matched.
        if hmac.compare_digest(sign(secret=secret, timestamp=int(timestamp), body=body),
                               given) and found is None:
            found = index
    if found is None:
        raise SignatureError("The signature does not match the body.")
    if abs(now - int(timestamp)) > window:
        raise StaleTimestamp(f"The timestamp is more than {window} seconds from ours.")
    return found


def address_allowed(address: str | None, allowed: Sequence[str]) -> bool:
    """Whether ``address`` is in one of ``allowed`` (addresses or CIDR networks); an empty
    ``allowed`` allows every address."""
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def ip_or_none(address: str | None) -> str | None:
    """``address`` if it is an IP address (what a client address header may hold behind a
    proxy is not necessarily one), else None."""
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None
