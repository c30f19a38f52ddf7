"""The OpenAPI schema (drf-spectacular) documents the errors each operation really gives.

``ErrorAutoSchema`` (settings: ``DEFAULT_SCHEMA_CLASS``) adds to every operation the error
responses that follow from the operation as documented, so that no view repeats them:

- 400 when it takes a request body or query parameters (malformed JSON, a field or
  parameter that fails validation, ``fields`` saying which);
- 401 when it authenticates (a missing or bad token; on endpoints open to anonymous
  callers too, since a bad token is refused there as well);
- 403 when it accepts a session on an unsafe method (the CSRF check);
- 404 when it has path parameters (an id that names nothing of yours);
- 413 and 415 when it takes a request body (``API_MAX_BODY_BYTES``; not JSON);
- 429 when it is throttled (with ``Retry-After``).

Errors that only the view knows (an unknown symbol is a 404, a state conflict a 409, an
upstream failure a 502) it declares with ``error_responses(...)`` in its ``extend_schema``.
Every error body is the ``ErrorOutput`` component (``apps.core.api.ErrorOutput``). A method an
endpoint does not have is a 405 with ``Allow`` on every path; OpenAPI has no operation to
attach it to, so the API description says so.

``link_created_items`` (a postprocessing hook) adds OpenAPI links from creating an item to
the operations on it, which schemathesis' stateful phase follows.
"""
import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication

from apps.core.api import ErrorOutput

ERROR_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, or a field or query parameter that fails "
         "validation (``fields`` names each).",
    401: "Not authenticated: no credentials, or a token that is not valid.",
    403: "Refused: a session request without its CSRF token.",
    404: "Not found: nothing of yours is named so.",
    409: "Conflict with the current state (e.g. insufficient funds, an order no longer "
         "open, no fresh price).",
    413: "The request body is larger than API_MAX_BODY_BYTES.",
    415: "The request body is not application/json.",
    429: "Throttled: too many requests. Retry-After says in how many seconds to retry.",
    502: "The upstream data provider failed or is unreachable.",
}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_RETRY_AFTER = {"Retry-After": {
    "schema": {"type": "integer", "minimum": 0},
    "description": "Seconds until a request may succeed.",
}}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema(responses=...)``: the ones a view's own logic
    gives, beyond those ``ErrorAutoSchema`` derives."""
    return {status: OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[status])
            for status in statuses}


class ErrorAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorOutput, "response").ref
        for status in self._derived_error_statuses(operation):
            response = {"description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": error}}}
            if status == 429:
                response["headers"] = _RETRY_AFTER
            operation["responses"].setdefault(str(status), response)
        operation["responses"] = dict(sorted(operation["responses"].items()))
        return operation

    def _derived_error_statuses(self, operation: dict) -> list[int]:
        places = {parameter["in"] for parameter in operation.get("parameters", [])}
        body = "requestBody" in operation
        authenticators = self.view.get_authenticators()
        statuses = []
        if body or "query" in places:
            statuses.append(400)
        if authenticators:
            statuses.append(401)
        if self.method in _UNSAFE and any(
                isinstance(a, SessionAuthentication) for a in authenticators):
            statuses.append(403)
        if "path" in places:
            statuses.append(404)
        if body:
            statuses += [413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses


def link_created_items(result: dict, generator, request, public) -> dict:
    """OpenAPI links from a ``POST /things/`` that answers 201 with the created item (an
    object with an ``id``) to each operation under ``/things/{thing_id}/``: the answer's
    ``id`` fills that path parameter (place an order, then cancel it)."""
    schemas = result.get("components", {}).get("schemas", {})
    for collection, item in result["paths"].items():
        created = item.get("post", {}).get("responses", {}).get("201")
        ref = (created or {}).get("content", {}).get("application/json", {}).get(
            "schema", {}).get("$ref", "")
        if "id" not in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}):
            continue
        for path, operations in result["paths"].items():
            match = re.fullmatch(re.escape(collection) + r"\{(\w+)\}/.*", path)
            if match is None:
                continue
            for operation in operations.values():
                created.setdefault("links", {})[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match.group(1): "$response.body#/id"},
                }
    return result
