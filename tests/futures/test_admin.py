"""The futures admin: a contract with its tiers inline (refused unless the maintenance is
continuous), positions, liquidations and fundings read-only."""
from decimal import Decimal

import pytest

from apps.futures.models import Contract, MarginTier
from tests.factories import ContractFactory, MarketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, currencies):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def contract_form(market, tiers):
    data = {"market": market.pk, "contract_size": "0.001", "max_leverage": "100",
            "index_sources": '[{"venue": "spot", "symbol": "ETH/USDT"}]',
            "index_max_age_seconds": "10", "max_premium": "0.005",
            "funding_interval_hours": "8", "funding_interest_rate": "0.0001",
            "funding_rate_cap": "0.0075", "funding_rate_floor": "-0.0075",
            "liquidation_fee_rate": "0.005", "adl_after_seconds": "60",
            "tiers-TOTAL_FORMS": str(len(tiers)),
            "tiers-INITIAL_FORMS": "0",
            "tiers-MIN_NUM_FORMS": "0", "tiers-MAX_NUM_FORMS": "1000"}
    for n, (floor, cap, leverage, mmr, cum) in enumerate(tiers):
        data.update({f"tiers-{n}-floor": floor, f"tiers-{n}-cap": cap or "",
                     f"tiers-{n}-max_leverage": leverage, f"tiers-{n}-mmr": mmr,
                     f"tiers-{n}-maintenance_amount": cum})
    return data


def test_a_contract_is_added_with_its_tiers_only_if_they_are_continuous(admin_client):
    market = MarketFactory(venue="futures", symbol="ETH/USDT", kind="perpetual")
    jumping = [("0", "50000", "100", "0.005", "0"), ("50000", "", "50", "0.01", "100")]
    refused = admin_client.post("/admin/futures/contract/add/",
                                contract_form(market, jumping))
    assert refused.status_code == 200 and "continuity needs 250" in refused.content.decode()
    assert not Contract.objects.exists()
    sound = [("0", "50000", "100", "0.005", "0"), ("50000", "", "50", "0.01", "250")]
    added = admin_client.post("/admin/futures/contract/add/", contract_form(market, sound))
    assert added.status_code == 302
    assert list(MarginTier.objects.values_list("maintenance_amount", flat=True)) == [
        Decimal(0), Decimal(250)]


def test_the_venue_records_are_listed_and_read_only(admin_client):
    ContractFactory()
    for model in ("contract", "position", "liquidation", "autodeleverage", "fundingrate"):
        assert admin_client.get(f"/admin/futures/{model}/").status_code == 200
    assert admin_client.get("/admin/futures/position/add/").status_code == 403
    assert admin_client.get("/admin/futures/autodeleverage/add/").status_code == 403
