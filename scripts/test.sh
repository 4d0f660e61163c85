#!/usr/bin/env bash
# Install everything and run the whole test suite: lint, then pytest on SQLite, then on a
# temporary PostgreSQL 15 cluster. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. Debian packages the tests need: PostgreSQL 15, Chromium for browser tests, CJK fonts.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || missing+=(fonts-noto-cjk)  # not grep -q: under pipefail its early exit fails fc-list
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Python packages in a project venv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"

# Test databases and files in memory when the machine has room there (/dev/shm): every commit on
# either engine is fsynced (A3 durability stays on and is checked), and on a virtual disk an fsync costs
# about 1.5 ms; in memory it costs nothing. HANGANG_TEST_TMPDIR=/some/dir picks another place.
CI_TMP=""
if [ -z "${HANGANG_TEST_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] \
  && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 4000000 ]; then
  HANGANG_TEST_TMPDIR=/dev/shm
fi
if [ -n "${HANGANG_TEST_TMPDIR:-}" ]; then
  CI_TMP="$(mktemp -d "$HANGANG_TEST_TMPDIR/hangang-ci.XXXXXX")"
  chmod 755 "$CI_TMP"  # the PostgreSQL cluster inside runs as the postgres user
  export TMPDIR="$CI_TMP"
fi
PG_TEMP_DIR=""
cleanup() {
  [ -n "$PG_TEMP_DIR" ] && scripts/pg-temp.sh stop "$PG_TEMP_DIR"
  [ -n "$CI_TMP" ] && rm -rf "$CI_TMP"
  return 0
}
trap cleanup EXIT

# 3. Lint.
echo "== ruff"
.venv/bin/ruff check .

run_pytest() {
  # pytest exits 5 when it collected no tests: that is a failure of the suite, say so.
  set +e
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
  local code=$?
  set -e
  if [ $code -eq 5 ]; then echo "pytest collected no tests" >&2; return 1; fi
  return $code
}

# 4. SQLite pass, on two workers (pytest-xdist), each with its own database file (tests/conftest.py).
# worksteal: a worker that runs out of tests takes half of the other's queue (the slow tests go first).
echo "== pytest on SQLite"
HANGANG_DATABASE_URL="" run_pytest -q -n 2 --dist worksteal --ignore=tests/e2e "$@"

# 5. The browser journeys (tests/e2e): each drives Chromium against a live server. They test pages, not
# the engine, so they run only here. Two workers, a module each at a time (--dist loadfile): every module
# starts its own server on a free port with its own database, and its own Chromium.
echo "== browser journeys on SQLite"
set +e
HANGANG_DATABASE_URL="" .venv/bin/python -m pytest -p no:cacheprovider -q -n 2 --dist loadfile tests/e2e "$@"
code=$?
set -e
# Arguments that select other tests may leave no journey to run (5): only then is that fine.
if [ $code -ne 0 ] && ! { [ $code -eq 5 ] && [ $# -gt 0 ]; }; then
  [ $code -eq 5 ] && echo "pytest collected no browser journeys" >&2
  exit $code
fi

# 6. PostgreSQL pass on a throwaway cluster, stopped even if the run crashes; two workers, each on its
# own database (hangang_gw0, hangang_gw1). Live servers on PostgreSQL are still exercised here (two
# hosts, crash storm). tests/unit is pure computation (tests/unit/conftest.py refuses any database
# connection there), so it ran in full in the SQLite pass and is not run again.
echo "== pytest on PostgreSQL 15"
eval "$(scripts/pg-temp.sh start)"  # stopped by cleanup, even if the run crashes
set +e
HANGANG_DATABASE_URL="$PG_TEMP_URL" .venv/bin/python -m pytest -p no:cacheprovider -q -n 2 --dist worksteal \
  --ignore=tests/e2e --ignore=tests/unit "$@"
code=$?
set -e
# Arguments that select only unit tests leave nothing to run here (5): only then is that fine.
if [ $code -ne 0 ] && ! { [ $code -eq 5 ] && [ $# -gt 0 ]; }; then
  [ $code -eq 5 ] && echo "pytest collected no tests" >&2
  exit $code
fi
