"""Reads about partner API keys."""
from apps.accounts.models import ApiKey


def api_keys(*, user_id: int) -> list[ApiKey]:
    """The user's keys, newest first, revoked and expired ones too."""
    return list(ApiKey.objects.filter(user_id=user_id))
