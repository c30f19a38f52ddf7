"""API plumbing shared by every app: one error format (also for what never reaches a
view: unknown URLs, oversized bodies, wrong media types, server errors), a JSON parser that
never makes a float, the amount field, strict query parameters and cursor pagination.

Under ``/api/`` every error is ``{"error": {"code", "message", "fields"?}}``:
``exception_handler`` renders DRF's and the services' errors; ``apps.core.http`` answers
unknown ``/api/`` URLs and renders Django's own errors there, and ``apps.core.middleware``
refuses bodies over ``API_MAX_BODY_BYTES`` (413) and bodies that are not JSON (415) before
a view sees them. (Neither imports DRF's views: DRF's settings import this module.)
"""
import binascii
import json
import re
from base64 import b64decode
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core import signing
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.fields import SkipField
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import Cursor, CursorPagination, _positive_int
from rest_framework.parsers import JSONParser
from rest_framework.relations import PKOnlyObject
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError, error_body
from apps.core.money import AmountError, parse_amount


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid number")


def _require_unicode(value: object) -> None:
    """Raise UnicodeEncodeError if a string anywhere in ``value`` (keys too) holds a lone
    surrogate."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _require_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _require_unicode(item)


class DecimalJSONParser(JSONParser):
    """JSON parser that keeps non-integer numbers as their exact text.

    ``json`` would turn ``0.1`` into a lossy float; here it stays the string ``"0.1"`` and
    the field that reads it decides. NaN and Infinity are refused outright, and so is a
    string with a lone surrogate escape (``"\\ud800"``): JSON's grammar allows it, but it is
    not Unicode text, and an error message quoting it back could not be encoded.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(
                stream.read().decode(encoding), parse_float=str, parse_constant=_reject_constant
            )
            _require_unicode(data)
            return data
        except RecursionError as exc:
            # The decoder recurses once per level: a deep enough nesting exhausts the stack.
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
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


class OutputSerializer(serializers.Serializer):
    """A serializer that only renders, without copying its fields for every instance.

    Why: DRF deep-copies every declared field for each serializer it makes (so that one
    instance may change its own fields), which for an order's 36 fields cost more than
    rendering them. An output serializer never changes its fields, so they are copied
    and bound once per class (``_shared_fields``), and ``to_representation`` runs DRF's
    own loop over them: the same fields and the same output; a method field is called on
    this instance, so it sees this instance's context. ``fields`` (what the schema
    reads) is DRF's as before. A declared field may not be a serializer (it would render
    with the shared copy's empty context): raises TypeError on first use.
    """

    def to_representation(self, instance) -> dict:
        ret = {}
        for field in _shared_fields(type(self)).values():
            if field.write_only:
                continue
            if isinstance(field, serializers.SerializerMethodField):
                ret[field.field_name] = getattr(self, field.method_name)(instance)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            value = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[field.field_name] = (None if value is None
                                     else field.to_representation(attribute))
        return ret


class InputSerializer(serializers.Serializer):
    """A serializer that validates with its fields copied and bound once per class (see
    ``OutputSerializer``: an order's input copied its 14 fields on every request).

    Validation is DRF's own: ``to_internal_value`` reads ``fields``, the ``validate_*``
    methods run on this instance, the errors are the same. The shared fields' root is the
    instance kept for the purpose, so they must not read the context (none of this
    project's input fields does); a partial update needs its own root: TypeError."""

    @property
    def fields(self):
        if self.partial:
            raise TypeError(f"{type(self).__name__} cannot validate a partial update")
        return _shared_fields(type(self))


def _shared_fields(cls: type[serializers.Serializer]) -> dict[str, serializers.Field]:
    """``cls``'s fields as DRF makes them, bound to an instance kept for the purpose, made
    once per class (a race that makes them twice keeps either: they are equal)."""
    fields = cls.__dict__.get("_shared")
    if fields is None:
        # DRF's own ``fields`` (a cached_property: its function), on a new instance.
        fields = serializers.Serializer.fields.real_func(cls())
        nested = [name for name, field in fields.items()
                  if isinstance(field, serializers.BaseSerializer)]
        if nested and issubclass(cls, OutputSerializer):
            raise TypeError(f"{cls.__name__}: a nested serializer field ({', '.join(nested)})"
                            " cannot be shared; render it in a method field.")
        cls._shared = fields
    return fields


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: e.g. invalid, not_found.")
    message = serializers.CharField(help_text="For a person: what is wrong.")
    fields = serializers.DictField(
        required=False, help_text="Invalid input only: the messages per field (nested as the "
        "input is).")


