"""Creating a contract on a futures market, with its maintenance tiers (the admin's inline
does the same through ``admin.TierFormSet``; this is the path of code: the demo)."""
from collections.abc import Mapping, Sequence

from django.db import transaction

from apps.core.errors import Conflict, InvalidInput
from apps.futures import margin
from apps.futures.models import Contract, MarginTier
from apps.trading.constants import Venue
from apps.trading.models import Market


def contract_create(*, market: Market, tiers: Sequence[margin.Tier],
                    fields: Mapping[str, object] | None = None) -> Contract:
    """A contract on the futures ``market`` with ``tiers`` (sorted by floor) and the
    contract's other ``fields`` (the model's defaults for the rest), in one transaction.
    Locks nothing (the one-to-one on the market refuses a second contract). Raises
    InvalidInput (a market of another venue; tiers ``margin.tiers_check`` refuses),
    Conflict (the market has a contract already)."""
    if market.venue != Venue.FUTURES:
        raise InvalidInput(f"{market.symbol} is a {market.venue} market, not a futures one.")
    problems = margin.tiers_check(tiers)
    if problems:
        raise InvalidInput(" ".join(problems), code="invalid_tiers")
    if Contract.objects.filter(market=market).exists():
        raise Conflict(f"{market.symbol} has a contract already.")
    with transaction.atomic():
        contract = Contract.objects.create(market=market, **(fields or {}))
        MarginTier.objects.bulk_create([
            MarginTier(contract=contract, floor=t.floor, cap=t.cap,
                       max_leverage=t.max_leverage, mmr=t.mmr, maintenance_amount=t.cum)
            for t in tiers])
    return contract
