#!/usr/bin/env bash
# Single-node Apache Kafka 4.x broker for docker-compose.yml: KRaft (combined broker + controller),
# SASL/SCRAM-SHA-512 for every client, ACLs enforced (allow.everyone.if.no.acl.found=false).
#
# Runs inside the apache/kafka image (bash, /opt/kafka) as its non-root user:
#   1. renders server.properties from the environment (the secrets never land in the repo),
#   2. formats the data dir on first start, bootstrapping the admin's SCRAM credential into the
#      metadata log (kafka-storage.sh format --add-scram, KIP-900): the broker's own inter-broker
#      login and kafka-init's admin client need it before any user can be created over the wire,
#   3. execs the broker.
# Every other principal (services, platforms, bureaus) and every ACL is created by the one-shot
# kafka-init service (deploy/kafka-acl/init.sh).
#
# Listeners:
#   INTERNAL   SASL_PLAINTEXT :9092  advertised as kafka:9092 (the compose network: services, kafka-init)
#   EXTERNAL   SASL_PLAINTEXT :9094  advertised as $KAFKA_EXTERNAL_ADVERTISED (outside parties: platforms, bureaus)
#   CONTROLLER SASL_PLAINTEXT 127.0.0.1:9093, SASL/PLAIN, reachable from inside this container only
#              (KRaft cannot use SCRAM on the controller listener: SCRAM credentials live in the
#              metadata log the controller serves).
# SASL_PLAINTEXT carries no TLS: in front of real outside parties, terminate TLS (SASL_SSL) or
# keep the external listener on a private network.
#
# Environment:
#   KAFKA_ADMIN_PASSWORD      required; the super user "admin" (SCRAM on INTERNAL/EXTERNAL, PLAIN on CONTROLLER).
#                             Its SCRAM credential is written at the first format only: to change it
#                             later, alter it first (kafka-configs --alter --entity-name admin, as admin
#                             with the old password), then change .env and restart.
#   KAFKA_EXTERNAL_ADVERTISED host:port outside parties connect to (default localhost:9094)
#   KAFKA_NUM_PARTITIONS      default partitions of auto-created topics (default 3)
#   KAFKA_HOME, KAFKA_DATA_DIR, KAFKA_CONFIG_DIR  paths (defaults fit the apache/kafka image)
set -euo pipefail

KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
DATA_DIR="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
CONFIG_DIR="${KAFKA_CONFIG_DIR:-/tmp/redshield-kafka}"
INTERNAL_PORT="${KAFKA_INTERNAL_PORT:-9092}"
EXTERNAL_PORT="${KAFKA_EXTERNAL_PORT:-9094}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
INTERNAL_ADVERTISED="${KAFKA_INTERNAL_ADVERTISED:-kafka:$INTERNAL_PORT}"
EXTERNAL_ADVERTISED="${KAFKA_EXTERNAL_ADVERTISED:-localhost:$EXTERNAL_PORT}"
PARTITIONS="${KAFKA_NUM_PARTITIONS:-3}"

die() { echo "kafka-broker: error: $*" >&2; exit 1; }

# Passwords go into JAAS strings and into --add-scram's [name=...,password=...] syntax, and the
# same rule as the other secrets keeps them URL-safe: 24+ characters from [A-Za-z0-9_-].
# (openssl rand -hex 32 makes one.) A placeholder such as "set-me" stops the broker here.
check_password() {
    local name="$1" value="${2-}"
    [[ -n "$value" ]] || die "$name is not set (see deploy/docker/env.example)"
    [[ "$value" =~ ^[A-Za-z0-9_-]{24,}$ ]] || die "$name must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32); refusing a placeholder"
}
check_password KAFKA_ADMIN_PASSWORD "${KAFKA_ADMIN_PASSWORD-}"

umask 077
mkdir -p "$CONFIG_DIR" "$DATA_DIR"
CONFIG="$CONFIG_DIR/server.properties"

cat >"$CONFIG" <<EOF
# Rendered by deploy/docker/kafka-broker.sh at every start; do not edit.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}

listeners=INTERNAL://0.0.0.0:${INTERNAL_PORT},EXTERNAL://0.0.0.0:${EXTERNAL_PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=INTERNAL://${INTERNAL_ADVERTISED},EXTERNAL://${EXTERNAL_ADVERTISED}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER

# Clients: SCRAM-SHA-512 only.
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
# INTERNAL's entry doubles as the broker's own inter-broker login; EXTERNAL only verifies clients.
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# Controller (loopback only): SASL/PLAIN with the admin principal.
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}" user_admin="${KAFKA_ADMIN_PASSWORD}";

# Authorization: nothing is allowed unless an ACL says so; admin is the only super user.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin

# Storage
log.dirs=${DATA_DIR}
num.partitions=${PARTITIONS}
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# A producer creates a missing topic only where an ACL grants it CREATE on that name
# (services: their own prefixes and dlq.<service>; bridge: feed.<platform>. and notify.<platform>.).
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=168
group.initial.rebalance.delay.ms=0
EOF

if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
    cluster_id="${KAFKA_CLUSTER_ID:-$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)}"
    echo "kafka-broker: formatting $DATA_DIR (cluster $cluster_id) with the admin SCRAM credential" >&2
    "$KAFKA_HOME/bin/kafka-storage.sh" format --config "$CONFIG" --cluster-id "$cluster_id" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]" >/dev/null
fi

exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONFIG"
