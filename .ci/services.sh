# Private MariaDB and Redis for tests: own data directories under var/ci, non-default
# ports, stopped by stop_services. Sourced by .ci/run; usable by hand:
#   source .ci/services.sh && ensure_packages && start_services   (and stop_services)
MARIADB_PORT=${MARIADB_PORT:-3407}
REDIS_PORT=${REDIS_PORT:-6407}
CI_VAR=${CI_VAR:-$PWD/var/ci}

ensure_packages() {
  local missing=()
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  command -v redis-server >/dev/null || missing+=(redis-server)
  dpkg -s libmariadb-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v npm >/dev/null || missing+=(nodejs npm)
  [ -x /usr/bin/chromium ] || missing+=(chromium)  # browser tests (tests/trade)
  # `docker compose config` (tests/docker): Debian's docker-compose where the plugin is absent.
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null \
    || missing+=(docker-compose)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
}

start_services() {
  mkdir -p "$CI_VAR"
  rm -rf "$CI_VAR/mariadb" && mkdir -p "$CI_VAR/mariadb"
  mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$CI_VAR/mariadb" \
    --auth-root-authentication-method=normal --skip-test-db >"$CI_VAR/mariadb-install.log" 2>&1
  /usr/sbin/mariadbd --no-defaults --user="$(id -un)" --datadir="$CI_VAR/mariadb" \
    --socket="$CI_VAR/mariadb.sock" --pid-file="$CI_VAR/mariadb.pid" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --max-connections=600 \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --log-error="$CI_VAR/mariadb.err" &
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$CI_VAR/redis.pid" --logfile "$CI_VAR/redis.log" --dir "$CI_VAR"
  for _ in $(seq 1 60); do
    if mariadb --no-defaults -uroot -h127.0.0.1 -P"$MARIADB_PORT" -e "SELECT 1" >/dev/null 2>&1 \
       && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
      mariadb --no-defaults -uroot -h127.0.0.1 -P"$MARIADB_PORT" \
        -e "CREATE DATABASE IF NOT EXISTS exchange CHARACTER SET utf8mb4"
      echo "MariaDB on 127.0.0.1:$MARIADB_PORT, Redis on 127.0.0.1:$REDIS_PORT"
      return 0
    fi
    sleep 1
  done
  echo "services did not start; see $CI_VAR/*.err $CI_VAR/*.log" >&2
  return 1
}

stop_services() {
  [ -f "$CI_VAR/redis.pid" ] && kill "$(cat "$CI_VAR/redis.pid")" 2>/dev/null
  [ -f "$CI_VAR/mariadb.pid" ] && kill "$(cat "$CI_VAR/mariadb.pid")" 2>/dev/null
  for _ in $(seq 1 30); do
    [ -f "$CI_VAR/mariadb.pid" ] && kill -0 "$(cat "$CI_VAR/mariadb.pid")" 2>/dev/null || break
    sleep 1
  done
  return 0
}
