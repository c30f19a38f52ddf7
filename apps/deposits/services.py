"""Deposit intents and their confirmation by the payment chain's webhook: the only writer
of ``DepositIntent`` and ``DepositEvent``.

Every function here runs in one transaction (joining the caller's) and keeps these rules:

- **A credit happens once per intent.** It is the journal ``deposit:<intent pk>``
  (``credit_key``) written by ``apps.wallets.services.deposit`` (SPOT wallet, from
  EXTERNAL), under the intent's row lock and only while the intent is not CONFIRMED; the
  journal key is unique, so even a path that skipped the status check would credit once.
- **A chain transaction pays one intent**: the one its first received delivery named.
  ``tx_hash`` is unique across intents (a database constraint) and is kept on the intent a
  transaction credited, and on one it paid short or late: a concurrent decision by the
  same transaction for another intent fails on the index and is recorded TX_REUSED, its
  writes rolled back with it.
- **A user's unpaid intents are bounded** (``DEPOSIT_MAX_PENDING_INTENTS``): counted and
  inserted under the user's SPOT wallet row lock, the only lock ``intent_create`` takes.
- **Lock order:** the event row, then the intent row (by primary key), then the wallets
  (``wallets_lock``), all before the first write. The expiry sweep locks intents by primary
  key too, and never holds a wallet.
- **What is refused writes nothing**: a delivery that fails verification raises before any
  row is written. A verified delivery is always kept (``DepositEvent``, raw body and
  verdict), including one that credits nothing.
- Errors are ``apps.core.errors`` subclasses (the API maps them to 4xx).
"""
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import conf
from apps.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from apps.core.money import (
    EXACT,
    MAX_AMOUNT,
    ROUNDING,
    AmountError,
    exact_mul,
    parse_amount,
    quantize_exact,
    round_up,
)
from apps.deposits import rates, signatures
from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount, WalletType

log = structlog.get_logger(__name__)
Status, Verdict = DepositIntent.Status, DepositEvent.Verdict
# A chain transaction id: ASCII letters and digits (hex with or without 0x, base58...).
TX_HASH = re.compile(r"[A-Za-z0-9]{8,128}", re.ASCII)


class Unauthenticated(DomainError):
    """The delivery is not from the payment chain (signature, timestamp)."""

    status = 401
    code = "invalid_signature"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


def credit_key(intent: DepositIntent) -> str:
    """The idempotency key of an intent's one credit journal."""
    return f"deposit:{intent.pk}"


# --- intents ------------------------------------------------------------------------------


def intent_create(*, user_id: int, amount: Decimal, now: datetime | None = None
                  ) -> DepositIntent:
    """A PENDING intent to deposit ``amount`` of ``DEPOSIT_CURRENCY``, to be paid in
    ``DEPOSIT_COIN`` at the configured provider's rate (fixed now; the coin amount rounded
    up to ``DEPOSIT_COIN_DECIMALS``), expiring after ``DEPOSIT_INTENT_TTL_SECONDS``. Moves
    no money. Locks the user's SPOT wallet in the deposit currency (created if missing)
    while it counts their unpaid intents and inserts. Raises InvalidInput (more decimals
    than the currency has, outside ``DEPOSIT_MIN_AMOUNT``..``DEPOSIT_MAX_AMOUNT``, a coin
    amount beyond what a money column holds), Conflict ("too_many_pending_intents": the
    user already holds ``DEPOSIT_MAX_PENDING_INTENTS`` PENDING intents not yet expired)."""
    currency = conf.DEPOSIT_CURRENCY
    try:
        amount = quantize_exact(amount, decimals=wallet_selectors.currency_decimals(
            code=currency))
    except AmountError as exc:
        raise InvalidInput(f"Amount {exc} for {currency}.", fields={"amount": [
            f"Amount {exc} for {currency}."]}) from None
    low, high = (parse_amount(conf.DEPOSIT_MIN_AMOUNT),
                 parse_amount(conf.DEPOSIT_MAX_AMOUNT))
    if not low <= amount <= high:
        message = f"A deposit is from {low} to {high} {currency}."
        raise InvalidInput(message, code="amount_out_of_range", fields={"amount": [message]})
    coin = conf.DEPOSIT_COIN
    rate = rates.current_rate(currency=currency, coin=coin)
    pay_amount = round_up(ROUNDING.divide(amount, rate), decimals=conf.DEPOSIT_COIN_DECIMALS)
    if pay_amount >= MAX_AMOUNT:  # a coin worth next to nothing: more than a column holds
        message = f"At the rate {rate} {currency} per {coin} this amount cannot be paid."
        raise InvalidInput(message, code="amount_out_of_range", fields={"amount": [message]})
    now = now or timezone.now()
    with transaction.atomic():
        # The user's SPOT wallet row (the one this deposit credits) serialises their
        # creates: two at once cannot both count below the limit and both insert.
        wallet_services.wallets_lock(owners=[(user_id, None, WalletType.SPOT, currency)])
        pending = DepositIntent.objects.filter(user_id=user_id, status=Status.PENDING,
                                               expires_at__gt=now).count()
        if pending >= conf.DEPOSIT_MAX_PENDING_INTENTS:
            raise Conflict(f"You have {pending} unpaid deposit intents, the most allowed: "
                           "pay one or wait for one to expire.",
                           code="too_many_pending_intents")
        intent = DepositIntent.objects.create(
            user_id=user_id, amount=amount, currency=currency, coin=coin, rate=rate,
            pay_amount=pay_amount,
            expires_at=now + timedelta(seconds=conf.DEPOSIT_INTENT_TTL_SECONDS))
    log.info("deposit_intent_created", intent=str(intent.public_id), user_id=user_id,
             amount=str(amount), pay_amount=str(pay_amount), coin=coin)
    return intent


