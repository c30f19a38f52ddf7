"""Reads of the spot venue (no writes, no calls to the exchange)."""
from django.db.models import QuerySet

from apps.core import conf
from apps.core.crypto import decrypt_secret
from apps.core.errors import Conflict
from apps.spot.models import SpotProvider
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market


def provider_active() -> SpotProvider:
    """The one active provider. Raises Conflict (503-like: none configured)."""
    provider = SpotProvider.objects.filter(is_active=True).first()
    if provider is None:
        raise Conflict("No spot exchange provider is active.", code="spot_no_provider")
    return provider


def provider_credentials(provider: SpotProvider) -> tuple[str, str]:
    """The API key and secret: the settings' when set, else the provider's stored ones."""
    key = conf.SPOT_API_KEY or (decrypt_secret(provider.api_key_encrypted)
                                if provider.api_key_encrypted else "")
    secret = conf.SPOT_API_SECRET or (decrypt_secret(provider.api_secret_encrypted)
                                      if provider.api_secret_encrypted else "")
    return key, secret


def markets_enabled() -> QuerySet[Market]:
    """The spot venue's enabled markets with their exchange details (``market.spot``),
    by symbol."""
    return (Market.objects.select_related("spot")
            .filter(venue=Venue.SPOT, status=MarketStatus.ENABLED, spot__isnull=False)
            .order_by("symbol"))
