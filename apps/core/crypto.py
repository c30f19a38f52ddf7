"""Encryption of secrets stored in the database (API keys), with Fernet.

The key is ``FIELD_ENCRYPTION_KEY`` (a Fernet key) when set, else derived from
``SECRET_KEY`` with HKDF, so rotating SECRET_KEY without setting the former makes stored
secrets unreadable (``decrypt_secret`` then raises ``InvalidToken``).
"""
import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from apps.core import conf


def _fernet() -> Fernet:
    key = conf.FIELD_ENCRYPTION_KEY
    if not key:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"exchange_platform.field-encryption").derive(
            settings.SECRET_KEY.encode())
        key = base64.urlsafe_b64encode(derived)
    return Fernet(key)


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
