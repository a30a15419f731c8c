#!/usr/bin/env bash
# ClickHouse first-start script (mounted into /docker-entrypoint-initdb.d/ by docker-compose.yml; the
# clickhouse-server image runs it once, on an empty data directory, with the server listening on
# 127.0.0.1 only).
#
# The image creates the administrator from CLICKHOUSE_USER / CLICKHOUSE_PASSWORD (with
# CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1) and the database CLICKHOUSE_DB. This script adds:
#   analytics  the analytics service: everything on the redshield database (its migrations create
#              the tables and views; the ingest inserts with insert_deduplication_token)
#   grafana    the dashboards: SELECT on the redshield database only (Grafana runs any SQL a
#              dashboard holds, so its user must not be able to write)
# Passwords must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32): they go into the
# analytics URL and, checked here, straight into the SQL below.
#
# A password changed in .env after the first start is not applied here (this script does not run
# again): ALTER USER ... IDENTIFIED BY '...' as the administrator, or start from an empty volume.
set -eo pipefail

database="${CLICKHOUSE_DB:-redshield}"
for var in CLICKHOUSE_ANALYTICS_PASSWORD CLICKHOUSE_GRAFANA_PASSWORD; do
    if [[ ! "${!var-}" =~ ^[A-Za-z0-9_-]{24,}$ ]]; then
        echo "clickhouse-init: $var must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32)" >&2
        exit 1
    fi
done
[[ "$database" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "clickhouse-init: bad database name '$database'" >&2; exit 1; }

clickhouse client --host 127.0.0.1 --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD-}" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS ${database};
CREATE USER IF NOT EXISTS analytics IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_ANALYTICS_PASSWORD}' DEFAULT DATABASE ${database};
GRANT ALL ON ${database}.* TO analytics;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_GRAFANA_PASSWORD}' DEFAULT DATABASE ${database};
GRANT SELECT ON ${database}.* TO grafana;
SQL
echo "clickhouse-init: users analytics (all on ${database}) and grafana (select on ${database})" >&2
