"""Encryption of secrets stored in the database (provider and partner API keys), with
``MultiFernet``: a list of keys, the first encrypts, every one decrypts.

The keys are ``FIELD_ENCRYPTION_KEYS`` (Fernet keys, newest first), followed always by one
derived from ``SECRET_KEY`` with HKDF: with no keys set, that one encrypts; once keys are
set, secrets stored before stay readable until ``manage.py rotate_encryption_keys``
re-encrypts them under the first key. Rotation: put the new key first, keep the old ones
after it, run the command, then drop the old ones. A token no key opens raises
``InvalidToken``.

Each app that stores an encrypted column registers it (``register_encrypted_field``, from
its ``AppConfig.ready``), so the rotation command finds every one without importing the
apps that own them.
"""
import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from apps.core import conf

# (app_label.ModelName, field name) of every column holding a token of encrypt_secret.
ENCRYPTED_FIELDS: set[tuple[str, str]] = set()


def register_encrypted_field(model: str, field: str) -> None:
    """Declare that ``model`` ("app_label.ModelName") keeps ``encrypt_secret`` tokens in
    ``field`` (blank for none): ``rotate_encryption_keys`` re-encrypts them."""
    ENCRYPTED_FIELDS.add((model, field))


def _derived_key() -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"exchange_platform.field-encryption").derive(
        settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(derived)


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in [*conf.FIELD_ENCRYPTION_KEYS, _derived_key()]])


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def reencrypt_secret(token: str) -> str:
    """``token`` encrypted under the first key (``MultiFernet.rotate``: the original
    timestamp is kept). Raises ``InvalidToken`` if no key opens it."""
    return _fernet().rotate(token.encode()).decode()


def encrypted_under_first_key(token: str) -> bool:
    """True if the first key (the one that encrypts) opens ``token``."""
    first = [*conf.FIELD_ENCRYPTION_KEYS, _derived_key()][0]
    try:
        Fernet(first).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