class ErrorOutput(serializers.Serializer):
    """The body of every error response under /api/."""

    error = ErrorDetail()


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
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _first_message(detail), detail)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(code if isinstance(code, str) else "error",
                                    _first_message(exc.detail))
    return response


class JsonNegotiation(DefaultContentNegotiation):
    """An ``Accept`` the API cannot meet (``text/html``) gets JSON anyway, not a 406: JSON
    is all it speaks. Views with several renderers (the schema's YAML and JSON) still
    choose by ``Accept`` and ``?format=``."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


# --- Query parameters and pagination ----------------------------------------------------


class QueryInput(serializers.Serializer):
    """Query parameters: one given but empty (``?type=``) is an error, not an absent one
    (DRF reads an empty optional query value as missing and would silently ignore it); one
    given twice is an error (DRF would take the last: a proxy or log may read the first);
    a whole number is ASCII digits (DRF's ``int()`` takes "10.0", "１０" and "١٠")."""

    def to_internal_value(self, data):
        errors = {name: ["May not be empty: give a value or leave the parameter out."]
                  for name, field in self.fields.items()
                  if data.get(name) == "" and not getattr(field, "allow_blank", False)}
        if hasattr(data, "getlist"):
            errors |= {name: ["Given more than once: give it once."]
                       for name in self.fields if len(data.getlist(name)) > 1}
        errors |= {name: ["A whole number of ASCII digits."]
                   for name, field in self.fields.items()
                   if isinstance(field, serializers.IntegerField)
                   and isinstance(data.get(name), str) and data.get(name)
                   and not _WHOLE.fullmatch(data.get(name))}
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


_WHOLE = re.compile(r"-?[0-9]{1,19}", re.ASCII)


_PAGE_SIZE = re.compile(r"[1-9][0-9]{0,5}", re.ASCII)
_ID_POSITION = re.compile(r"[0-9]{1,19}", re.ASCII)


class CursorPage(CursorPagination):
    """Newest first by ``id``, ``?limit=`` (1..max_page_size) and an opaque ``?cursor=``.

    Stricter than DRF's: a ``limit`` that is not a whole number in range, or a cursor this
    server did not make, is a 400 naming the parameter (DRF would ignore the limit, and
    answer a bad cursor with a 404, or a 500 for a cursor whose position is not an id).
    """

    ordering = "-id"
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if len(request.query_params.getlist(self.page_size_query_param)) > 1:
            raise serializers.ValidationError({self.page_size_query_param: [
                "Given more than once: give it once."]})
        if not _PAGE_SIZE.fullmatch(raw) or int(raw) > self.max_page_size:
            raise serializers.ValidationError({self.page_size_query_param: [
                f"A whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    # A cursor is signed: one this server did not make (forged, or garbage that DRF's
    # lenient base64 decodes to an empty cursor, the first page) is refused.
    _signer = signing.Signer(salt="apps.core.api.CursorPage")

    def encode_cursor(self, cursor) -> str:
        url = super().encode_cursor(cursor)
        token = parse_qs(urlsplit(url).query)[self.cursor_query_param][0]
        return replace_query_param(url, self.cursor_query_param, self._signer.sign(token))

    def decode_cursor(self, request):
        invalid = serializers.ValidationError({self.cursor_query_param: [
            "Not a cursor from this list: use a next or previous link as given."]})
        given = request.query_params.getlist(self.cursor_query_param)
        if not given:
            return None
        try:
            if len(given) > 1:
                raise ValueError("repeated")
            tokens = parse_qs(b64decode(self._signer.unsign(given[0]), validate=True)
                              .decode("ascii"), keep_blank_values=True, strict_parsing=True)
            cursor = Cursor(offset=_positive_int(tokens.get("o", ["0"])[0],
                                                 cutoff=self.offset_cutoff),
                            reverse=tokens.get("r", ["0"])[0] == "1",
                            position=tokens.get("p", [None])[0])
        except (signing.BadSignature, binascii.Error, UnicodeDecodeError, ValueError):
            raise invalid from None
        if cursor.position is not None and (not _ID_POSITION.fullmatch(cursor.position)
                                            or int(cursor.position) >= 2 ** 63):
            raise invalid
        return cursor

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        # Both links are always present (null at either end).
        paginated["required"] = ["next", "previous", "results"]
        return paginated

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == self.cursor_query_param:
                parameter["schema"]["minLength"] = 1
        return parameters


def paged_response(view, request, queryset, output: type[serializers.Serializer]) -> Response:
    """One page of ``queryset`` as ``view.pagination_class`` pages it, each row rendered
    by the ``output`` serializer."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view)
    return paginator.get_paginated_response(output(page, many=True).data)
