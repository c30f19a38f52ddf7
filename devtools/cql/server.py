"""The CQL native protocol v4 server: frames in, ``Database`` results out.

Requests (client to server): OPTIONS, STARTUP, REGISTER, QUERY, PREPARE, EXECUTE, BATCH;
answers READY, SUPPORTED, RESULT (Void, Rows, Set_keyspace, Prepared, Schema_change) or
ERROR. No compression, no authentication, no events pushed (REGISTER is acknowledged).
The bytes are read and written with cassandra-driver's own primitives
(``cassandra.protocol``'s ``read_*``/``write_*``, ``cassandra.cqltypes`` for values), so
what the driver decodes is what it would from a server. A frame of another protocol
version gets a protocol ERROR naming v4 (the driver then downgrades, when not pinned).
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cassandra import cqltypes
from cassandra.protocol import (
    ResultMessage,
    read_binary_longstring,
    read_byte,
    read_int,
    read_longstring,
    read_short,
    read_stringlist,
    read_stringmap,
    write_int,
    write_short,
    write_string,
    write_stringmultimap,
    write_value,
)

from . import parser, values
from .engine import Database, Options, Prepared
from .parser import CqlSyntaxError
from .values import UNSET, CqlError

log = logging.getLogger(__name__)

ERROR, STARTUP, READY, OPTIONS, SUPPORTED = 0x00, 0x01, 0x02, 0x05, 0x06
QUERY, RESULT, PREPARE, EXECUTE, REGISTER, BATCH = 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D
RESPONSE_VERSION = 0x84
HEADER = struct.Struct(">BBhBi")
MAX_FRAME = 256 * 1024 * 1024

_TYPE_CODES = {cls: code for code, cls in ResultMessage.type_codes.items()
               if isinstance(cls, type)}


def write_type(f: io.BytesIO, kind: type) -> None:
    if issubclass(kind, cqltypes.SetType | cqltypes.ListType):
        write_short(f, 0x22 if issubclass(kind, cqltypes.SetType) else 0x20)
        write_type(f, kind.subtypes[0])
        return
    write_short(f, _TYPE_CODES[kind])


def _columns(f: io.BytesIO, keyspace: str, table: str, columns: list[tuple[str, type]]) -> None:
    write_string(f, keyspace)
    write_string(f, table)
    for name, kind in columns:
        write_string(f, name)
        write_type(f, kind)


@dataclass(frozen=True)
class Request:
    """A statement the server was asked to run (QUERY, EXECUTE, or one of a BATCH), with
    the consistency level the client asked for (``cassandra.ConsistencyLevel``'s value)."""

    kind: str
    text: str
    consistency: int


@dataclass
class Connection:
    keyspace: str | None = None
    started: bool = False
    prepared: dict[bytes, Prepared] = field(default_factory=dict)


class CqlServer:
    """Listens on ``host``:``port`` (0: any free port; ``port`` tells which after start)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.host, self.port = host, port
        self.database = Database(address=host, clock=clock)
        # Prepared statements are the node's, not a connection's (a driver prepares on
        # one connection and executes on any).
        self.prepared: dict[bytes, Prepared] = {}
        # The latest statements asked for, for tests to check what a client sent.
        self.requests: deque[Request] = deque(maxlen=10_000)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        connection = Connection()
        try:
            while True:
                try:
                    header = await reader.readexactly(HEADER.size)
                except asyncio.IncompleteReadError:
                    return
                version, flags, stream, opcode, length = HEADER.unpack(header)
                if not 0 <= length <= MAX_FRAME:
                    return
                body = await reader.readexactly(length)
                if version != 0x04:
                    reply = self._error(CqlError(
                        values.PROTOCOL_ERROR,
                        f"Invalid or unsupported protocol version ({version & 0x7F}); "
                        "supported versions are (4/v4)"))
                    writer.write(HEADER.pack(0x80 | (version & 0x7F), 0, stream, ERROR,
                                             len(reply)) + reply)
                    await writer.drain()
                    continue
                if flags & 0x01:
                    opcode, reply = ERROR, self._error(CqlError(
                        values.PROTOCOL_ERROR, "compression is not supported"))
                else:
                    opcode, reply = self._handle(connection, opcode, io.BytesIO(body))
                writer.write(HEADER.pack(RESPONSE_VERSION, 0, stream, opcode, len(reply)) + reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    # -- requests --------------------------------------------------------------------------

    def _handle(self, connection: Connection, opcode: int, body: io.BytesIO) -> tuple[int, bytes]:
        try:
            if opcode == OPTIONS:
                out = io.BytesIO()
                write_stringmultimap(out, {"CQL_VERSION": ["3.3.1"], "COMPRESSION": [],
                                           "PROTOCOL_VERSIONS": ["4/v4"]})
                return SUPPORTED, out.getvalue()
            if opcode == STARTUP:
                options = read_stringmap(body)
                if "COMPRESSION" in options:
                    raise CqlError(values.PROTOCOL_ERROR, "compression is not supported")
                connection.started = True
                return READY, b""
            if not connection.started:
                raise CqlError(values.PROTOCOL_ERROR, "the first message must be STARTUP")
            if opcode == REGISTER:
                read_stringlist(body)
                return READY, b""
            if opcode == QUERY:
                text = read_longstring(body)
                prepared = self.database.prepare(text, connection.keyspace)
                options, skip = _read_options(body)
                self.requests.append(Request("QUERY", text, options.consistency))
                return RESULT, self._execute(connection, prepared, options, skip)
            if opcode == PREPARE:
                text = read_longstring(body)
                prepared = self.database.prepare(text, connection.keyspace)
                statement_id = hashlib.md5(  # noqa: S324 - an id, not a secret
                    f"{connection.keyspace}\x00{text}".encode()).digest()
                self.prepared[statement_id] = prepared
                return RESULT, _prepared_result(statement_id, prepared)
            if opcode == EXECUTE:
                prepared = self._lookup(body)
                options, skip = _read_options(body)
                self.requests.append(Request("EXECUTE", prepared.text, options.consistency))
                return RESULT, self._execute(connection, prepared, options, skip)
            if opcode == BATCH:
                return RESULT, self._batch(connection, body)
            raise CqlError(values.PROTOCOL_ERROR, f"unknown opcode 0x{opcode:02X}")
        except CqlSyntaxError as error:
            return ERROR, self._error(CqlError(values.SYNTAX_ERROR, str(error)))
        except CqlError as error:
            return ERROR, self._error(error)
        except (struct.error, UnicodeDecodeError, EOFError) as error:
            return ERROR, self._error(CqlError(values.PROTOCOL_ERROR, f"malformed frame: {error}"))
        except Exception as error:  # a bug here answers an ERROR; the connection lives on
            log.exception("CQL emulator: unexpected failure")
            return ERROR, self._error(CqlError(values.SERVER_ERROR, repr(error)))

    def _lookup(self, body: io.BytesIO) -> Prepared:
        statement_id = body.read(read_short(body))
        prepared = self.prepared.get(statement_id)
        if prepared is None:
            raise CqlError(values.UNPREPARED, "Prepared query with ID "
                           f"{statement_id.hex()} not found", statement_id=statement_id)
        return prepared

    def _execute(self, connection: Connection, prepared: Prepared, options: Options,
                 skip_metadata: bool) -> bytes:
        result = self.database.execute(prepared, options, connection.keyspace)
        if isinstance(result, values.SetKeyspace):
            connection.keyspace = result.keyspace
        return _result(result, skip_metadata)

    def _batch(self, connection: Connection, body: io.BytesIO) -> bytes:
        kind = read_byte(body)
        if kind not in (0, 1):
            raise values.invalid("only LOGGED and UNLOGGED batches are supported")
        statements = []
        for _ in range(read_short(body)):
            if read_byte(body) == 0:
                prepared = self.database.prepare(read_longstring(body), connection.keyspace)
            else:
                prepared = self._lookup(body)
            bound = [_read_value(body) for _ in range(read_short(body))]
            statements.append((prepared, bound))
        consistency = read_short(body)
        flags = read_byte(body)
        if flags & 0x10:
            read_short(body)
        timestamp = struct.unpack(">q", body.read(8))[0] if flags & 0x20 else None
        if flags & 0x40:
            raise CqlError(values.PROTOCOL_ERROR, "named values are not supported")
        self.requests.extend(Request("BATCH", prepared.text, consistency)
                             for prepared, _ in statements)
        for prepared, _ in statements:
            statement = prepared.statement
            if not isinstance(statement, parser.Insert | parser.Update | parser.Delete):
                raise values.invalid("Invalid statement in batch: only UPDATE, INSERT and "
                                     "DELETE statements are allowed.")
            if getattr(statement, "if_not_exists", False) or getattr(
                    statement, "if_exists", False) or getattr(statement, "conditions", None):
                raise values.invalid("conditional batches are not supported by this emulator")
        # One timestamp for the whole batch (the client's, else the server's now).
        if timestamp is None:
            timestamp = self.database.now_micros()
        # Checked whole before anything is applied: a bad statement changes nothing.
        checked = []
        for prepared, bound in statements:
            table = self.database.table(prepared.statement.table, prepared.keyspace)
            checked.append((table, prepared.statement,
                            self.database.bind_values(prepared, bound)))
        for table, statement, given in checked:
            self.database.write(table, statement, given, timestamp)
        return _result(values.Void(), False)

    @staticmethod
    def _error(error: CqlError) -> bytes:
        out = io.BytesIO()
        write_int(out, error.code)
        write_string(out, error.message)
        if error.code == values.ALREADY_EXISTS:
            write_string(out, error.keyspace)
            write_string(out, error.table)
        elif error.code == values.UNPREPARED:
            write_short(out, len(error.statement_id))
            out.write(error.statement_id)
        return out.getvalue()


def _read_value(f: io.BytesIO) -> Any:
    size = read_int(f)
    if size == -2:
        return UNSET
    if size < 0:
        return None
    value = f.read(size)
    if len(value) != size:
        raise EOFError("value past the end of the frame")
    return value


def _read_options(f: io.BytesIO) -> tuple[Options, bool]:
    # Every consistency level is met (one node holds every replica); it is recorded only.
    options = Options(consistency=read_short(f))
    flags = read_byte(f)
    if flags & 0x40:
        raise CqlError(values.PROTOCOL_ERROR, "named values are not supported")
    if flags & 0x01:
        options.values = [_read_value(f) for _ in range(read_short(f))]
    if flags & 0x04:
        options.page_size = read_int(f)
    if flags & 0x08:
        options.paging_state = read_binary_longstring(f)
    if flags & 0x10:
        read_short(f)
    if flags & 0x20:
        options.timestamp = struct.unpack(">q", f.read(8))[0]
    return options, bool(flags & 0x02)


def _result(result: values.Result, skip_metadata: bool) -> bytes:
    out = io.BytesIO()
    if isinstance(result, values.Void):
        write_int(out, 0x0001)
    elif isinstance(result, values.Rows):
        write_int(out, 0x0002)
        flags = 0x0002 if result.paging_state is not None else 0
        flags |= 0x0004 if skip_metadata else 0x0001
        write_int(out, flags)
        write_int(out, len(result.columns))
        if result.paging_state is not None:
            write_int(out, len(result.paging_state))
            out.write(result.paging_state)
        if not skip_metadata:
            _columns(out, result.keyspace, result.table, result.columns)
        write_int(out, len(result.rows))
        for row in result.rows:
            for value in row:
                write_value(out, value)
    elif isinstance(result, values.SetKeyspace):
        write_int(out, 0x0003)
        write_string(out, result.keyspace)
    elif isinstance(result, values.SchemaChange):
        write_int(out, 0x0005)
        write_string(out, result.change)
        write_string(out, result.target)
        write_string(out, result.keyspace)
        if result.target == "TABLE":
            write_string(out, result.table)
    return out.getvalue()


def _prepared_result(statement_id: bytes, prepared: Prepared) -> bytes:
    out = io.BytesIO()
    write_int(out, 0x0004)
    write_short(out, len(statement_id))
    out.write(statement_id)
    keyspace, table = prepared.table or ("", "")
    write_int(out, 0x0001)  # global table spec
    write_int(out, len(prepared.binds))
    write_int(out, len(prepared.pk_indexes))
    for index in prepared.pk_indexes:
        write_short(out, index)
    _columns(out, keyspace, table, [(spec.name, spec.kind) for spec in prepared.binds])
    # An LWT's answer has columns of its own ([applied], ...): no result metadata then,
    # so the driver reads the columns from each answer.
    write_int(out, 0x0001 if prepared.result else 0)
    write_int(out, len(prepared.result))
    if prepared.result:
        _columns(out, keyspace, table, prepared.result)
    return out.getvalue()
