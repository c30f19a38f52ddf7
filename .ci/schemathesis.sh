#!/usr/bin/env bash
# schemathesis against the live server, as production serves it: scripts/web.sh (uvicorn,
# the ASGI app) with DJANGO_DEBUG off, on the MariaDB and Redis named by DATABASE_URL and
# REDIS_URL (a fresh database: it is migrated here), with the TwelveData emulator as the
# price source (its REST API and price stream). It authenticates with a token of the demo
# trader, runs every built-in check in every phase (examples, coverage, fuzzing,
# stateful) with the settings in .ci/schemathesis.toml, fails on any failure, and then
# checks that the ledger still reconciles.
#   DATABASE_URL, REDIS_URL   required (.ci/run passes its private services)
#   SCHEMATHESIS_MAX_EXAMPLES (default 40), SCHEMATHESIS_SEED (default 1): a bounded run
#   SCHEMATHESIS_PORT, SCHEMATHESIS_EMULATOR_PORT   loopback ports (default 8411, 8412)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${SCHEMATHESIS_PORT:-8411}
EMULATOR_PORT=${SCHEMATHESIS_EMULATOR_PORT:-8412}
REPORT_DIR=${SCHEMATHESIS_REPORT_DIR:-artifacts/schemathesis}
: "${DATABASE_URL:?}" "${REDIS_URL:?}"

export DJANGO_DEBUG=0 SECRET_KEY=schemathesis-only-not-secret ALLOWED_HOSTS=127.0.0.1
export SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
export TWELVEDATA_BASE_URL="http://127.0.0.1:${EMULATOR_PORT}"
export TWELVEDATA_WS_URL="ws://127.0.0.1:${EMULATOR_PORT}/v1/quotes/price"
export TWELVEDATA_API_KEY=demo
# Sign-ups and resets send mail: to nowhere here (production sets EMAIL_URL to its SMTP).
export EMAIL_URL=dummymail://
# The run sends thousands of requests from one address: throttling (documented, and
# tested in tests/) would otherwise turn most of them into 429s.
export THROTTLE_ANON_RATE=1000000/min THROTTLE_USER_RATE=1000000/min

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_for_port() {
  for _ in $(seq 1 100); do
    "$BIN/python" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" \
      2>/dev/null && return 0
    sleep 0.2
  done
  echo "nothing listens on port $1" >&2
  return 1
}

mkdir -p "$REPORT_DIR"
"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py loaddata fixtures/currencies.json -v 0
# demo_setup refuses to run without DEBUG (well-known passwords): only this command has it.
DJANGO_DEBUG=1 "$BIN/python" manage.py demo_setup >/dev/null
# An ecosystem market (DEMO/USDT) with the demo trader funded: its orders are accepted
# and queued (no engine runs here: they stay NEW, their holds taken).
DJANGO_DEBUG=1 "$BIN/python" manage.py eco_demo_setup >/dev/null
token=$("$BIN/python" manage.py drf_create_token trader | awk '{print $3}')

"$BIN/python" -m devtools.twelvedata --port "$EMULATOR_PORT" --apikey demo --interval 1 \
  >"$REPORT_DIR/emulator.log" 2>&1 &
pids+=($!)
wait_for_port "$EMULATOR_PORT"
"$BIN/python" manage.py twd_import --kind all --enable-provider \
  --enable "EUR/USD,GBP/USD,AAPL,SPX,BTC/USD" >/dev/null
# Fixed-time trades on EUR/USD, so that opening one can succeed.
"$BIN/python" manage.py fixedtime_instrument paper EUR/USD >/dev/null

# Quotes, so that tickers answer and MARKET orders fill (fills of resting orders are Celery
# tasks, queued in Redis: no worker runs here).
"$BIN/python" manage.py stream_prices >"$REPORT_DIR/stream.log" 2>&1 &
pids+=($!)
PATH="$PWD/$BIN:$PATH" HOST=127.0.0.1 PORT="$PORT" sh scripts/web.sh --log-level warning >"$REPORT_DIR/web.log" 2>&1 &
pids+=($!)
wait_for_port "$PORT"

"$BIN/schemathesis" --config-file .ci/schemathesis.toml run "http://127.0.0.1:${PORT}/api/schema/" \
  --checks all --phases examples,coverage,fuzzing,stateful \
  --header "Authorization: Token ${token}" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" --seed "${SCHEMATHESIS_SEED:-1}" \
  --workers 1 --request-timeout 10 \
  --report junit --report-dir "$REPORT_DIR"
# Whatever the run sent, the books must still balance.
"$BIN/python" manage.py wallets_reconcile
