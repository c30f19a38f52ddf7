"""The deposit services: an intent's terms, each verdict of a delivery, and that only one
path, once, ever credits."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.deposits import selectors, services
from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets.models import Journal, Wallet
from tests.deposits.conftest import SECRETS, payment, signatures
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def receive(body: bytes, *, at=None, queued: list | None = None) -> DepositEvent:
    """``body`` verified and kept, as the webhook does (received at ``at``); the task it
    queues is collected in ``queued`` instead of run."""
    at = at or timezone.now()
    stamp = int(at.timestamp())
    return services.event_receive(
        body=body, timestamp=str(stamp),
        signature=signatures.sign(secret=SECRETS[1], timestamp=stamp, body=body),
        source_ip="127.0.0.1", enqueue=(queued.append if queued is not None else
                                        lambda event_id: None), now=at)


def balance(user) -> Decimal:
    wallet = Wallet.objects.filter(user=user, type="SPOT", currency_id="USDT").first()
    return wallet.balance if wallet else D(0)


# --- intents ------------------------------------------------------------------------------


@pytest.mark.parametrize("amount,rate,pay", [
    ("100", "2", "50"), ("100.01", "3", "33.33666667"), ("1", "1", "1"),
    ("0.00000001", "7", "0.00000001"), ("99999.99999999", "0.5", "199999.99999998"),
])
def test_the_coin_to_pay_is_the_amount_at_the_rate_rounded_up(depositor, settings, amount, rate,
                                                                pay):
    settings.DEPOSIT_MIN_AMOUNT = "0.00000001"
    settings.DEPOSIT_FIXED_RATE = rate
    intent = services.intent_create(user_id=depositor.pk, amount=D(amount))
    intent.refresh_from_db()
    assert (intent.amount, intent.rate, intent.pay_amount) == (D(amount), D(rate), D(pay))
    assert intent.pay_amount * intent.rate >= intent.amount  # the user never pays short
    assert (intent.currency, intent.coin, intent.status) == ("USDT", "SGC", "PENDING")


@pytest.mark.parametrize("amount,code", [
    ("0.5", "amount_out_of_range"), ("100000.00000001", "amount_out_of_range"),
    ("1.000000001", "invalid"),
])
def test_an_amount_out_of_bounds_or_precision_is_refused(depositor, amount, code):
    with pytest.raises(InvalidInput) as refused:
        services.intent_create(user_id=depositor.pk, amount=D(amount))
    assert refused.value.code == code
    assert not DepositIntent.objects.exists()


def test_a_coin_amount_beyond_a_money_column_is_refused(depositor, settings):
    settings.DEPOSIT_FIXED_RATE = "0.000000000000000001"
    with pytest.raises(InvalidInput, match="cannot be paid"):
        services.intent_create(user_id=depositor.pk, amount=D("100000"))
    assert not DepositIntent.objects.exists()


def test_a_user_holds_at_most_the_pending_limit_of_unpaid_intents(depositor, settings):
    settings.DEPOSIT_MAX_PENDING_INTENTS = 2
    first, second = (services.intent_create(user_id=depositor.pk, amount=D("10"))
                     for _ in range(2))
    with pytest.raises(Conflict) as refused:
        services.intent_create(user_id=depositor.pk, amount=D("10"))
    assert refused.value.code == "too_many_pending_intents"
    assert "2 unpaid deposit intents" in refused.value.message
    assert DepositIntent.objects.count() == 2
    services.intent_create(user_id=UserFactory().pk, amount=D("10"))  # another's count
    # One paid, one past its expiry (not swept yet): room for two again.
    services.event_process(event_id=receive(payment(first)).pk)
    DepositIntent.objects.filter(pk=second.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    for _ in range(2):
        services.intent_create(user_id=depositor.pk, amount=D("10"))
    with pytest.raises(Conflict):
        services.intent_create(user_id=depositor.pk, amount=D("10"))


def test_a_misconfigured_rate_is_an_error_not_an_intent(depositor, settings):
    settings.DEPOSIT_FIXED_RATE = "0"
    with pytest.raises(ValueError, match="DEPOSIT_FIXED_RATE"):
        services.intent_create(user_id=depositor.pk, amount=D("10"))
    assert not DepositIntent.objects.exists()


# --- deliveries ---------------------------------------------------------------------------


def test_a_task_delivered_twice_decides_once(intent):
    queued: list[int] = []
    event = receive(payment(intent), queued=queued)
    assert event.verdict == "RECEIVED" and not Journal.objects.exists()
    first = services.event_process(event_id=event.pk)
    again = services.event_process(event_id=event.pk)
    assert first.verdict == again.verdict == "CREDITED"
    assert Journal.objects.filter(key=f"deposit:{intent.pk}").count() == 1
    assert balance(intent.user) == D("100")


def test_events_decided_out_of_order_credit_once_and_the_first_decided_wins(intent):
    early = receive(payment(intent, tx_hash="0xfirsttx0001"))
    late = receive(payment(intent, tx_hash="0xsecondtx002"))
    assert services.event_process(event_id=late.pk).verdict == "CREDITED"
    assert services.event_process(event_id=early.pk).verdict == "NOT_PENDING"
    intent.refresh_from_db()
    assert intent.tx_hash == "0xsecondtx002" and balance(intent.user) == D("100")


def test_a_payment_received_before_expiry_credits_though_the_sweep_expired_it(intent):
    event = receive(payment(intent), at=intent.expires_at - timedelta(seconds=1))
    assert services.intents_expire(now=intent.expires_at + timedelta(seconds=1)) == 1
    intent.refresh_from_db()
    assert intent.status == "EXPIRED"
    assert services.event_process(event_id=event.pk).verdict == "CREDITED"
    intent.refresh_from_db()
    assert intent.status == "CONFIRMED" and balance(intent.user) == D("100")


def test_a_payment_received_after_expiry_expires_the_intent(intent):
    event = receive(payment(intent), at=intent.expires_at + timedelta(seconds=1))
    decided = services.event_process(event_id=event.pk)
    assert decided.verdict == "EXPIRED" and "after the expiry" in decided.detail
    intent.refresh_from_db()
    assert intent.status == "EXPIRED" and not Journal.objects.exists()


def test_a_transaction_that_confirmed_one_intent_confirms_no_other(depositor, intent):
    other = services.intent_create(user_id=depositor.pk, amount=D("100"))
    services.event_process(event_id=receive(payment(intent, tx_hash="0xonetx000001")).pk)
    reused = services.event_process(event_id=receive(payment(other, tx_hash="0xonetx000001")).pk)
    assert reused.verdict == "TX_REUSED"
    other.refresh_from_db()
    assert (other.status, other.tx_hash) == ("PENDING", None)
    assert balance(depositor) == D("100")


def test_an_underpayment_fails_the_intent_and_a_later_full_payment_does_not_credit(intent):
    short = services.event_process(event_id=receive(payment(intent, amount="49.49")).pk)
    assert short.verdict == "UNDERPAID" and short.detail == "Paid 49.49 of 50 SGC."
    full = services.event_process(event_id=receive(payment(intent, tx_hash="0xtopuptx001")).pk)
    assert full.verdict == "NOT_PENDING"
    intent.refresh_from_db()
    assert (intent.status, intent.paid_amount) == ("FAILED", D("49.49"))
    assert not Journal.objects.exists()


def test_an_underpaid_transaction_is_recorded_on_the_failed_intent_and_credits_no_other(
        depositor, intent):
    other = services.intent_create(user_id=depositor.pk, amount=D("100"))
    short = services.event_process(
        event_id=receive(payment(intent, tx_hash="0xshorttx0001", amount="10")).pk)
    assert short.verdict == "UNDERPAID"
    intent.refresh_from_db()
    assert (intent.status, intent.tx_hash, intent.paid_amount) == (
        "FAILED", "0xshorttx0001", D("10"))
    again = services.event_process(
        event_id=receive(payment(intent, tx_hash="0xshorttx0001", amount="10")).pk)
    assert again.verdict == "DUPLICATE"
    reused = services.event_process(
        event_id=receive(payment(other, tx_hash="0xshorttx0001")).pk)
    assert reused.verdict == "TX_REUSED"
    other.refresh_from_db()
    assert (other.status, other.tx_hash) == ("PENDING", None)
    assert not Journal.objects.exists()


@pytest.mark.parametrize("first_for", ["late", "undecided", "failed"])
def test_a_transaction_belongs_to_the_first_intent_a_delivery_named(depositor, intent,
                                                                    first_for):
    """Paid after expiry, not decided yet, or sent for an intent an admin had failed: the
    transaction was the first intent's, and never credits another, in any order."""
    other = services.intent_create(user_id=depositor.pk, amount=D("100"))
    if first_for == "failed":
        services.intent_resolve(intent_id=intent.pk, confirm=False, reason="wrong chain",
                                by_user_id=depositor.pk)
    at = intent.expires_at + timedelta(seconds=1) if first_for == "late" else None
    first = receive(payment(intent, tx_hash="0xfirstseen01"), at=at)
    if first_for != "undecided":
        assert services.event_process(event_id=first.pk).verdict in ("EXPIRED", "NOT_PENDING")
    reused = services.event_process(event_id=receive(payment(other, tx_hash="0xfirstseen01")).pk)
    assert reused.verdict == "TX_REUSED" and "another intent" in reused.detail
    other.refresh_from_db()
    assert other.status == "PENDING" and not Journal.objects.exists()


