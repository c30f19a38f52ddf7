"""A request id on every log line of a request, and of the work it starts.

django-structlog's ``RequestMiddleware`` binds a request id to structlog's context
variables for the request (its ``request_started``/``request_finished`` lines and every
line logged meanwhile, the stream events sent after commit included) and, with
``DJANGO_STRUCTLOG_CELERY_ENABLED``, copies that context into the headers of each task
published meanwhile (``before_task_publish``) and binds it in the worker before the task
runs (``task_prerun``; the worker needs its ``DjangoStructLogInitStep``).

What this module adds, through the middleware's signals (connected in
``CoreConfig.ready``):

- The id is the client's (or its proxy's) ``X-Request-ID`` when that is sane: 8 to 128
  characters of ``A-Z a-z 0-9 . _ : -``. Anything else (too long, control characters or
  newlines that would forge log lines, other characters) is replaced by a new random id,
  never trimmed or escaped into something that looks like the client's.
- The response carries the id in ``X-Request-ID`` (errors included), so a user reporting
  a problem can quote it.
- The client address logged is ``REMOTE_ADDR`` (what the server and its trusted proxies
  decided, README "Client addresses"), not a forwarded header anyone can write.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django_structlog import signals

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id_from(header: str | None) -> str:
    """``header`` if it is a sane request id (module docstring), else a new random one."""
    if header is not None and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _bind(*, request: HttpRequest, **kwargs: Any) -> None:
    request_id = request_id_from(request.headers.get(HEADER))
    request.request_id = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id,
                                           ip=request.META.get("REMOTE_ADDR"))


def _answer(*, request: HttpRequest, response: HttpResponse, **kwargs: Any) -> None:
    request_id = getattr(request, "request_id", None)
    if request_id is not None:
        response[HEADER] = request_id


def connect() -> None:
    """Connect the receivers to django-structlog's request signals (once per process)."""
    signals.bind_extra_request_metadata.connect(_bind, dispatch_uid="exchange_request_id")
    signals.bind_extra_request_finished_metadata.connect(
        _answer, dispatch_uid="exchange_request_id_answer")
    signals.update_failure_response.connect(
        _answer, dispatch_uid="exchange_request_id_failure")
