#!/usr/bin/env bash
# PostgreSQL first-start script (mounted into /docker-entrypoint-initdb.d/ by docker-compose.yml; the
# postgres image runs it once, on an empty data directory).
#
# One login role and one database per service, each owned by its role and closed to PUBLIC: a service
# can reach only its own database ("own SQL database"). analytics keeps its facts in ClickHouse; its SQL
# database holds its outbox and the risk warnings it raised. Each service's Alembic migrations create
# its tables at start (`redshield serve <service>` migrates before it serves).
#
# Passwords come from POSTGRES_<SERVICE>_PASSWORD and go into the services' database URLs, so they
# must be URL-safe: 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32).
#
# A password changed in .env after the first start is not applied here (this script does not run
# again): ALTER ROLE <service> PASSWORD '...' by hand, or start from an empty volume.
set -eo pipefail

for service in bridge channel enforcement collab analytics; do
    var="POSTGRES_${service^^}_PASSWORD"
    password="${!var-}"
    if [[ ! "$password" =~ ^[A-Za-z0-9_-]{24,}$ ]]; then
        echo "postgres-init: $var must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32)" >&2
        exit 1
    fi
    # psql variables (:"name" an identifier, :'pw' a literal) keep the values out of the SQL text.
    psql --set ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
        --set service="$service" --set password="$password" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
    echo "postgres-init: database $service owned by role $service" >&2
done
