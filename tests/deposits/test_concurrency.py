"""Races on a real MariaDB: the chain's deliveries, its retries, the sweep and an admin all
at once, each thread on its own connection. Credited once, whatever arrives together."""
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.core.errors import Conflict
from apps.deposits import services
from apps.deposits.models import DepositEvent, DepositIntent
from apps.wallets.models import Journal, Wallet
from tests.deposits.conftest import deliver, payment, signed_headers
from tests.factories import UserFactory
from tests.wallets.test_concurrency import run_threads

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def test_the_same_delivery_ten_times_at_once_credits_once(intent):
    body = payment(intent)
    headers = signed_headers(body)
    statuses: list[int] = []

    def work(i: int) -> None:
        statuses.append(deliver(body, headers=headers).status_code)

    assert run_threads(10, work) == Counter({"ok": 10})
    assert statuses == [202] * 10
    verdicts = Counter(DepositEvent.objects.values_list("verdict", flat=True))
    assert verdicts == Counter({"CREDITED": 1, "DUPLICATE": 9})
    intent.refresh_from_db()
    assert intent.status == "CONFIRMED"
    assert Journal.objects.filter(kind="DEPOSIT").count() == 1
    assert Wallet.objects.get(user=intent.user, type="SPOT").balance == Decimal("100")
    call_command("wallets_reconcile", verbosity=0)


def test_one_transaction_sent_for_two_intents_at_once_confirms_one(depositor):
    first, second = (services.intent_create(user_id=depositor.pk, amount=Decimal("100"))
                     for _ in range(2))
    bodies = [payment(first, tx_hash="0xsharedtx0001"), payment(second, tx_hash="0xsharedtx0001")]
    outcomes = run_threads(10, lambda i: deliver(bodies[i % 2]))
    assert outcomes == Counter({"ok": 10})
    first.refresh_from_db()
    second.refresh_from_db()
    assert sorted([first.status, second.status]) == ["CONFIRMED", "PENDING"]
    assert Journal.objects.filter(kind="DEPOSIT").count() == 1
    confirmed = first if first.status == "CONFIRMED" else second
    verdicts = Counter(DepositEvent.objects.values_list("intent_id", "verdict"))
    assert verdicts[(confirmed.pk, "CREDITED")] == 1
    assert sum(n for (pk, v), n in verdicts.items() if v == "TX_REUSED") == 5
    assert Wallet.objects.get(user=depositor, type="SPOT").balance == Decimal("100")
    call_command("wallets_reconcile", verbosity=0)


def test_deliveries_an_admin_and_the_sweep_at_once_credit_once(currencies, settings):
    """Four intents, two of them already past their expiry: the sweep, an admin confirming
    each, and the chain's deliveries, all at once. The admin's confirmation wins on the
    expired ones (the deliveries came too late), either wins on the others: each ends
    CONFIRMED and credited once."""
    admin = UserFactory(is_staff=True)
    intents = [services.intent_create(user_id=UserFactory().pk, amount=Decimal("100"))
               for _ in range(2)]
    settings.DEPOSIT_INTENT_TTL_SECONDS = -60
    intents += [services.intent_create(user_id=UserFactory().pk, amount=Decimal("100"))
                for _ in range(2)]

    def work(i: int) -> None:
        intent = intents[i % 4]
        if i < 4:
            try:
                services.intent_resolve(intent_id=intent.pk, confirm=True, reason="race",
                                        by_user_id=admin.pk, amount=intent.amount)
            except Conflict:
                pass  # the chain's delivery confirmed it first
        elif i < 8:
            services.intents_expire()
        else:
            deliver(payment(intent, tx_hash=f"0xtxofintent{intent.pk:04d}"))

    assert run_threads(24, work) == Counter({"ok": 24})
    for intent in intents:
        intent.refresh_from_db()
        assert intent.status == "CONFIRMED"
        assert Journal.objects.filter(key=f"deposit:{intent.pk}").count() == 1
        assert Wallet.objects.get(user=intent.user, type="SPOT").balance == Decimal("100")
    late = Counter(DepositEvent.objects.filter(intent__in=intents[2:])
                   .values_list("verdict", flat=True))
    assert set(late) <= {"EXPIRED", "NOT_PENDING"} and late.total() == 8
    assert DepositEvent.objects.filter(verdict="CREDITED").count() <= 2
    call_command("wallets_reconcile", verbosity=0)


def test_one_transaction_short_for_one_intent_and_full_for_another_at_once(depositor):
    """The transaction belongs to the intent its first recorded delivery named: that
    intent alone is decided on it (FAILED short, or credited), the other keeps PENDING."""
    short_one, full_one = (services.intent_create(user_id=depositor.pk, amount=Decimal("100"))
                           for _ in range(2))
    bodies = [payment(short_one, tx_hash="0xcontested01", amount="1"),
              payment(full_one, tx_hash="0xcontested01")]
    assert run_threads(10, lambda i: deliver(bodies[i % 2])) == Counter({"ok": 10})
    owner = DepositEvent.objects.order_by("pk").first().intent
    other = full_one if owner == short_one else short_one
    owner.refresh_from_db()
    other.refresh_from_db()
    assert (other.status, other.tx_hash) == ("PENDING", None)
    assert owner.tx_hash == "0xcontested01"
    assert set(DepositEvent.objects.filter(intent=other).values_list("verdict", flat=True)) \
        == {"TX_REUSED"}
    credited = Journal.objects.filter(kind="DEPOSIT").count()
    assert (owner.status, credited) == (("FAILED", 0) if owner == short_one
                                        else ("CONFIRMED", 1))
    call_command("wallets_reconcile", verbosity=0)


def test_concurrent_creates_never_pass_the_pending_limit(depositor, settings):
    """Ten creates at once with room for three: three intents, seven 409s (the count and
    the insert are serialised on the user's wallet row)."""
    settings.DEPOSIT_MAX_PENDING_INTENTS = 3
    assert run_threads(10, lambda i: services.intent_create(
        user_id=depositor.pk, amount=Decimal("10"))) == Counter({"ok": 3, "Conflict": 7})
    assert DepositIntent.objects.filter(user=depositor, status="PENDING").count() == 3


@pytest.mark.slow
def test_many_intents_each_delivered_many_times_at_once_credit_each_once(currencies):
    """The stress version of the above: 20 intents, each delivered 10 times by 200 threads
    at once, while sweeps run; every intent credited exactly once."""
    intents = [services.intent_create(user_id=UserFactory().pk, amount=Decimal("100"))
               for _ in range(20)]
    bodies = [payment(intent, tx_hash=f"0xstress{intent.pk:010d}") for intent in intents]
    headers = [signed_headers(body) for body in bodies]

    def work(i: int) -> None:
        if i % 25 == 0:
            services.intents_expire()
        deliver(bodies[i % 20], headers=headers[i % 20])

    assert run_threads(200, work) == Counter({"ok": 200})
    assert Counter(DepositEvent.objects.values_list("verdict", flat=True)) == Counter(
        {"CREDITED": 20, "DUPLICATE": 180})
    for intent in intents:
        assert Wallet.objects.get(user=intent.user, type="SPOT").balance == Decimal("100")
    assert Journal.objects.filter(kind="DEPOSIT").count() == 20
    call_command("wallets_reconcile", verbosity=0)
