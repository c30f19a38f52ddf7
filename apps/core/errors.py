"""Domain errors. Services raise these; the API layer maps each to one 4xx error body,
``error_body``: the one error format of the API."""


class DomainError(Exception):
    """A request the platform refuses. ``status`` is the HTTP status the API answers."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields or {}


class InvalidInput(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller may not do this (yet): a KYC level or a second factor it lacks."""

    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The request is well-formed but the current state forbids it."""

    status = 409
    code = "conflict"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}
