#!/usr/bin/env bash
# `make run`: the platform on embedded defaults with the TwelveData emulator as its price
# feed (a seeded random walk on loopback) and the payment chain emulator paying deposits
# (devtools/paychain). No service and no API key needed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
EMULATOR_PORT=${EMULATOR_PORT:-8765}
PAYCHAIN_PORT=${PAYCHAIN_PORT:-8766}
BINANCE_PORT=${BINANCE_PORT:-8767}
# Extra runserver options: the browser tests pass --noreload (an edit elsewhere in the
# checkout must not restart the server under a test).
export DJANGO_DEBUG=1
export TWELVEDATA_BASE_URL="http://127.0.0.1:${EMULATOR_PORT}"
export TWELVEDATA_WS_URL="ws://127.0.0.1:${EMULATOR_PORT}/v1/quotes/price"
export TWELVEDATA_API_KEY=demo
# The spot venue routes to the Binance emulator (devtools/binance) through ccxt.
export SPOT_EXCHANGE_URL="http://127.0.0.1:${BINANCE_PORT}"
export SPOT_EXCHANGE_WS_URL="ws://127.0.0.1:${BINANCE_PORT}/stream/ws"
export SPOT_EXCHANGE_WS_API_URL="ws://127.0.0.1:${BINANCE_PORT}/ws-api/v3"
export SPOT_API_KEY=demo-key SPOT_API_SECRET=demo-secret
# A market-maker bot quotes the demo ecosystem market in the web process (a live book).
# A second bot quotes the demo futures contract around its mark.
export MARKETMAKER_EMBEDDED=1 MARKETMAKER_SYMBOL=DEMO/USDT MARKETMAKER_FUTURES_SYMBOL=BTC/USDT
mkdir -p var

echo "Demo accounts (development only):"
"$BIN/python" manage.py demo_setup

"$BIN/python" -m devtools.twelvedata --port "$EMULATOR_PORT" --apikey demo --interval 1 \
  > var/emulator.log 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null' EXIT

# The payment chain emulator and the dev server share two secrets made afresh on each run
# (the payment link's and the webhook's); only these two processes are given them.
new_secret() { "$BIN/python" -c "import secrets; print(secrets.token_urlsafe(32))"; }
link_secret=$(new_secret)
webhook_secret=$(new_secret)
webhook_host=$HOST
[ "$HOST" = 0.0.0.0 ] && webhook_host=127.0.0.1
PAYCHAIN_LINK_SECRET=$link_secret PAYCHAIN_WEBHOOK_SECRET=$webhook_secret \
  "$BIN/python" -m devtools.paychain --port "$PAYCHAIN_PORT" \
  --webhook-url "http://${webhook_host}:${PORT}/api/v1/deposits/webhook/" \
  > var/paychain.log 2>&1 &
paychain=$!
"$BIN/python" -m devtools.binance --port "$BINANCE_PORT" --api-key demo-key \
  --api-secret demo-secret > var/binance.log 2>&1 &
binance=$!
trap 'kill $emulator $paychain $binance 2>/dev/null' EXIT
for _ in $(seq 1 50); do
  "$BIN/python" -c "import socket; socket.create_connection(('127.0.0.1', $BINANCE_PORT), 1)" \
    2>/dev/null && break
  sleep 0.2
done
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
# The demo ecosystem market (DEMO/USDT), run by the engine on a thread of the web process.
"$BIN/python" manage.py eco_demo_setup
# The spot venue: the Binance provider active, its markets imported, a few enabled.
"$BIN/python" manage.py spot_import --activate binance --enable "BTC/USDT,ETH/USDT,SOL/USDT" \
  --trending "BTC/USDT" --hot "SOL/USDT"
# The demo futures contract: the imported BTC/USDT perpetual, indexed on the spot BTC/USDT
# (the page: /market/futures/BTC/USDT/).
"$BIN/python" manage.py futures_demo_setup
# No beat without a broker: settle what a previous run left open past its expiry.
"$BIN/python" manage.py fixedtime_settle_due

echo "Serving http://${HOST}:${PORT}/  (admin: /admin/, API docs: /api/docs/)"
echo "Price feed: TwelveData emulator on 127.0.0.1:${EMULATOR_PORT} (log: var/emulator.log)"
echo "Deposits: POST /api/v1/deposits/intents/, open its payment_url, Pay (log: var/paychain.log)"
echo "Spot: Binance emulator on 127.0.0.1:${BINANCE_PORT} (log: var/binance.log), /api/v1/spot/"
echo "Ecosystem: /market/ecosystem/DEMO/USDT/ (the engine and a market-maker bot run in the web process)"
echo "Futures: /market/futures/BTC/USDT/ (mark from the spot BTC/USDT; a market-maker bot quotes it)"
PRICE_STREAM_IN_PROCESS=1 ENGINE_EMBEDDED=1 SPOT_EMBEDDED=1 DEPOSIT_LINK_SECRET=$link_secret DEPOSIT_WEBHOOK_SECRETS=$webhook_secret \
  DEPOSIT_PAYMENT_URL="http://127.0.0.1:${PAYCHAIN_PORT}/pay" \
  "$BIN/python" manage.py runserver ${RUNSERVER_ARGS:-} "${HOST}:${PORT}"
