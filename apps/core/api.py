"""API plumbing shared by every app: one error format, a JSON parser that never makes a
float, and the amount field."""
import json
from decimal import Decimal

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError
from apps.core.money import AmountError, parse_amount


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid number")


class DecimalJSONParser(JSONParser):
    """JSON parser that keeps non-integer numbers as their exact text.

    ``json`` would turn ``0.1`` into a lossy float; here it stays the string ``"0.1"`` and
    the field that reads it decides. NaN and Infinity are refused outright.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(
                stream.read().decode(encoding), parse_float=str, parse_constant=_reject_constant
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^[0-9]+(\.[0-9]+)?$",
                     "example": "12.50"})
class AmountField(serializers.Field):
    """A positive amount, parsed by ``apps.core.money.parse_amount``; rendered as a string.

    ``decimals`` bounds the fractional digits here; the service checks the currency's own
    precision, which the field cannot know.
    """

    default_error_messages = {"invalid": "{message}"}

    def __init__(self, *, allow_zero: bool = False, **kwargs):
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_amount(data, allow_zero=self.allow_zero)
        except AmountError as exc:
            self.fail("invalid", message=f"Amount {exc}.")

    def to_representation(self, value: Decimal) -> str:
        return format(value.normalize(), "f") if value else "0"


def _error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render every API error as ``{"error": {"code", "message", "fields"?}}``."""
    if isinstance(exc, DomainError):
        return Response(_error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _error_body("invalid", _first_message(exc.detail), exc.detail)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = _error_body(
            code if isinstance(code, str) else "error", _first_message(response.data)
        )
    return response
