"""apps/core/compiled.py: a read built by the ORM once, run with other values."""
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F

from apps.core.compiled import CompiledQuery
from apps.wallets import services
from apps.wallets.models import Currency, Wallet
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_compiled_read_is_built_once_and_answers_as_the_orm_does(currencies):
    built = []

    def build(*, user_id, currency):
        built.append(1)
        return Wallet.objects.select_for_update().defer("created_at").filter(
            user_id=user_id, currency_id=currency)

    query = CompiledQuery(build, user_id=int, currency=str)
    users = [UserFactory() for _ in range(3)]
    for n, user in enumerate(users):
        services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                         amount=Decimal(f"{n + 1}.25"), key=f"dep-{n}")
    with transaction.atomic():
        found = [query.first(user_id=user.pk, currency="USDT") for user in users]
        missing = query.first(user_id=users[0].pk, currency="EUR")
    assert len(built) == 1
    assert [(w.user_id, w.balance) for w in found] == [
        (user.pk, Decimal(f"{n + 1}.25")) for n, user in enumerate(users)]
    assert found == [Wallet.objects.get(user=user, currency_id="USDT") for user in users]
    assert missing is None


def test_a_value_is_a_parameter_never_part_of_the_statement(currencies):
    query = CompiledQuery(lambda code: Currency.objects.filter(code=code), code=str)
    assert query.first(code="USDT").decimals == Currency.objects.get(code="USDT").decimals
    assert query.first(code="USDT' OR '1'='1") is None


def test_a_queryset_with_a_value_of_its_own_is_refused():
    # The ORM adds the literal 'SPOT' as one more parameter: not a stand-in.
    query = CompiledQuery(lambda pk: Wallet.objects.filter(pk=pk, type="SPOT"), pk=int)
    with pytest.raises(TypeError, match="stand-ins"):
        query.first(pk=1)


def test_deferred_fields_and_annotations_come_back_as_the_orm_gives_them(currencies):
    user = UserFactory()
    services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                     amount=Decimal("7.5"), key="dep-annotated")
    query = CompiledQuery(
        lambda user_id: Wallet.objects.filter(user_id=user_id).only("balance", "currency")
        .annotate(decimals=F("currency__decimals")), user_id=int)
    found = query.first(user_id=user.pk)
    orm = Wallet.objects.filter(user_id=user.pk).only("balance", "currency").annotate(
        decimals=F("currency__decimals")).get()
    assert (found.pk, found.balance, found.currency_id, found.decimals) == (
        orm.pk, orm.balance, orm.currency_id, orm.decimals)
    assert found.get_deferred_fields() == orm.get_deferred_fields()
    assert found.balance == Decimal("7.5") and isinstance(found.balance, Decimal)


def test_a_queryset_reading_related_rows_is_refused():
    query = CompiledQuery(lambda pk: Wallet.objects.select_related("currency").filter(pk=pk),
                          pk=int)
    with pytest.raises(TypeError, match="select_related"):
        query.first(pk=1)
