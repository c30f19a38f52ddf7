"""Where an intent's rate comes from.

``DEPOSIT_RATE_PROVIDER`` names a callable ``(currency=..., coin=...) -> Decimal`` giving
units of the deposit currency per one coin; ``services.intent_create`` fixes its answer on
the intent. The one provider shipped, ``fixed_rate``, answers ``DEPOSIT_FIXED_RATE`` from
settings: right for a coin pegged to the deposit currency, and what ``make run`` and the
tests use. A market-priced coin needs a provider that reads its market.
"""
from decimal import Decimal

from django.utils.module_loading import import_string

from apps.core import conf
from apps.core.money import AmountError, parse_amount


def fixed_rate(*, currency: str, coin: str) -> Decimal:
    """``DEPOSIT_FIXED_RATE`` (a plain decimal string, > 0), whatever the pair."""
    try:
        return parse_amount(conf.DEPOSIT_FIXED_RATE)
    except AmountError as exc:
        raise ValueError(f"DEPOSIT_FIXED_RATE {exc}") from None  # configuration, not input


def current_rate(*, currency: str, coin: str) -> Decimal:
    """The configured provider's rate for ``coin`` in ``currency``; a provider that answers
    anything but a finite Decimal > 0 is a configuration error (ValueError)."""
    rate = import_string(conf.DEPOSIT_RATE_PROVIDER)(currency=currency, coin=coin)
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ValueError(f"{conf.DEPOSIT_RATE_PROVIDER} gave the rate {rate!r}")
    return rate