def test_an_overpayment_credits_the_intents_amount(intent):
    services.event_process(event_id=receive(payment(intent, amount="500")).pk)
    intent.refresh_from_db()
    assert intent.paid_amount == D("500") and balance(intent.user) == D("100")


def test_the_largest_body_allowed_is_kept_whole_even_if_none_of_it_decodes(settings):
    """64 KiB of bytes that are not UTF-8, signed: kept as 64 Ki replacement marks (192 KiB
    in the LONGTEXT column on MariaDB), an INVALID event, nothing else."""
    settings.DEPOSIT_WEBHOOK_MAX_BODY_BYTES = 64 * 1024
    with pytest.raises(InvalidInput):
        receive(b"\xff" * (64 * 1024))
    event = DepositEvent.objects.get()
    assert event.verdict == "INVALID" and event.raw_body == "\ufffd" * (64 * 1024)


def test_an_unknown_event_is_not_found():
    with pytest.raises(NotFound):
        services.event_process(event_id=999_999)


# --- the admin's resolution ---------------------------------------------------------------


def test_a_resolution_credits_through_the_same_journal_and_is_recorded(intent):
    admin = UserFactory(is_staff=True)
    resolved = services.intent_resolve(intent_id=intent.pk, confirm=True,
                                       reason="  paid, chain was down  ", by_user_id=admin.pk,
                                       amount=D("100"))
    assert (resolved.status, resolved.resolved_by, resolved.resolution_reason) == (
        "CONFIRMED", admin, "paid, chain was down")
    assert resolved.resolved_at is not None
    journal = Journal.objects.get(key=f"deposit:{intent.pk}")
    assert journal.kind == "DEPOSIT" and balance(intent.user) == D("100")
    # The chain's delivery arriving afterwards credits nothing more.
    late = services.event_process(event_id=receive(payment(intent)).pk)
    assert late.verdict == "NOT_PENDING" and "by an admin" in late.detail
    with pytest.raises(Conflict):
        services.intent_resolve(intent_id=intent.pk, confirm=True, reason="again",
                                by_user_id=admin.pk, amount=D("100"))
    with pytest.raises(Conflict):
        services.intent_resolve(intent_id=intent.pk, confirm=False, reason="undo",
                                by_user_id=admin.pk)
    assert Journal.objects.count() == 1 and balance(intent.user) == D("100")
    call_command("wallets_reconcile", verbosity=0)


