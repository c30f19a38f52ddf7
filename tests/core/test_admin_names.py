"""The admin index names every model in plain words (issue #19): acronyms in capitals, no
abbreviations of the code's class names, plurals spelled as English spells them."""
import re

from django.contrib import admin


def test_the_admin_index_uses_plain_names(admin_client):
    index = admin_client.get("/admin/").content.decode()
    for name in ("API keys", "KYC applications", "Ecosystem markets", "Engine outbox entries"):
        assert f">{name}<" in index, name
    for clumsy in ("Api keys", "Kyc applications", "Eco markets", "Engine outboxs"):
        assert f">{clumsy}<" not in index, clumsy


def test_no_registered_model_is_named_by_a_lowercased_acronym_or_a_made_up_plural():
    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        assert not re.search(r"\b(api|kyc|twd|eco)\b", plural), plural
        assert not plural.endswith(("xs", "ys")) or plural.endswith(("keys", "days")), plural
