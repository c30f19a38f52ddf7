"""uvicorn's WebSocket protocol (``websockets-sansio``), with the frame limit of the
streaming protocol and its answer to a frame above it.

uvicorn refuses a message above its ``--ws-max-size`` (16 MiB by default) itself, before
the application could: it queued a close 1009 and closed the socket at once, with the rest
of the client's frame still unread, so the client saw a TCP reset instead of the
``message_too_large`` error and close 4009 that docs/STREAMING.md promises. This class
(scripts/web.sh: ``--ws apps.streaming.server:WebSocketProtocol``):

- takes its limit from ``STREAMING_MAX_FRAME_BYTES``, the consumer's own, so one number
  decides and a larger message is refused from its frame header, before it is buffered
  (``--ws-max-size`` is ignored);
- answers such a message as the consumer answers one that reaches it (daphne, the test
  communicator): the ``message_too_large`` error frame, then close 4009;
- then reads on, discarding, until the client closes its side (at most ``close_timeout``),
  so that the client reads both frames instead of a reset.
"""
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import PayloadTooBig
from websockets.frames import Close, Frame, Opcode

from apps.core import conf
from apps.streaming import protocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conn.max_message_size = conf.STREAMING_MAX_FRAME_BYTES
        self._refused_too_large = False

    def data_received(self, data: bytes) -> None:
        if self._refused_too_large:
            self.conn.receive_data(data)  # discarded: the connection is failed
            return
        super().data_received(data)

    def handle_parser_exception(self) -> None:
        if not isinstance(self.conn.parser_exc, PayloadTooBig):
            super().handle_parser_exception()
            return
        self._refused_too_large = True
        # websockets' own answer (close 1009, then EOF) is replaced by the documented one.
        self.conn.data_to_send()
        error = protocol.too_large(conf.STREAMING_MAX_FRAME_BYTES)
        text = protocol.encode(error.frame()).encode()
        self.transport.write(Frame(Opcode.TEXT, text).serialize(mask=False)
                             + Frame(Opcode.CLOSE, Close(error.close_code, "").serialize()
                                     ).serialize(mask=False))
        self.transport.write_eof()
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": error.close_code,
                               "reason": ""})
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # The client's EOF ends the connection (eof_received); a client that never sends
        # it is cut off after close_timeout.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
