"""Reads of deposit intents and events."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.core import signing
from django.db.models import QuerySet
from django.utils import timezone

from apps.core import conf
from apps.core.errors import NotFound
from apps.core.money import EXACT, exact_mul, round_down
from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets import selectors as wallet_selectors

LINK_SALT = "deposits.payment-link"


def intent_list(*, user_id: int) -> QuerySet[DepositIntent]:
    return DepositIntent.objects.filter(user_id=user_id)


def intent_get(*, user_id: int, public_id: str) -> DepositIntent:
    """The user's intent named ``public_id``; NotFound for any other (including another
    user's: whether it exists is not theirs to know)."""
    intent = DepositIntent.objects.filter(user_id=user_id, public_id=public_id).first()
    if intent is None:
        raise NotFound("No deposit intent of yours has this id.")
    return intent


def payment_url(intent: DepositIntent) -> str:
    """The payment chain's page for ``intent``: ``DEPOSIT_PAYMENT_URL`` with ``token``, a
    signed payload (django.core.signing, key ``DEPOSIT_LINK_SECRET``, else SECRET_KEY) of
    the intent's public id, coin, amount to pay and expiry. The chain reads the intent from
    it and cannot be handed an altered amount; the webhook names the intent back by id."""
    token = signing.dumps({
        "intent": str(intent.public_id), "coin": intent.coin,
        "pay_amount": f"{intent.pay_amount.normalize():f}",
        "expires_at": int(intent.expires_at.timestamp()),
    }, key=conf.DEPOSIT_LINK_SECRET or None, salt=LINK_SALT)
    return f"{conf.DEPOSIT_PAYMENT_URL}?{urlencode({'token': token})}"


def events_stalled(*, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """Ids of up to 500 events still RECEIVED ``older_than`` after receipt (their task was
    lost): the sweep hands them to ``services.event_process`` again."""
    now = now or timezone.now()
    return list(DepositEvent.objects.filter(
        verdict=DepositEvent.Verdict.RECEIVED, received_at__lt=now - older_than)
        .order_by("pk").values_list("pk", flat=True)[:500])


# Deliveries that say nothing paid this intent: no valid amount, or a transaction another
# intent owns.
NOT_PAYMENTS = [DepositEvent.Verdict.INVALID, DepositEvent.Verdict.TX_REUSED,
                DepositEvent.Verdict.UNKNOWN_INTENT]


@dataclass(frozen=True)
class Payments:
    """What the chain reported paid for an intent, for an admin's manual resolution."""

    events: list[DepositEvent]  # one per transaction: its first delivery
    paid: Decimal  # coin, the sum over those transactions
    suggested: Decimal  # paid at the intent's rate, rounded down to the currency's decimals


def intent_payments(*, intent: DepositIntent) -> Payments:
    """The transactions the chain reported for ``intent`` (each counted once, by its first
    delivery; deliveries refused as TX_REUSED or INVALID do not count), their sum in the
    coin, and the credit that sum suggests: converted at the intent's rate, rounded down to
    the currency's decimals, and at most the intent's amount unless
    ``DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT``."""
    first: dict[str, DepositEvent] = {}
    for event in (intent.events.exclude(verdict__in=NOT_PAYMENTS)
                  .exclude(amount_paid__isnull=True).order_by("pk")):
        first.setdefault(event.tx_hash, event)
    paid = Decimal(0)
    for event in first.values():
        paid = EXACT.add(paid, event.amount_paid)
    suggested = round_down(exact_mul(paid, intent.rate), decimals=wallet_selectors
                           .currency_decimals(code=intent.currency))
    if not conf.DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT:
        suggested = min(suggested, intent.amount)
    return Payments(events=list(first.values()), paid=paid, suggested=suggested)