def _credit(intent: DepositIntent, *, amount: Decimal, now: datetime, memo: str) -> None:
    """Credit ``amount`` to the locked, unconfirmed ``intent``'s user and mark it CONFIRMED
    (the caller holds its row lock and has set whatever else it records)."""
    owners = [(intent.user_id, None, WalletType.SPOT, intent.currency),
              (None, SystemAccount.EXTERNAL, WalletType.SPOT, intent.currency)]
    wallet_services.wallets_lock(owners=owners)
    wallet_services.deposit(user_id=intent.user_id, wallet_type=WalletType.SPOT,
                            currency=intent.currency, amount=amount,
                            key=credit_key(intent), memo=memo)
    intent.status, intent.confirmed_at, intent.credited_amount = Status.CONFIRMED, now, amount
    intent.save()


def intent_resolve(*, intent_id: int, confirm: bool, reason: str, by_user_id: int,
                   amount: Decimal | None = None, now: datetime | None = None
                   ) -> DepositIntent:
    """An admin's decision on an intent the chain did not settle: ``confirm`` credits
    ``amount`` (what the admin states, after reading what was paid:
    ``selectors.intent_payments``; the same one journal as a webhook would write,
    ``credit_key``), else the intent is FAILED. Records who, when, ``reason`` and the
    amount credited. Locks the intent, then the wallets. Raises NotFound, InvalidInput (an
    empty reason; on confirming: no amount, zero or negative, more decimals than the
    currency has, more than the intent's amount unless
    ``DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT``), Conflict ("already_confirmed": a confirmed
    intent is neither confirmed again nor failed; undoing a credit is a ledger reversal)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give a reason for the resolution.", code="reason_required")
    now = now or timezone.now()
    with transaction.atomic():
        intent = DepositIntent.objects.select_for_update().filter(pk=intent_id).first()
        if intent is None:
            raise NotFound(f"No deposit intent {intent_id}.")
        if intent.status == Status.CONFIRMED:
            raise Conflict(f"Intent {intent.public_id} is already confirmed.",
                           code="already_confirmed")
        intent.resolved_by_id, intent.resolved_at = by_user_id, now
        intent.resolution_reason = reason[:2000]
        if confirm:
            amount = _manual_amount(intent, amount)
            _credit(intent, amount=amount, now=now,
                    memo=f"deposit {intent.public_id} confirmed by admin: {_text(amount)} "
                         f"{intent.currency} ({reason[:100]})")
        else:
            intent.status, intent.failure_reason = Status.FAILED, "failed by admin"
            intent.save()
    log.info("deposit_intent_resolved", intent=str(intent.public_id), status=intent.status,
             by_user_id=by_user_id, reason=reason, credited=str(intent.credited_amount))
    return intent


def _manual_amount(intent: DepositIntent, amount: Decimal | None) -> Decimal:
    """``amount`` checked for a manual credit of ``intent`` (see ``intent_resolve``)."""
    if amount is None:
        raise InvalidInput("State the amount to credit.", code="amount_required")
    try:
        amount = quantize_exact(amount, decimals=wallet_selectors.currency_decimals(
            code=intent.currency))
    except AmountError as exc:
        raise InvalidInput(f"Amount {exc} for {intent.currency}.") from None
    if amount <= 0:
        raise InvalidInput("The amount to credit must be more than zero.")
    if amount > intent.amount and not conf.DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT:
        raise InvalidInput(
            f"{_text(amount)} is more than the intent's {_text(intent.amount)} "
            f"{intent.currency} (DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT is off).",
            code="amount_above_intent")
    return amount


def intents_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark EXPIRED the PENDING intents past their expiry (up to ``batch`` a call); returns
    how many. Locks those intents by primary key, in pk order, as every other writer does
    first: an UPDATE filtered on status would lock the status index before the row, the
    reverse of a confirmation's order, and the two deadlocked. The status is checked again
    under the lock, so an intent confirmed meanwhile stays CONFIRMED. A payment received
    before the expiry still confirms an intent expired here (``event_process``)."""
    now = now or timezone.now()
    candidates = list(DepositIntent.objects.filter(status=Status.PENDING, expires_at__lt=now)
                      .order_by("pk").values_list("pk", flat=True)[:batch])
    if not candidates:
        return 0
    with transaction.atomic():
        locked = (DepositIntent.objects.select_for_update().filter(pk__in=candidates)
                  .order_by("pk").values_list("pk", "status", "expires_at"))
        due = [pk for pk, status, expires_at in locked
               if status == Status.PENDING and expires_at < now]
        DepositIntent.objects.filter(pk__in=due).update(
            status=Status.EXPIRED, failure_reason="expired unpaid", updated_at=now)
    if due:
        log.info("deposit_intents_expired", count=len(due))
    return len(due)


