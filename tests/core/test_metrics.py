"""apps/core/metrics.py: what a settled batch of fills adds to the fills counter and the
settlement-lag histogram, and that it looks each venue's series up once per batch."""
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from apps.core import metrics

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BUCKETS = ("0.01", "0.5", "2.5", "5.0", "+Inf")


def values(venue: str) -> dict[str, float]:
    def sample(name: str, **labels) -> float:
        return REGISTRY.get_sample_value(name, {"venue": venue, **labels}) or 0.0

    return {"fills": sample("exchange_fills_total"),
            "count": sample("exchange_settlement_lag_seconds_count"),
            "sum": sample("exchange_settlement_lag_seconds_sum"),
            **{le: sample("exchange_settlement_lag_seconds_bucket", le=le) for le in BUCKETS}}


def added(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 9) for k in before}


def test_a_batch_counts_each_fill_and_observes_each_lag_per_venue():
    ago = [NOW - timedelta(seconds=s) for s in (0.2, 3, 1)]
    before = {v: values(v) for v in ("m-one", "m-two")}
    metrics.fills_settled(fills=[("m-one", ago[0]), ("m-two", ago[1]), ("m-one", ago[2]),
                                 ("m-one", NOW + timedelta(seconds=1))], now=NOW)
    # The future execution observes 0; each fill is one count and one observation.
    assert added(before["m-one"], values("m-one")) == {
        "fills": 3, "count": 3, "sum": 1.2, "0.01": 1, "0.5": 2, "2.5": 3, "5.0": 3,
        "+Inf": 3}
    assert added(before["m-two"], values("m-two")) == {
        "fills": 1, "count": 1, "sum": 3, "0.01": 0, "0.5": 0, "2.5": 0, "5.0": 1,
        "+Inf": 1}


def test_a_batch_looks_each_venues_series_up_once(monkeypatch):
    looked_up = []
    for metric in (metrics.FILLS, metrics.SETTLEMENT_LAG):
        def labels(*args, _labels=metric.labels, _name=metric._name, **kwargs):
            looked_up.append((_name, kwargs["venue"]))
            return _labels(*args, **kwargs)

        monkeypatch.setattr(metric, "labels", labels)
    metrics.fills_settled(fills=[("m-one", NOW)] * 500 + [("m-two", NOW)] * 3, now=NOW)
    assert sorted(looked_up) == [("exchange_fills", "m-one"), ("exchange_fills", "m-two"),
                                 ("exchange_settlement_lag_seconds", "m-one"),
                                 ("exchange_settlement_lag_seconds", "m-two")]
