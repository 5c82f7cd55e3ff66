#!/usr/bin/env bash
# Start the Debian PostgreSQL cluster on 127.0.0.1:5432 and ensure a 'soundlake' superuser.
set -euo pipefail
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
