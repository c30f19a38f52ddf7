"""The OpenAPI schema tells the truth: error responses per operation, the real cursor
page, non-empty request strings. (schemathesis in .ci/run checks it against the server.)"""
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

ERROR_REF = {"$ref": "#/components/schemas/ErrorOutput"}


@pytest.fixture(scope="module")
def schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    return schema


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def statuses(schema, key):
    return sorted(dict(operations(schema))[key]["responses"])


def test_every_error_response_has_the_error_body(schema):
    for key, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == ERROR_REF, key
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert error["required"] == ["code", "message"]
    assert set(error["properties"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("key,expected", [
    ("POST /api/v1/auth/token/", ["200", "400", "403", "413", "415", "429"]),
    ("POST /api/v1/accounts/register/", ["202", "400", "413", "415", "429"]),
    ("POST /api/v1/accounts/verify-email/", ["200", "400", "409", "413", "415", "429"]),
    ("POST /api/v1/accounts/password/reset/", ["202", "400", "413", "415", "429"]),
    ("POST /api/v1/accounts/password/reset/confirm/", ["204", "400", "413", "415", "429"]),
    ("GET /api/v1/wallets/", ["200", "401", "429"]),
    ("GET /api/v1/wallets/{wallet_type}/{currency}/ledger/", ["200", "400", "401", "404", "429"]),
    ("POST /api/v1/wallets/transfer/", ["201", "400", "401", "403", "409", "413", "415", "429"]),
    ("GET /api/v1/twd/markets/", ["200", "400", "401", "429"]),
    ("GET /api/v1/twd/ticker/", ["200", "400", "401", "404", "429"]),
    ("GET /api/v1/twd/candles/", ["200", "400", "401", "404", "409", "429", "502"]),
    ("GET /api/v1/twd/orders/", ["200", "400", "401", "429"]),
    ("POST /api/v1/twd/orders/", ["201", "400", "401", "403", "404", "409", "413", "415", "429"]),
    ("POST /api/v1/twd/orders/{order_id}/cancel/", ["200", "401", "403", "404", "409", "429"]),
    ("GET /api/v1/twd/order-lists/", ["200", "400", "401", "429"]),
    ("POST /api/v1/twd/order-lists/",
     ["201", "400", "401", "403", "404", "409", "413", "415", "429"]),
    ("GET /api/v1/twd/order-lists/{list_id}/", ["200", "401", "404", "429"]),
    ("POST /api/v1/twd/order-lists/{list_id}/cancel/",
     ["200", "401", "403", "404", "409", "429"]),
    ("GET /api/v1/fixedtime/instruments/", ["200", "401", "429"]),
    ("GET /api/v1/fixedtime/trades/", ["200", "400", "401", "429"]),
    ("POST /api/v1/fixedtime/trades/",
     ["201", "400", "401", "403", "404", "409", "413", "415", "429"]),
    ("GET /api/v1/fixedtime/trades/{trade_id}/", ["200", "401", "404", "429"]),
    ("POST /api/v1/ecosystem/orders/",
     ["201", "400", "401", "403", "404", "409", "413", "415", "429"]),
    ("POST /api/v1/ecosystem/orders/{order_id}/cancel/",
     ["200", "401", "403", "404", "409", "429"]),
    ("GET /api/v1/ecosystem/trades/", ["200", "400", "401", "404", "429"]),
    ("POST /api/v1/spot/orders/", ["201", "400", "401", "403", "404", "409", "413", "415", "429"]),
    ("POST /api/v1/spot/orders/{order_id}/cancel/", ["200", "401", "403", "404", "409", "429"]),
    ("GET /api/v1/futures/preview/", ["200", "400", "401", "404", "429"]),
    ("POST /api/v1/futures/positions/{position_id}/margin/",
     ["200", "400", "401", "403", "404", "409", "413", "415", "429"]),
])
def test_each_operation_documents_the_errors_it_gives(schema, key, expected):
    assert statuses(schema, key) == expected


def test_throttled_answers_document_retry_after(schema):
    for key, operation in operations(schema):
        assert "Retry-After" in operation["responses"]["429"]["headers"], key


@pytest.mark.parametrize("key,component", [
    ("GET /api/v1/wallets/{wallet_type}/{currency}/ledger/", "EntryOutput"),
    ("GET /api/v1/twd/orders/", "OrderOutput"),
    ("GET /api/v1/twd/order-lists/", "OrderListOutput"),
    ("GET /api/v1/fixedtime/trades/", "FixedTimeTradeOutput"),
])
def test_lists_document_the_cursor_page(schema, key, component):
    operation = dict(operations(schema))[key]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert page["required"] == ["next", "previous", "results"]
    assert page["properties"]["results"] == {
        "type": "array", "items": {"$ref": f"#/components/schemas/{component}"}}
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters["cursor"] == {"type": "string", "minLength": 1}


@pytest.mark.parametrize("component,field", [
    ("AuthTokenRequest", "username"), ("AuthTokenRequest", "password"),
    ("TransferInputRequest", "currency"), ("TransferInputRequest", "client_transfer_id"),
    ("PlaceInputRequest", "symbol"), ("PlaceInputRequest", "client_order_id"),
    ("OrderListPlaceInputRequest", "symbol"), ("OrderListPlaceInputRequest", "client_order_id"),
    ("FixedTimeOpenInputRequest", "symbol"),
])
def test_request_strings_that_must_not_be_empty_say_so(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field]["minLength"] == 1


def test_a_placed_order_links_to_its_cancel(schema):
    created = dict(operations(schema))["POST /api/v1/twd/orders/"]["responses"]["201"]
    assert created["links"] == {"v1_twd_orders_cancel_create": {
        "operationId": "v1_twd_orders_cancel_create",
        "parameters": {"order_id": "$response.body#/id"}}}
    transfer = dict(operations(schema))["POST /api/v1/wallets/transfer/"]["responses"]["201"]
    assert "links" not in transfer  # a list of wallets: nothing with an id to follow


def test_each_venues_order_input_is_its_own_component(schema):
    """Two serializers of one name shared one component (drf-spectacular warned): the
    ecosystem's order input (with ``stp``) and the core's (spot's) must both be true."""
    def request_properties(key: str) -> set[str]:
        body = dict(operations(schema))[key]["requestBody"]["content"]["application/json"]
        return set(schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
                   ["properties"])

    assert "stp" in request_properties("POST /api/v1/ecosystem/orders/")
    assert "stp" not in request_properties("POST /api/v1/spot/orders/")
