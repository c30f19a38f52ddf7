"""Readiness of the engine (one of ``/health/ready``'s checks, ``apps.health.views``):
every engine market with commands waiting has a live runner, and its oldest waiting
command is at most ``ENGINE_MAX_LAG_SECONDS`` old. A market its runner halted (a batch
that keeps failing: ``apps.engine.runner``) lags, and is named with its error.

The check reads only. The runner reports a halted market's error here
(``halt_report``, ``halt_clear``) through the cache: Redis, shared by the runner's process
and the web's, in production; the local-memory cache of one process (``make run``'s
embedded runner) otherwise."""
import dataclasses
import datetime

import structlog
from django.core.cache import cache
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from apps.engine.models import EngineCommand, EngineLease, EngineSequence

log = structlog.get_logger(__name__)

# How old the oldest command not yet settled may be.
ENGINE_MAX_LAG_SECONDS = 10


def _halt_key(market_id: int) -> str:
    return f"engine:halted:{market_id}"


def halt_report(*, market_id: int, owner: str, error: str, since: datetime.datetime,
                failures: int, expires: float) -> None:
    """Record that ``owner`` (a runner) halted ``market_id`` on ``error``, for ``expires``
    seconds (the runner reports again at each failed retry; a report from another owner
    than the lease's is ignored). Never raises: the cache down must not stop a runner
    (the lag is still reported, without the error)."""
    try:
        cache.set(_halt_key(market_id), {"owner": owner, "error": error,
                                         "since": since.isoformat(), "failures": failures},
                  timeout=expires)
    except Exception as exc:  # noqa: BLE001 - a report only
        log.warning("engine_halt_report_failed", market_id=market_id, error=str(exc))


def halt_clear(*, market_id: int) -> None:
    """The market runs again (or its runner let it go). Never raises (a report left
    behind expires, and is read only while the market lags)."""
    try:
        cache.delete(_halt_key(market_id))
    except Exception as exc:  # noqa: BLE001 - a report only
        log.warning("engine_halt_clear_failed", market_id=market_id, error=str(exc))


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
                problem = (f"market {market_id}: command {applied + 1} waits since "
                           f"{oldest.isoformat()} ({lease.owner})")
                # Read only for a lagging market: a halt its runner got through at once
                # (a deadlock retried) never makes the site unready.
                halt = cache.get(_halt_key(market_id))
                if halt and halt["owner"] == lease.owner:
                    problem += (f", halted since {halt['since']} after {halt['failures']} "
                                f"failed tries: {halt['error']}")
                problems.append(problem)
        if problems:
            raise ServiceUnavailable("; ".join(problems))
