#!/usr/bin/env sh
# The production web server: one ASGI app (HTTP + WebSocket /ws/) under uvicorn.
# docker/Dockerfile runs this; bench/ws_fanout.py measures exactly this command.
#   HOST, PORT          where to listen (default 0.0.0.0:8000)
#   WEB_CONCURRENCY     worker processes (default 1; uvicorn reads it). Several need
#                       REDIS_URL: the Redis pub/sub channel layer joins them.
#   FORWARDED_ALLOW_IPS the reverse proxies in front (comma-separated addresses or
#                       networks). Unset: none, and the client is the TCP peer whatever
#                       X-Forwarded-For says. Set: for a connection from one of them,
#                       uvicorn takes the client from X-Forwarded-For (the nearest entry
#                       not itself a listed proxy) and the scheme from X-Forwarded-Proto.
#                       Django's throttles and login lockout read that REMOTE_ADDR; leave
#                       NUM_PROXIES at 0 here (README "Client addresses").
# --ws apps.streaming.server:WebSocketProtocol: uvicorn's websockets-sansio, a send is a
#   synchronous write to the socket, so the per-process ticker fan-out
#   (apps/streaming/fanout.py) writes one frame to N sockets without N awaits on flow
#   control; its message limit is STREAMING_MAX_FRAME_BYTES (--ws-max-size is ignored)
#   and a larger message gets the documented error and close 4009, not a reset.
# --ws-per-message-deflate false: compression state is per connection, so each tick would
#   be compressed once per subscriber (half the server's time in the fan-out profile) for
#   frames of a few hundred bytes.
# python -m exchange_platform.web: uvicorn's command line and supervisor, each worker on
#   a socket of its own (SO_REUSEPORT), so that connections opened together are spread
#   across the workers instead of all going to the first to wake.
# --lifespan off: channels' router has no lifespan handler.
# --no-access-log: each request is logged once, as a JSON line with its request id
#   (django-structlog's request_finished; README "Metrics and logs").
set -eu
if [ -n "${FORWARDED_ALLOW_IPS:-}" ]; then
  set -- --proxy-headers --forwarded-allow-ips "$FORWARDED_ALLOW_IPS" "$@"
else
  set -- --no-proxy-headers "$@"
fi
exec python -m exchange_platform.web exchange_platform.asgi:application \
  --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --loop uvloop --http httptools --ws apps.streaming.server:WebSocketProtocol \
  --ws-per-message-deflate false --lifespan off --no-access-log "$@"
