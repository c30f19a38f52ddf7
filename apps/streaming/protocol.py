"""The ``/ws/`` subscribe protocol: request parsing, per-connection subscription state and
the frames the server sends. Pure functions and plain objects: no I/O, no database.

Client -> server (text frames, one JSON object each)::

    {"op": "subscribe",   "id": 1, "streams": ["ticker@EUR/USD", "ticker@spot:BTC/USDT",
                                                "depth@ecosystem:ABC/USDT", "orders"]}
    {"op": "unsubscribe", "id": 2, "streams": ["orders"]}
    {"op": "ping",        "id": 3}

Server -> client::

    {"op": "subscribed",   "id": 1, "streams": [...]}        (likewise "unsubscribed")
    {"op": "pong",         "id": 3, "time": <ms>}
    {"op": "data", "stream": "ticker@EUR/USD", "seq": 7, "time": <ms>, "data": {...}}
    {"op": "heartbeat",    "time": <ms>}
    {"op": "error",        "id": 1, "code": "...", "message": "..."}

Guarantees: ``parse_request`` either returns a well-formed request or raises
``ProtocolError`` (never anything else, whatever the input); ``Subscriptions`` changes
only through ``apply`` of a plan that respected the cap and the private-stream rule;
``next_seq`` numbers each private stream's data 1, 2, 3... for the connection's lifetime
(a re-subscribed stream continues its numbering, so a number is never reused). Ticker
data is numbered at publish time instead (``apps.marketdata.streams.next_ticker_seq``),
the same for every connection; so are an internal market's book streams (``depth@`` and
``trades@``, ``apps.marketdata.books``), which are public and fanned out like tickers.
"""
import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

from apps.core.identifiers import is_canonical
from apps.marketdata import streams as names
from apps.marketdata.quotes import is_venue

MAX_ID_LENGTH: Final = 64
_MAX_SAFE_INT: Final = 2**53 - 1  # the largest id a JavaScript client can echo exactly

# Close codes for a frame of a type / size this endpoint refuses: RFC 6455's 1003 and 1009
# moved into the application range (4000-4999), because servers (daphne's autobahn) let an
# application close only with 1000 or 3000-4999.
CLOSE_UNSUPPORTED_DATA: Final = 4003
CLOSE_MESSAGE_TOO_BIG: Final = 4009
# A client that does not read its frames fast enough (RFC 6455's 1008, policy violation).
CLOSE_SLOW_CONSUMER: Final = 4008

RequestId = str | int | None