# --- the webhook --------------------------------------------------------------------------


def event_receive(*, body: bytes, timestamp: str | None, signature: str | None,
                  source_ip: str | None, enqueue: Callable[[int], object],
                  now: datetime | None = None) -> DepositEvent:
    """Verify one webhook delivery and keep it as a RECEIVED event; ``enqueue(event id)``
    runs after commit (the credit is ``event_process``'s work, so the chain is answered at
    once). Raises, writing nothing: Forbidden (``source_ip`` not in
    ``DEPOSIT_WEBHOOK_ALLOWED_IPS``), TooLarge (over ``DEPOSIT_WEBHOOK_MAX_BODY_BYTES``),
    Unauthenticated (bad or missing signature, a changed body, a timestamp outside
    ``DEPOSIT_WEBHOOK_WINDOW_SECONDS``). A verified body that is not
    ``{"intent", "tx_hash", "amount"}`` is kept as an INVALID event, then InvalidInput."""
    if not signatures.address_allowed(source_ip, conf.DEPOSIT_WEBHOOK_ALLOWED_IPS):
        raise Forbidden(f"Webhooks are not accepted from {source_ip}.", code="forbidden_source")
    if len(body) > conf.DEPOSIT_WEBHOOK_MAX_BODY_BYTES:
        raise TooLarge(f"The body is over {conf.DEPOSIT_WEBHOOK_MAX_BODY_BYTES} bytes.")
    now = now or timezone.now()
    if not conf.DEPOSIT_WEBHOOK_SECRETS:
        log.error("deposit_webhook_without_secrets")
    try:
        signed_with = signatures.verify(
            body=body, timestamp=timestamp, signature=signature,
            secrets=conf.DEPOSIT_WEBHOOK_SECRETS, now=now.timestamp(),
            window=conf.DEPOSIT_WEBHOOK_WINDOW_SECONDS)
    except signatures.StaleTimestamp as exc:
        log.warning("deposit_webhook_refused", reason=str(exc), source_ip=source_ip)
        raise Unauthenticated(str(exc), code="stale_timestamp") from None
    except signatures.SignatureError as exc:
        log.warning("deposit_webhook_refused", reason=str(exc), source_ip=source_ip)
        raise Unauthenticated(str(exc)) from None
    fields, problem = _parse(body)
    intent = None
    if problem is None:
        intent = DepositIntent.objects.filter(public_id=fields["intent"]).first()
    with transaction.atomic():
        event = DepositEvent.objects.create(
            intent=intent, intent_ref=str(fields.get("intent", ""))[:64],
            tx_hash=str(fields.get("tx_hash", ""))[:128], amount_paid=fields.get("amount"),
            # The body passed verification, so it is bytes the chain sent: kept verbatim
            # where it is UTF-8, else with replacement marks (evidence, never parsed again).
            raw_body=body.decode("utf-8", errors="replace"), signed_with=signed_with,
            source_ip=signatures.ip_or_none(source_ip), received_at=now,
            verdict=Verdict.INVALID if problem else Verdict.RECEIVED,
            detail=(problem or "")[:255], processed_at=now if problem else None)
        if problem is None:
            transaction.on_commit(lambda: enqueue(event.pk))
    if problem is not None:
        log.warning("deposit_webhook_invalid_body", event_id=event.pk, problem=problem)
        raise InvalidInput(problem, code="invalid_body")
    return event


