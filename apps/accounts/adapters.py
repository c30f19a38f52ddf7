"""allauth's account adapter, with a username taken whatever its case on every database.

allauth asks ``username__iexact``, a LIKE that MariaDB's binary collation on the column
(migration 0001, which makes logins exact) compares case-sensitively: "Admin" could sign
up beside "admin". Comparing the lower-cased names holds on SQLite and MariaDB alike.
"""
from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import get_user_model
from django.db.models.functions import Lower


class AccountAdapter(DefaultAccountAdapter):
    def clean_username(self, username: str, shallow: bool = False) -> str:
        username = super().clean_username(username, shallow=shallow)
        if not shallow:
            User = get_user_model()
            field = User.USERNAME_FIELD
            if (User._default_manager.annotate(name_lower=Lower(field))
                    .filter(name_lower=username.lower()).exists()):
                raise self.validation_error("username_taken")
        return username