def test_a_failed_resolution_credits_nothing_and_needs_a_reason(intent):
    admin = UserFactory(is_staff=True)
    with pytest.raises(InvalidInput):
        services.intent_resolve(intent_id=intent.pk, confirm=False, reason="   ",
                                by_user_id=admin.pk)
    failed = services.intent_resolve(intent_id=intent.pk, confirm=False, reason="fraud",
                                     by_user_id=admin.pk)
    assert (failed.status, failed.resolution_reason) == ("FAILED", "fraud")
    assert not Journal.objects.exists()
    # An admin may still confirm a failed intent (an underpayment accepted after all).
    services.intent_resolve(intent_id=intent.pk, confirm=True, reason="accepted",
                            by_user_id=admin.pk, amount=D("100"))
    assert balance(intent.user) == D("100")


def test_an_underpaid_intent_resolved_by_hand_credits_what_was_paid_at_its_rate(intent):
    """The suggestion: each transaction reported for the intent counted once, at the
    intent's rate, rounded down to the currency's decimals; the admin's stated amount is
    what is credited and recorded."""
    short = receive(payment(intent, tx_hash="0xshortpay001", amount="10.1234567"))
    services.event_process(event_id=short.pk)
    services.event_process(event_id=receive(payment(intent, tx_hash="0xshortpay001",
                                                    amount="10.1234567")).pk)  # a retry
    topup = receive(payment(intent, tx_hash="0xtopuppay002", amount="5.00000001"))
    services.event_process(event_id=topup.pk)
    paid = selectors.intent_payments(intent=intent)
    assert [e.tx_hash for e in paid.events] == ["0xshortpay001", "0xtopuppay002"]
    assert paid.paid == D("15.12345671")
    assert paid.suggested == D("30.24691342")  # x 2 USDT per SGC, 8 decimals for USDT
    admin = UserFactory(is_staff=True)
    resolved = services.intent_resolve(intent_id=intent.pk, confirm=True, reason="short, ok",
                                       by_user_id=admin.pk, amount=paid.suggested)
    assert (resolved.status, resolved.credited_amount) == ("CONFIRMED", D("30.24691342"))
    assert balance(intent.user) == D("30.24691342")
    journal = Journal.objects.get(key=f"deposit:{intent.pk}")
    assert "30.24691342 USDT" in journal.memo and "short, ok" in journal.memo
    call_command("wallets_reconcile", verbosity=0)


