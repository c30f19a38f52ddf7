"""MultiFernet: FIELD_ENCRYPTION_KEYS' first key encrypts, every key decrypts, and
rotate_encryption_keys re-encrypts every registered secret under the first key."""
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiKey
from apps.core import crypto
from apps.core.checks import settings_valid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored_key(user, n: int) -> ApiKey:
    return ApiKey.objects.create(user=user, key_id=f"ak_{n:032x}", label="k", scopes="read",
                                 secret_encrypted=crypto.encrypt_secret(f"secret-{n}"))


def rotate(**options) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out, **options)
    return out.getvalue()


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt_secret("s")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt_secret(token) == "s"
    assert Fernet(NEW.encode()).decrypt(crypto.encrypt_secret("t").encode()) == b"t"
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(InvalidToken):
        crypto.decrypt_secret(token)


def test_rotation_re_encrypts_in_batches_and_is_idempotent(settings):
    user = UserFactory()
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    keys = [stored_key(user, n) for n in range(5)]
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert "accounts.ApiKey.secret_encrypted: 5 re-encrypted" in rotate(batch_size=2)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone: all still readable
    for n, key in enumerate(keys):
        key.refresh_from_db()
        assert crypto.decrypt_secret(key.secret_encrypted) == f"secret-{n}"
    before = list(ApiKey.objects.order_by("pk").values_list("secret_encrypted", flat=True))
    assert "accounts.ApiKey.secret_encrypted: 0 re-encrypted" in rotate()
    assert list(ApiKey.objects.order_by("pk").values_list("secret_encrypted", flat=True)) \
        == before


def test_secrets_made_before_any_key_was_set_move_to_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []  # the key derived from SECRET_KEY
    key = stored_key(UserFactory(), 1)
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    rotate()
    key.refresh_from_db()
    assert Fernet(NEW.encode()).decrypt(key.secret_encrypted.encode()) == b"secret-1"


def test_a_secret_no_key_opens_stops_the_rotation_and_its_batch_is_not_written(settings):
    user = UserFactory()
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    first = stored_key(user, 1)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    lost = stored_key(user, 2)
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match=f"accounts.ApiKey {lost.pk}"):
        rotate()
    first.refresh_from_db()
    assert Fernet(OLD.encode()).decrypt(first.secret_encrypted.encode()) == b"secret-1"


def test_the_provider_key_of_twelvedata_is_registered_too():
    assert ("twelvedata.TwdProvider", "api_key_encrypted") in crypto.ENCRYPTED_FIELDS


@pytest.mark.parametrize("value", [["not-a-key"], "a-string", [NEW[:-4]], [1]])
def test_a_bad_key_list_fails_the_system_check(settings, value):
    settings.FIELD_ENCRYPTION_KEYS = value
    assert any("FIELD_ENCRYPTION_KEYS" in error.msg for error in settings_valid())
