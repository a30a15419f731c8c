#!/usr/bin/env bash
# One-shot Kafka bootstrap for docker-compose.yml (service kafka-init, apache/kafka image):
# SCRAM-SHA-512 principals, prefixed ACLs, and the topics consumers subscribe to by name.
# Idempotent: run it again after adding a platform or bureau, or to rotate a password
# (kafka-configs --alter sets the credential anew).
#
# The broker denies everything that no ACL allows (allow.everyone.if.no.acl.found=false); only
# "admin" is a super user. What each principal may do:
#
#   principal          topics (all prefixed patterns)                                 consumer groups (prefix)
#   svc-bridge         write+create bridge. dlq.bridge notify.; create feed.;         bridge
#                      read collab.
#   svc-channel        write+create channel. dlq.channel notify. region.;             channel
#                      read feed. bridge.
#   svc-enforcement    write+create enforcement. dlq.enforcement region.;             enforcement
#                      read channel. bridge. collab. analytics.
#   svc-collab         write+create collab. dlq.collab notify. region.;               collab
#                      read enforcement. feed.
#   svc-analytics      write+create analytics. dlq.analytics;                         analytics
#                      read bridge. channel. enforcement. collab. analytics.
#   platform-<id>      write feed.<id>.   read notify.<id>.                           platform-<id>-
#   bureau-<code>      read region.<prefix> (330100 -> region.3301, 330000 ->         bureau-<code>-
#                      region.33, a district 330106 -> region.330106.)
#
# A platform's write ACL is the authentication of its feed: the topic name says which platform
# wrote the record, and channel sends a record whose ce_source names another platform to its DLQ.
# Outside parties have no access to the internal topics, to other tenants' topics, or to the DLQs.
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS   broker (default kafka:9092)
#   KAFKA_ADMIN_PASSWORD      the super user's password (bootstrapped by deploy/docker/kafka-broker.sh)
#   KAFKA_<SERVICE>_PASSWORD  one per service: BRIDGE, CHANNEL, ENFORCEMENT, COLLAB, ANALYTICS
#   KAFKA_PLATFORMS           platform ids, space-separated (default "P001");
#                             KAFKA_PLATFORM_<ID>_PASSWORD for each
#   KAFKA_BUREAUS             6-digit region codes, space-separated (default "330100");
#                             KAFKA_BUREAU_<CODE>_PASSWORD for each
#   KAFKA_TOPIC_PARTITIONS    partitions of the topics created here (default 3)
#   KAFKA_HOME                default /opt/kafka
set -euo pipefail

KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
BIN="$KAFKA_HOME/bin"
BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PLATFORMS="${KAFKA_PLATFORMS:-P001}"
BUREAUS="${KAFKA_BUREAUS:-330100}"
PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-3}"
SERVICES=(bridge channel enforcement collab analytics)
# Internal topics (contracts/topics.py INTERNAL_TOPICS): created up front, because a consumer
# subscribing to a topic by name does not create it.
INTERNAL_TOPICS=(
    channel.complaints.v1
    enforcement.cases.v1 enforcement.evidence.v1 enforcement.inspections.v1
    collab.assistance.v1 collab.disposals.v1
    bridge.subjects.v1 bridge.reports.v1 bridge.datarequests.v1 bridge.faironline.v1
    analytics.warnings.v1
)
DLQ_RETENTION_MS=$((30 * 24 * 3600 * 1000))

log() { echo "kafka-init: $*" >&2; }
die() { echo "kafka-init: error: $*" >&2; exit 1; }

# Same rule as deploy/docker/kafka-broker.sh: 24+ URL-safe characters, so a placeholder
# ("set-me") stops the bootstrap instead of becoming a real credential.
password_of() {
    local var="$1" value
    value="${!var-}"
    [[ -n "$value" ]] || die "$var is not set (see deploy/docker/env.example)"
    [[ "$value" =~ ^[A-Za-z0-9_-]{24,}$ ]] || die "$var must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32); refusing a placeholder"
    printf '%s' "$value"
}

# 330100 -> 3301 (city: all its districts), 330000 -> 33 (province), 330106 -> 330106. (district)
region_prefix() {
    local code="$1"
    [[ "$code" =~ ^[0-9]{6}$ ]] || die "bureau region code '$code' is not 6 digits"
    if [[ "$code" == ??0000 ]]; then echo "${code:0:2}"
    elif [[ "$code" == ????00 ]]; then echo "${code:0:4}"
    else echo "$code."
    fi
}