def test_the_suggested_manual_credit_is_rounded_down(depositor, settings):
    settings.DEPOSIT_FIXED_RATE = "1.5"
    intent = services.intent_create(user_id=depositor.pk, amount=D("10"))
    services.event_process(event_id=receive(payment(intent, amount="0.33333333")).pk)
    assert selectors.intent_payments(intent=intent).suggested == D("0.49999999")


@pytest.mark.parametrize("amount,code", [
    (None, "amount_required"), ("0", "invalid"), ("-1", "invalid"),
    ("1.000000001", "invalid"), ("100.00000001", "amount_above_intent"),
])
def test_a_manual_credit_must_state_a_valid_amount_no_more_than_the_intents(intent, amount,
                                                                           code):
    with pytest.raises(InvalidInput) as refused:
        services.intent_resolve(intent_id=intent.pk, confirm=True, reason="r",
                                by_user_id=intent.user_id,
                                amount=None if amount is None else D(amount))
    assert refused.value.code == code
    intent.refresh_from_db()
    assert intent.status == "PENDING" and intent.resolved_by_id is None
    assert not Journal.objects.exists()


def test_a_manual_credit_above_the_intent_needs_the_setting(intent, settings):
    services.event_process(event_id=receive(payment(intent, amount="60")).pk)  # overpaid
    assert selectors.intent_payments(intent=DepositIntent.objects.get()).suggested == D("100")
    settings.DEPOSIT_MANUAL_CREDIT_ABOVE_INTENT = True
    other = services.intent_create(user_id=intent.user_id, amount=D("100"))
    services.event_process(event_id=receive(payment(other, tx_hash="0xover000002",
                                                    amount="60"),
                                            at=other.expires_at + timedelta(seconds=1)).pk)
    assert selectors.intent_payments(intent=other).suggested == D("120")
    resolved = services.intent_resolve(intent_id=other.pk, confirm=True, reason="paid late",
                                       by_user_id=intent.user_id, amount=D("120"))
    assert resolved.credited_amount == D("120")
    assert balance(intent.user) == D("220")


