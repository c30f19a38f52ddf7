#!/usr/bin/env bash
# `make run`: the platform on embedded defaults with the TwelveData emulator as its price
# feed (a seeded random walk on loopback). No service and no API key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
EMULATOR_PORT=${EMULATOR_PORT:-8765}
export DJANGO_DEBUG=1
export TWELVEDATA_BASE_URL="http://127.0.0.1:${EMULATOR_PORT}"
export TWELVEDATA_WS_URL="ws://127.0.0.1:${EMULATOR_PORT}/v1/quotes/price"
export TWELVEDATA_API_KEY=demo
mkdir -p var

echo "Demo accounts (development only):"
"$BIN/python" manage.py demo_setup

"$BIN/python" -m devtools.twelvedata --port "$EMULATOR_PORT" --apikey demo --interval 1 \
  > var/emulator.log 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  "$BIN/python" -c "import socket; socket.create_connection(('127.0.0.1', $EMULATOR_PORT), 1)" \
    2>/dev/null && break
  sleep 0.2
done

"$BIN/python" manage.py twd_import --kind all --enable-provider \
  --enable "EUR/USD,GBP/USD,USD/JPY,AUD/USD,USD/CHF,EUR/GBP,AAPL,MSFT,NVDA,TSLA,AMZN,SPX,NDX,DJI,SPY,QQQ,BTC/USD,ETH/USD" \
  --trending "EUR/USD,AAPL,NVDA,SPX" --hot "GBP/USD,TSLA,BTC/USD"
# Fixed-time up/down trades on two of them (the page: /fixedtime/paper/EUR/USD/).
"$BIN/python" manage.py fixedtime_instrument paper "EUR/USD,BTC/USD" --expiries 30,60,300
# No beat without a broker: settle what a previous run left open past its expiry.
"$BIN/python" manage.py fixedtime_settle_due

echo "Serving http://${HOST}:${PORT}/  (admin: /admin/, API docs: /api/docs/)"
echo "Price feed: TwelveData emulator on 127.0.0.1:${EMULATOR_PORT} (log: var/emulator.log)"
PRICE_STREAM_IN_PROCESS=1 "$BIN/python" manage.py runserver "${HOST}:${PORT}"
