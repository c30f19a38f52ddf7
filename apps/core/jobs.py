"""Background jobs recorded as rows (an import a Celery worker runs while the admin
watches its progress): the one way such a row is run to its end."""
from collections.abc import Callable

import structlog
from django.db import models

from apps.core.errors import DomainError

log = structlog.get_logger(__name__)


def job_run(*, model: type[models.Model], job_id: int,
            work: Callable[[models.Model], tuple[int, int]]) -> models.Model:
    """Run the queued job ``job_id`` of ``model`` (a row with ``status`` RUNNING / DONE /
    FAILED, ``progress``, ``created``, ``updated`` and ``message``): ``work(job)``
    returns (created, updated). Its outcome is recorded on the row, DONE or FAILED with
    the reason, whatever the error (logged, not raised): left RUNNING, the admin would
    wait for it forever. Returns the row as it ends."""
    job = model.objects.get(pk=job_id)
    rows = model.objects.filter(pk=job_id)
    rows.update(status="RUNNING")
    try:
        created, updated = work(job)
    except DomainError as exc:
        rows.update(status="FAILED", message=exc.message)
    except Exception as exc:  # a bug, a lost database connection: the job still ends
        log.exception("job_crashed", model=model._meta.label, job_id=job_id)
        rows.update(status="FAILED", message=f"{type(exc).__name__}: {exc}")
    else:
        rows.update(status="DONE", progress=100, created=created, updated=updated,
                    message=f"{created} created, {updated} updated")
    job.refresh_from_db()
    return job