class ProtocolError(Exception):
    """A bad request: answered with an error frame, and with closing the connection when
    ``close_code`` is set."""

    def __init__(self, code: str, message: str, *, id: RequestId = None,
                 close_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id
        self.close_code = close_code

    def frame(self) -> dict[str, Any]:
        return error_frame(code=self.code, message=self.message, id=self.id)


@dataclass(frozen=True, slots=True)
class Stream:
    """A parsed stream name: a public one (``venue`` and ``symbol`` set; ``kind`` is
    ``ticker``, ``depth``, ``trades`` or ``mark``) or a private stream."""

    name: str
    venue: str | None = None
    symbol: str | None = None
    kind: str = "ticker"

    @property
    def private(self) -> bool:
        return self.name in names.USER_STREAMS

    def group(self, *, user_id: int | None) -> str:
        """The channel group feeding this stream (private streams need ``user_id``)."""
        if self.symbol is not None:
            if self.kind in names.BOOK_STREAMS:
                return names.book_group(kind=self.kind, venue=self.venue, symbol=self.symbol)
            if self.kind == names.MARK:
                return names.mark_group(venue=self.venue, symbol=self.symbol)
            return names.ticker_group(venue=self.venue, symbol=self.symbol)
        if user_id is None:
            raise ValueError("a private stream needs a user")
        return names.user_group(user_id)


@dataclass(frozen=True, slots=True)
class Request:
    op: str  # "subscribe", "unsubscribe" or "ping"
    id: RequestId = None
    streams: tuple[Stream, ...] = ()


def parse_stream(name: object, *, id: RequestId = None) -> Stream:
    """``name`` as a Stream; raises ProtocolError("unknown_stream") for anything else.
    Only the syntax is checked here: a ticker's venue must be well-formed and its symbol
    canonical (what a market row holds: ``EUR/USD``, not ``eur/usd`` or a look-alike),
    and the name must be the ticker's one name (``ticker@paper:EUR/USD`` is refused,
    naming ``ticker@EUR/USD``); a book stream (``depth@VENUE:SYMBOL``,
    ``trades@VENUE:SYMBOL``) and a mark stream (``mark@VENUE:SYMBOL``) are always
    venue-qualified. Whether its market is enabled (and has a book, or a mark) is the
    caller's question."""
    if isinstance(name, str):
        if name in names.USER_STREAMS:
            return Stream(name=name)
        if name.startswith(names.TICKER_PREFIX):
            stream = _parse_ticker(name, id=id)
            if stream is not None:
                return stream
        kind, at, rest = name.partition("@")
        if at and (kind in names.BOOK_STREAMS or kind == names.MARK):
            venue, qualified, symbol = rest.partition(names.VENUE_SEPARATOR)
            if qualified and is_venue(venue) and is_canonical(symbol, kind="symbol"):
                return Stream(name=name, venue=venue, symbol=symbol, kind=kind)
    shown = repr(name)[:80]
    raise ProtocolError("unknown_stream", f"Unknown stream {shown}: use ticker@SYMBOL (the "
                        "paper venue), ticker@VENUE:SYMBOL, depth@VENUE:SYMBOL, "
                        "trades@VENUE:SYMBOL, mark@VENUE:SYMBOL, orders, balances, "
                        "fixedtime or positions.", id=id)


def _parse_ticker(name: str, *, id: RequestId) -> Stream | None:
    rest = name[len(names.TICKER_PREFIX):]
    venue, qualified, symbol = rest.partition(names.VENUE_SEPARATOR)
    if not qualified:
        venue, symbol = names.UNQUALIFIED_TICKER_VENUE, rest
    if not (is_venue(venue) and is_canonical(symbol, kind="symbol")):
        return None
    canonical = names.ticker_stream(venue=venue, symbol=symbol)
    if canonical != name:
        # Two names for one stream would each get frames under only one of them.
        raise ProtocolError("unknown_stream", f"The {venue} venue's {symbol} ticker is "
                            f"named {canonical}: subscribe to that.", id=id)
    return Stream(name=name, venue=venue, symbol=symbol)


def _parse_id(value: object) -> RequestId:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_SAFE_INT:
        return value
    raise ProtocolError("bad_request",
                        f"id must be a string of at most {MAX_ID_LENGTH} characters or an "
                        "integer.")


def _reject_constant(value: str) -> None:
    raise ValueError(f"{value} is not JSON")


def too_large(max_bytes: int) -> ProtocolError:
    """A frame above ``max_bytes``: the app's answer and the web server's (``server.py``)."""
    return ProtocolError("message_too_large", f"Frames are limited to {max_bytes} bytes.",
                         close_code=CLOSE_MESSAGE_TOO_BIG)


def parse_request(text: str, *, max_bytes: int, max_streams: int) -> Request:
    """Parse one client text frame. Raises ProtocolError: ``message_too_large`` (with
    close code 4009) above ``max_bytes`` UTF-8 bytes, ``invalid_json``, ``bad_request``
    (not an object, bad id, bad ``streams``), ``unknown_op``, ``unknown_stream``,
    ``too_many_subscriptions`` (more than ``max_streams`` names in one request)."""
    # A character is at most 4 bytes: only a long frame needs encoding to be measured.
    if len(text) > max_bytes or (len(text) * 4 > max_bytes
                                 and len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        raise too_large(max_bytes)
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "The frame is not valid JSON.")
    if not isinstance(message, dict):
        raise ProtocolError("bad_request", "A request is a JSON object with an \"op\".")
    request_id = _parse_id(message.get("id"))
    op = message.get("op")
    if not isinstance(op, str):
        raise ProtocolError("bad_request", "\"op\" must be a string.", id=request_id)
    if op == "ping":
        return Request(op=op, id=request_id)
    if op not in ("subscribe", "unsubscribe"):
        raise ProtocolError("unknown_op", f"Unknown op {op[:40]!r}: use subscribe, "
                            "unsubscribe or ping.", id=request_id)
    raw = message.get("streams")
    if not isinstance(raw, list) or not raw:
        raise ProtocolError("bad_request", "\"streams\" must be a non-empty list of names.",
                            id=request_id)
    if len(raw) > max_streams:
        raise ProtocolError("too_many_subscriptions",
                            f"At most {max_streams} streams per connection.", id=request_id)
    parsed = {stream.name: stream for stream in (parse_stream(n, id=request_id) for n in raw)}
    return Request(op=op, id=request_id, streams=tuple(parsed.values()))


@dataclass(frozen=True, slots=True)
class Plan:
    """What a request changes: streams added or removed, and the channel groups of
    private streams the connection must join or leave for them (tickers are served by
    the process's fan-out hub, stream by stream: ``apps.streaming.fanout``)."""

    streams: tuple[Stream, ...]
    join: tuple[str, ...] = ()
    leave: tuple[str, ...] = ()


@dataclass
class Subscriptions:
    """One connection's subscriptions and sequence numbers."""

    user_id: int | None
    limit: int
    active: dict[str, Stream] = field(default_factory=dict)
    _seq: dict[str, int] = field(default_factory=dict)

    def __contains__(self, stream_name: object) -> bool:
        return stream_name in self.active

    def groups(self) -> set[str]:
        """The channel groups the connection itself is in: its private streams'."""
        return {stream.group(user_id=self.user_id) for stream in self.active.values()
                if stream.private}

    def public(self) -> list[Stream]:
        """The active public streams (served through the fan-out hub)."""
        return [stream for stream in self.active.values() if not stream.private]

    def plan_subscribe(self, request: Request) -> Plan:
        """The plan that adds ``request.streams`` (already active ones are a no-op).
        Raises ProtocolError: ``unauthorized`` (a private stream without a user),
        ``too_many_subscriptions`` (the total would exceed ``limit``)."""
        new = [s for s in request.streams if s.name not in self.active]
        if self.user_id is None and any(s.private for s in request.streams):
            raise ProtocolError("unauthorized", "Private streams need a logged-in user "
                                "(session cookie or ?token=).", id=request.id)
        if len(self.active) + len(new) > self.limit:
            raise ProtocolError("too_many_subscriptions",
                                f"At most {self.limit} streams per connection.", id=request.id)
        current = self.groups()
        join = {s.group(user_id=self.user_id) for s in new if s.private} - current
        return Plan(streams=tuple(new), join=tuple(sorted(join)))

    def plan_unsubscribe(self, request: Request) -> Plan:
        """The plan that removes ``request.streams`` (inactive ones are a no-op)."""
        gone = [s for s in request.streams if s.name in self.active]
        remaining = {s.group(user_id=self.user_id) for name, s in self.active.items()
                     if s.private and name not in {g.name for g in gone}}
        leave = {s.group(user_id=self.user_id) for s in gone if s.private} - remaining
        return Plan(streams=tuple(gone), leave=tuple(sorted(leave)))

    def apply(self, plan: Plan, *, subscribe: bool) -> None:
        for stream in plan.streams:
            if subscribe:
                self.active[stream.name] = stream
            else:
                self.active.pop(stream.name, None)

    def next_seq(self, stream_name: str) -> int:
        self._seq[stream_name] = self._seq.get(stream_name, 0) + 1
        return self._seq[stream_name]


# --- frames ---------------------------------------------------------------------------


def now_ms() -> int:
    """The server time in frames: milliseconds since the Unix epoch (UTC)."""
    return time.time_ns() // 1_000_000


def ack_frame(*, op: str, id: RequestId, streams: list[str]) -> dict[str, Any]:
    return {"op": f"{op}d", "id": id, "streams": streams}


def error_frame(*, code: str, message: str, id: RequestId = None) -> dict[str, Any]:
    return {"op": "error", "id": id, "code": code, "message": message}


def data_frame(*, stream: str, seq: int, data: dict[str, Any], time_ms: int,
               snapshot: bool = False) -> dict[str, Any]:
    frame = {"op": "data", "stream": stream, "seq": seq, "time": time_ms, "data": data}
    if snapshot:
        frame["snapshot"] = True
    return frame


def heartbeat_frame(*, time_ms: int) -> dict[str, Any]:
    return {"op": "heartbeat", "time": time_ms}


def pong_frame(*, id: RequestId, time_ms: int) -> dict[str, Any]:
    return {"op": "pong", "id": id, "time": time_ms}


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))
