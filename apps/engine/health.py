"""Readiness of the engine (one of ``/health/ready``'s checks, ``apps.health.views``):
every engine market with commands waiting has a live runner, and its oldest waiting
command is at most ``ENGINE_MAX_LAG_SECONDS`` old. Reads only."""
import dataclasses
import datetime

from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from apps.engine.models import EngineCommand, EngineLease, EngineSequence

# How old the oldest command not yet settled may be.
ENGINE_MAX_LAG_SECONDS = 10


@dataclasses.dataclass
class EngineLag(HealthCheck):
    timeout = datetime.timedelta(seconds=5)

    def run(self) -> None:
        now = timezone.now()
        leases = {lease.market_id: lease for lease in EngineLease.objects.all()}
        problems = []
        for market_id, last in EngineSequence.objects.values_list("market_id", "last_seq"):
            lease = leases.get(market_id)
            applied = lease.applied_seq if lease else 0
            if last <= applied:
                continue
            if lease is None or not lease.owner or lease.expires_at is None \
                    or lease.expires_at < now:
                problems.append(f"market {market_id}: {last - applied} commands wait and "
                                f"no runner holds its lease")
                continue
            oldest = (EngineCommand.objects.filter(market_id=market_id, seq=applied + 1)
                      .values_list("created_at", flat=True).first())
            if oldest and (now - oldest).total_seconds() > ENGINE_MAX_LAG_SECONDS:
                problems.append(f"market {market_id}: command {applied + 1} waits since "
                                f"{oldest.isoformat()} ({lease.owner})")
        if problems:
            raise ServiceUnavailable("; ".join(problems))
