import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import UserFactory


@pytest.fixture
def currencies(db):
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def clear_cache():
    """Latest quotes live in the cache: no test may see another's prices."""
    cache.clear()
    yield
    cache.clear()
