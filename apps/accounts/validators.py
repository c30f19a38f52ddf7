"""Usernames chosen at sign-up are plain ASCII (DESIGN.md rule 6): Django's default allows
any Unicode letter, so "аdmin" with a Cyrillic "а" could pass for "admin"."""
from django.contrib.auth.validators import ASCIIUsernameValidator

USERNAME_VALIDATORS = [ASCIIUsernameValidator()]
