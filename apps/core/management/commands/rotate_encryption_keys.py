"""Re-encrypt every stored secret under the first of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (the old ones after it), deploy,
run this, then remove the old keys. Each registered column (``apps.core.crypto.
register_encrypted_field``) is read in batches of primary keys; each batch is one
transaction that locks its rows (``select_for_update``), so a secret written meanwhile is
never overwritten with an older one. A token already under the first key is left alone,
so running it again changes nothing; one that no key opens stops the command (nothing of
its batch is written) rather than being lost.
"""
from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.crypto import ENCRYPTED_FIELDS, encrypted_under_first_key, reencrypt_secret


class Command(BaseCommand):
    help = "Re-encrypt stored secrets under the first of FIELD_ENCRYPTION_KEYS (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        for label, field in sorted(ENCRYPTED_FIELDS):
            model = apps.get_model(label)
            done = self._rotate(model, field, batch_size)
            self.stdout.write(f"{label}.{field}: {done} re-encrypted")

    def _rotate(self, model, field: str, batch_size: int) -> int:
        done, after = 0, None
        while True:
            ids = model.objects.exclude(**{field: ""}).order_by("pk")
            if after is not None:
                ids = ids.filter(pk__gt=after)
            batch = list(ids.values_list("pk", flat=True)[:batch_size])
            if not batch:
                return done
            with transaction.atomic():
                rows = model.objects.select_for_update().filter(pk__in=batch).order_by("pk")
                for pk, token in rows.values_list("pk", field):
                    if not token or encrypted_under_first_key(token):
                        continue
                    try:
                        rotated = reencrypt_secret(token)
                    except InvalidToken as exc:
                        raise CommandError(f"{model._meta.label} {pk}: no key in "
                                           f"FIELD_ENCRYPTION_KEYS opens its {field} "
                                           f"(InvalidToken).") from exc
                    model.objects.filter(pk=pk).update(**{field: rotated})
                    done += 1
            after = batch[-1]
