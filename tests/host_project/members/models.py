from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    """The host's own user model: the apps must work through AUTH_USER_MODEL."""

    display_name = models.CharField(max_length=80, blank=True)

    class Meta:
        db_table = "members_member"
