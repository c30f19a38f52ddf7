#!/usr/bin/env sh
# The production web server: one ASGI app (HTTP + WebSocket /ws/) under uvicorn.
# docker/Dockerfile runs this; bench/ws_fanout.py measures exactly this command.
#   HOST, PORT          where to listen (default 0.0.0.0:8000)
#   WEB_CONCURRENCY     worker processes (default 1; uvicorn reads it). Several need
#                       REDIS_URL: the Redis pub/sub channel layer joins them.
# --ws websockets-sansio: a send is a synchronous write to the socket, so the per-process
#   ticker fan-out (apps/streaming/fanout.py) writes one frame to N sockets without N
#   awaits on flow control. --ws-per-message-deflate false: compression state is per
#   connection, so each tick would be compressed once per subscriber (half the server's
#   time in the fan-out profile) for frames of a few hundred bytes.
# --lifespan off: channels' router has no lifespan handler.
set -eu
exec uvicorn exchange_platform.asgi:application \
  --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" \
  --loop uvloop --http httptools --ws websockets-sansio --ws-per-message-deflate false --lifespan off \
  --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" "$@"
