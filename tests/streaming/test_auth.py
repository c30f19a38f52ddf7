"""Which token a WebSocket connection offers."""
import pytest

from apps.streaming.auth import token_from_scope


@pytest.mark.parametrize(("headers", "query", "expected"), [
    ([(b"authorization", b"Token abc123")], b"", "abc123"),
    ([(b"Authorization", b"token  abc123 ")], b"", "abc123"),
    ([(b"authorization", b"Token hdr")], b"token=query", "hdr"),
    ([(b"authorization", b"Bearer abc")], b"token=q1", "q1"),
    ([], b"a=1&token=q2&token=q3", "q2"),
    ([], b"token=" + b"x" * 500, "x" * 64),
    ([], b"", None),
    ([(b"cookie", b"sessionid=1")], b"tok=1", None),
])
def test_token_from_scope(headers, query, expected):
    assert token_from_scope({"headers": headers, "query_string": query}) == expected