ADMIN_PASSWORD="$(password_of KAFKA_ADMIN_PASSWORD)"
umask 077
ADMIN_CONFIG="$(mktemp -d)/admin.properties"
cat >"$ADMIN_CONFIG" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${ADMIN_PASSWORD}";
EOF
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx256m}"

# -- wait for the broker (its authorizer answers once the metadata log is loaded) -----------------
log "waiting for $BOOTSTRAP ..."
for attempt in $(seq 1 60); do
    if "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --list >/dev/null 2>&1; then
        break
    fi
    ((attempt < 60)) || die "broker at $BOOTSTRAP did not answer as admin"
    sleep 3
done

# -- principals ------------------------------------------------------------------------------------
scram_user() {
    local user="$1" password="$2"
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --alter \
        --entity-type users --entity-name "$user" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=${password}]" >/dev/null
    log "SCRAM-SHA-512 credential set for $user"
}

# allow PRINCIPAL RESOURCE(topic|group) "OP OP ..." NAME... : prefixed ALLOW ACLs
allow() {
    local principal="$1" kind="$2" ops="$3"
    shift 3
    local args=() op name
    for op in $ops; do args+=(--operation "$op"); done
    for name in "$@"; do args+=("--$kind" "$name"); done
    "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add \
        --allow-principal "User:$principal" --resource-pattern-type prefixed "${args[@]}" >/dev/null
    log "User:$principal may $ops $kind prefix(es): $*"
}

service_acls() {
    local svc="$1" writes="$2" reads="$3" creates="${4-}"
    local principal="svc-$svc"
    # shellcheck disable=SC2086  # word-splitting the prefix lists is intended
    allow "$principal" topic "Write Describe Create" $writes
    # shellcheck disable=SC2086
    allow "$principal" topic "Read Describe" $reads
    if [[ -n "$creates" ]]; then
        # shellcheck disable=SC2086
        allow "$principal" topic "Create" $creates
    fi
    allow "$principal" group "Read Describe" "$svc"
}

for svc in "${SERVICES[@]}"; do
    scram_user "svc-$svc" "$(password_of "KAFKA_${svc^^}_PASSWORD")"
done
service_acls bridge      "bridge. dlq.bridge notify."                  "collab."                                    "feed."
service_acls channel     "channel. dlq.channel notify. region."        "feed. bridge."
service_acls enforcement "enforcement. dlq.enforcement region."        "channel. bridge. collab. analytics."
service_acls collab      "collab. dlq.collab notify. region."          "enforcement. feed."
service_acls analytics   "analytics. dlq.analytics"                    "bridge. channel. enforcement. collab. analytics."

for platform in $PLATFORMS; do
    [[ "$platform" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] || die "platform id '$platform' is not a valid id"
    principal="platform-$platform"
    scram_user "$principal" "$(password_of "KAFKA_PLATFORM_${platform^^}_PASSWORD")"
    allow "$principal" topic "Write Describe" "feed.$platform."
    allow "$principal" topic "Read Describe" "notify.$platform."
    allow "$principal" group "Read Describe" "$principal-"
done

for code in $BUREAUS; do
    principal="bureau-$code"
    prefix="$(region_prefix "$code")"
    scram_user "$principal" "$(password_of "KAFKA_BUREAU_${code}_PASSWORD")"
    allow "$principal" topic "Read Describe" "region.$prefix"
    allow "$principal" group "Read Describe" "$principal-"
done

# -- topics ----------------------------------------------------------------------------------------
create_topic() {
    local topic="$1"
    shift
    "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --create --if-not-exists \
        --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 "$@" >/dev/null
    log "topic $topic"
}
for topic in "${INTERNAL_TOPICS[@]}"; do create_topic "$topic"; done
for svc in "${SERVICES[@]}"; do create_topic "dlq.$svc.v1" --config "retention.ms=$DLQ_RETENTION_MS"; done
for platform in $PLATFORMS; do
    create_topic "feed.$platform.complaints.v1"
    create_topic "feed.$platform.answers.v1"
    create_topic "notify.$platform.v1"
done
for code in $BUREAUS; do create_topic "region.$code.v1"; done

log "done: ${#SERVICES[@]} services, platforms [$PLATFORMS], bureaus [$BUREAUS]"
