"""Password login by username or e-mail address (allauth's backend), with the username
compared exactly (DESIGN.md rule 6).

allauth matches a username case-insensitively ("USER1" logs in as user1); its sign-up
already refuses a name that differs from a taken one only in case, so nobody needs that
here, and an identifier that compares loosely is one a look-alike can borrow. E-mail
addresses keep allauth's matching: an address's case is not part of who it reaches.
"""
from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser


class ExactUsernameBackend(AuthenticationBackend):
    def _authenticate_by_username(self, username: str,
                                  password: str) -> AbstractBaseUser | None:
        User = get_user_model()
        # The column compares exactly: SQLite's "=", a binary collation on MariaDB (0001).
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        return self._check_password(user, password)