def test_the_sweep_expires_only_pending_intents_past_expiry(depositor, settings):
    live = services.intent_create(user_id=depositor.pk, amount=D("10"))
    settings.DEPOSIT_INTENT_TTL_SECONDS = -1
    due, paid = (services.intent_create(user_id=depositor.pk, amount=D("10")) for _ in "ab")
    services.intent_resolve(intent_id=paid.pk, confirm=True, reason="ok",
                            by_user_id=depositor.pk, amount=D("10"))
    assert services.intents_expire() == 1
    statuses = dict(DepositIntent.objects.values_list("pk", "status"))
    assert statuses == {live.pk: "PENDING", due.pk: "EXPIRED", paid.pk: "CONFIRMED"}
    assert services.intents_expire() == 0


# --- whatever arrives, in whatever order --------------------------------------------------

DELIVERY = st.sampled_from(["full-a", "full-b", "short-c", "late-a", "unknown"])


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries=st.lists(DELIVERY, min_size=1, max_size=8),
       order=st.randoms(use_true_random=False), admin_at=st.none() | st.integers(0, 8))
def test_any_deliveries_in_any_order_credit_at_most_once(currencies, deliveries, order,
                                                         admin_at):
    """Invariant: an intent's user is credited its amount once or not at all; exactly when
    the intent is CONFIRMED, by one CREDITED delivery or by the admin; the ledger
    reconciles."""
    user = UserFactory()
    intent = services.intent_create(user_id=user.pk, amount=D("100"))
    now = timezone.now()
    bodies = {"full-a": payment(intent, tx_hash=f"0xaaaa{intent.pk:08d}"),
              "full-b": payment(intent, tx_hash=f"0xbbbb{intent.pk:08d}"),
              "short-c": payment(intent, tx_hash=f"0xcccc{intent.pk:08d}", amount="10"),
              "late-a": payment(intent, tx_hash=f"0xaaaa{intent.pk:08d}"),
              "unknown": payment(DepositIntent(public_id="00000000-0000-4000-8000-"
                                               f"{intent.pk:012d}", pay_amount=D(1)))}
    events = [receive(bodies[name], at=intent.expires_at + timedelta(seconds=1)
                      if name == "late-a" else now) for name in deliveries]
    order.shuffle(events)
    for step, event in enumerate(events):
        if step == admin_at:
            try:
                services.intent_resolve(intent_id=intent.pk, confirm=True, reason="h",
                                        by_user_id=user.pk, amount=D("100"))
            except Conflict:
                pass
        services.event_process(event_id=event.pk)
    intent.refresh_from_db()
    credited = DepositEvent.objects.filter(intent=intent, verdict="CREDITED").count()
    journals = Journal.objects.filter(key=f"deposit:{intent.pk}").count()
    assert journals == (intent.status == "CONFIRMED")
    assert credited + (intent.resolved_by_id is not None and intent.status == "CONFIRMED") \
        == journals
    assert balance(user) == D("100") * journals
    assert not DepositEvent.objects.filter(intent=intent, verdict="RECEIVED").exists()
    call_command("wallets_reconcile", verbosity=0)