def _parse(body: bytes) -> tuple[dict, str | None]:
    """The body's ``intent`` (a UUID as its canonical text), ``tx_hash`` and ``amount``
    (coin, within ``DEPOSIT_COIN_DECIMALS``), and None; or what was read and why it is
    refused."""
    try:
        data = json.loads(body.decode("utf-8"), parse_float=str,
                          parse_constant=lambda name: _refuse(name))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}, "The body is not JSON."
    if not isinstance(data, dict):
        return {}, "The body must be a JSON object."
    fields: dict = {}
    intent = data.get("intent")
    try:
        # The canonical text only: no braces, upper case or missing dashes.
        if not isinstance(intent, str) or str(uuid.UUID(intent)) != intent:
            raise ValueError
    except ValueError:
        return fields, "intent must be the intent's id as the API gave it."
    fields["intent"] = intent
    tx_hash = data.get("tx_hash")
    if not isinstance(tx_hash, str) or not TX_HASH.fullmatch(tx_hash):
        return fields, "tx_hash must be 8 to 128 ASCII letters and digits."
    fields["tx_hash"] = tx_hash
    try:
        fields["amount"] = parse_amount(data.get("amount"),
                                        decimals=conf.DEPOSIT_COIN_DECIMALS)
    except AmountError as exc:
        return fields, f"amount {exc}."
    return fields, None


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def event_process(*, event_id: int, now: datetime | None = None) -> DepositEvent:
    """Decide a RECEIVED event, once: CREDITED (the intent is confirmed and credited),
    DUPLICATE (this transaction was decided on this intent already), TX_REUSED (the
    transaction belongs to another intent: see ``_judge``), UNDERPAID (short of
    ``pay_amount`` by more than ``DEPOSIT_UNDERPAY_TOLERANCE``: the intent FAILS, the
    transaction and the amount recorded on it for the admin to resolve), EXPIRED (received
    after the intent's expiry), UNKNOWN_INTENT, NOT_PENDING (the intent failed, or was
    confirmed otherwise). Only CREDITED moves money. A transaction that did not credit is
    recorded on its intent where the intent has none yet and is not confirmed, so the
    unique index keeps it off every other intent too. The time that counts is the event's
    receipt, not this run's, so a late or reordered run decides as a prompt one would. An
    event already decided is returned as it is (a task delivered twice). Locks the event,
    the intent, then the wallets. Raises NotFound (no such event)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DepositEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            raise NotFound(f"No deposit event {event_id}.")
        if event.verdict != Verdict.RECEIVED:
            return event
        verdict, detail = Verdict.UNKNOWN_INTENT, f"No intent {event.intent_ref}."
        if event.intent_id is not None:
            intent = DepositIntent.objects.select_for_update().get(pk=event.intent_id)
            verdict, detail = _judge(intent, event)
            if verdict == Verdict.CREDITED:
                verdict, detail = _confirm(intent, event, now=now)
            elif verdict in (Verdict.UNDERPAID, Verdict.EXPIRED, Verdict.NOT_PENDING):
                verdict, detail = _record(intent, event, verdict=verdict, detail=detail)
        event.verdict, event.detail, event.processed_at = verdict, detail[:255], now
        event.save(update_fields=["verdict", "detail", "processed_at"])
    log.info("deposit_event_processed", event_id=event.pk, verdict=verdict, detail=detail)
    return event


def _judge(intent: DepositIntent, event: DepositEvent) -> tuple[str, str]:
    """The verdict on ``event`` for the locked ``intent``, before anything is written.

    A transaction belongs to the intent its first received delivery named (the lowest
    event id with that hash and a known intent), whatever was decided on it: paid short,
    after the expiry, to an intent already failed, or not decided yet. It never credits
    another intent; the order the events are decided in does not change whose it is."""
    if intent.tx_hash == event.tx_hash:
        return Verdict.DUPLICATE, f"{event.tx_hash} was decided on this intent already."
    first = (DepositEvent.objects.filter(tx_hash=event.tx_hash, intent__isnull=False)
             .order_by("pk").values_list("intent_id", flat=True).first())
    if first != intent.pk or DepositIntent.objects.filter(
            tx_hash=event.tx_hash).exclude(pk=intent.pk).exists():
        return Verdict.TX_REUSED, f"{event.tx_hash} was sent for another intent first."
    if intent.status == Status.CONFIRMED:
        return Verdict.NOT_PENDING, "The intent was confirmed otherwise: " + (
            f"by {intent.tx_hash}." if intent.tx_hash else "by an admin.")
    if intent.status == Status.FAILED:
        return Verdict.NOT_PENDING, f"The intent had failed ({intent.failure_reason})."
    if event.received_at > intent.expires_at:
        return Verdict.EXPIRED, (f"Received {event.received_at.isoformat()}, after the "
                                 f"expiry {intent.expires_at.isoformat()}.")
    tolerance = parse_amount(conf.DEPOSIT_UNDERPAY_TOLERANCE, allow_zero=True)
    floor = EXACT.subtract(intent.pay_amount, exact_mul(intent.pay_amount, tolerance))
    if event.amount_paid < floor:
        return Verdict.UNDERPAID, (f"Paid {_text(event.amount_paid)} of "
                                   f"{_text(intent.pay_amount)} {intent.coin}.")
    return Verdict.CREDITED, f"Credited {_text(intent.amount)} {intent.currency}."


def _record(intent: DepositIntent, event: DepositEvent, *, verdict: str, detail: str
            ) -> tuple[str, str]:
    """Keep on the locked, unconfirmed ``intent`` what an uncredited ``event`` tells: an
    underpayment FAILS it, a payment after the expiry EXPIRES it, and the transaction and
    amount paid are recorded where it has no transaction yet (in a savepoint: if another
    intent took the hash meanwhile, nothing of it stays and the verdict is TX_REUSED)."""
    if intent.status == Status.CONFIRMED:
        return verdict, detail
    try:
        with transaction.atomic():
            if verdict == Verdict.UNDERPAID:
                intent.status, intent.failure_reason = Status.FAILED, detail
            elif verdict == Verdict.EXPIRED and intent.status == Status.PENDING:
                intent.status, intent.failure_reason = Status.EXPIRED, "paid after expiry"
            if not intent.tx_hash:
                intent.tx_hash, intent.paid_amount = event.tx_hash, event.amount_paid
            intent.save()
    except IntegrityError:
        intent.refresh_from_db()
        return Verdict.TX_REUSED, f"{event.tx_hash} was taken by another intent meanwhile."
    return verdict, detail


def _confirm(intent: DepositIntent, event: DepositEvent, *, now: datetime) -> tuple[str, str]:
    """Credit ``intent`` for ``event`` in a savepoint: if the transaction hash was taken by
    another intent meanwhile (the unique index), nothing of it stays."""
    try:
        with transaction.atomic():
            intent.tx_hash, intent.paid_amount = event.tx_hash, event.amount_paid
            _credit(intent, amount=intent.amount, now=now,
                    memo=f"deposit {intent.public_id} tx {event.tx_hash}")
    except IntegrityError:
        intent.refresh_from_db()
        return Verdict.TX_REUSED, f"{event.tx_hash} confirmed another intent meanwhile."
    return Verdict.CREDITED, f"Credited {_text(intent.amount)} {intent.currency}."


def _text(amount: Decimal) -> str:
    """``amount`` as a person writes it (no exponent, no trailing zeros)."""
    return f"{amount.normalize():f}"
