#!/usr/bin/env bash
# Start the Debian PostgreSQL cluster on 127.0.0.1:5432 and ensure a 'soundlake' superuser.
#
# Needs: Debian or Ubuntu with the 'postgresql' package (apt-get install -y postgresql),
# and root (it runs pg_createcluster/pg_ctlcluster and 'su postgres'). The tests that need
# PostgreSQL connect to postgresql://soundlake:soundlake@127.0.0.1:5432 (SOUNDLAKE_TEST_PG_URL
# overrides that) and skip when no server answers, except under CI.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "start-postgres.sh: run as root (it manages the Debian cluster and runs 'su postgres')" >&2
  exit 1
fi
if ! command -v pg_lsclusters >/dev/null || [ ! -d /usr/lib/postgresql ]; then
  echo "start-postgres.sh: PostgreSQL is not installed; on Debian/Ubuntu: apt-get update && apt-get install -y postgresql" >&2
  exit 1
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432
su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_roles WHERE rolname='soundlake'\"" | grep -q 1 \
  || su postgres -c "psql -q -c \"CREATE ROLE soundlake LOGIN SUPERUSER PASSWORD 'soundlake'\""
