"""The webhook's signature scheme and source allowlist, alone."""
import pytest

from apps.deposits.signatures import (
    SignatureError,
    StaleTimestamp,
    address_allowed,
    ip_or_none,
    sign,
    verify,
)

BODY = b'{"intent": "x"}'
NOW = 1_800_000_000


def check(timestamp, signature, secrets=("a-secret", "b-secret"), now=NOW) -> int:
    return verify(body=BODY, timestamp=timestamp, signature=signature, secrets=list(secrets),
                  now=now, window=300)


def test_the_secret_that_signed_is_named():
    assert check(str(NOW), sign(secret="b-secret", timestamp=NOW, body=BODY)) == 1
    assert check(str(NOW), sign(secret="a-secret", timestamp=NOW, body=BODY)) == 0


@pytest.mark.parametrize("timestamp", [
    None, "", "+1800000000", " 1800000000", "1800000000 ", "1.8e9", "1800000000.0",
    "\uff11\uff18\uff10\uff10", "\u0661\u0668\u0660\u0660", "-1", "9" * 13,
])
def test_a_timestamp_that_is_not_plain_unix_seconds_is_refused(timestamp):
    with pytest.raises(SignatureError, match="Unix time"):
        check(timestamp, sign(secret="a-secret", timestamp=NOW, body=BODY))


@pytest.mark.parametrize("signature", [
    None, "", "sha256=", "sha1=" + "0" * 40, "SHA256=" + "0" * 64, "sha256=" + "g" * 64,
    "sha256=" + "0" * 63, " sha256=" + "0" * 64,
])
def test_a_malformed_signature_header_is_refused(signature):
    with pytest.raises(SignatureError, match="sha256="):
        check(str(NOW), signature)


def test_no_secret_verifies_nothing():
    with pytest.raises(SignatureError, match="does not match"):
        check(str(NOW), sign(secret="a-secret", timestamp=NOW, body=BODY), secrets=())


@pytest.mark.parametrize("skew,stale", [(300, False), (-300, False), (301, True),
                                        (-301, True)])
def test_the_window_holds_either_side_of_our_clock(skew, stale):
    signature = sign(secret="a-secret", timestamp=NOW, body=BODY)
    if stale:
        with pytest.raises(StaleTimestamp):
            check(str(NOW), signature, now=NOW + skew)
    else:
        assert check(str(NOW), signature, now=NOW + skew) == 0


def test_a_wrong_signature_is_refused_before_the_time_is_looked_at():
    with pytest.raises(SignatureError, match="does not match") as refused:
        check(str(NOW), sign(secret="guess", timestamp=NOW, body=BODY), now=NOW + 10_000)
    assert not isinstance(refused.value, StaleTimestamp)


@pytest.mark.parametrize("address,allowed,expected", [
    ("10.1.2.3", [], True), (None, [], True),
    ("10.1.2.3", ["10.0.0.0/8"], True), ("11.1.2.3", ["10.0.0.0/8"], False),
    ("2001:db8::1", ["2001:db8::/32"], True), ("2001:db9::1", ["2001:db8::/32"], False),
    ("::ffff:10.1.2.3", ["10.0.0.0/8"], False), (None, ["10.0.0.0/8"], False),
    ("not-an-ip", ["10.0.0.0/8"], False), ("192.0.2.7", ["192.0.2.7"], True),
])
def test_the_allowlist(address, allowed, expected):
    assert address_allowed(address, allowed) is expected


@pytest.mark.parametrize("address,expected", [
    ("10.0.0.1", "10.0.0.1"), ("2001:DB8::1", "2001:db8::1"), ("x" * 100, None),
    (None, None), ("10.0.0.1, 10.0.0.2", None),
])
def test_only_an_ip_is_recorded(address, expected):
    assert ip_or_none(address) == expected
