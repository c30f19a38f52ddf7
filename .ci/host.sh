#!/usr/bin/env bash
# CI: the apps as a plug-in (README "Install as a plug-in"). Builds the wheel from
# pyproject.toml, installs it (its dependencies under the project's constraints) into a
# fresh virtualenv, and runs the host project tests/host_project from a copy outside the
# repository (so only the installed wheel can provide `apps`): `manage.py check` (the apps'
# system checks, warnings fail too), `migrate` (SQLite, the host's custom user model), then
# smoke.py (a paper order placed and cancelled through the API, seen on the host's page).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PY:-$(command -v python3.11 || command -v python3)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

"$PY" -m pip wheel -q --no-deps -w "$WORK/dist" .
wheel=$(ls "$WORK"/dist/*.whl)
echo "wheel: $(basename "$wheel"), top-level: $(unzip -Z1 "$wheel" | cut -d/ -f1 | sort -u | tr '\n' ' ')"
if unzip -Z1 "$wheel" | grep -Eq '^(exchange_platform|tests|devtools|bench)/'; then
  echo "the wheel holds more than the apps" >&2; exit 1
fi

"$PY" -m venv "$WORK/venv"
# --no-compile: byte-compiling every installed module (ccxt has thousands) costs time the
# run does not win back: it imports few of them.
"$WORK/venv/bin/pip" install -q --disable-pip-version-check --no-compile "$wheel" \
  -c requirements/constraints.txt

cp -r tests/host_project "$WORK/host"
cd "$WORK/host"
mkdir -p var
"$WORK/venv/bin/python" manage.py check --fail-level WARNING
"$WORK/venv/bin/python" manage.py migrate --noinput -v0
"$WORK/venv/bin/python" smoke.py "$REPO/fixtures/currencies.json"
echo "host project: passed in $((SECONDS - start)) s"
