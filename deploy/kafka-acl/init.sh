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
#   KAFKA_INIT_JOBS           admin commands run at once (default 4; each is a short-lived JVM)
#   KAFKA_HOME                default /opt/kafka
set -euo pipefail

KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
BIN="$KAFKA_HOME/bin"
BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PLATFORMS="${KAFKA_PLATFORMS:-P001}"
BUREAUS="${KAFKA_BUREAUS:-330100}"
PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-3}"
JOBS="${KAFKA_INIT_JOBS:-4}"
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

# -- check every input before touching the broker ---------------------------------------------------
# Same rule as deploy/docker/kafka-broker.sh: 24+ URL-safe characters, so a placeholder
# ("set-me") stops the bootstrap instead of becoming a real credential.
declare -A PASSWORD=()
need_password() {
    local user="$1" var="$2" value
    value="${!var-}"
    [[ -n "$value" ]] || die "$var is not set (see deploy/docker/env.example)"
    [[ "$value" =~ ^[A-Za-z0-9_-]{24,}$ ]] || die "$var must be 24+ characters from [A-Za-z0-9_-] (openssl rand -hex 32); refusing a placeholder"
    PASSWORD[$user]="$value"
}

# 330100 -> 3301 (city: all its districts), 330000 -> 33 (province), 330106 -> 330106. (district)
declare -A REGION_PREFIX=()
need_region() {
    local code="$1"
    [[ "$code" =~ ^[0-9]{6}$ ]] || die "bureau region code '$code' is not 6 digits"
    if [[ "$code" == ??0000 ]]; then REGION_PREFIX[$code]="${code:0:2}"
    elif [[ "$code" == ????00 ]]; then REGION_PREFIX[$code]="${code:0:4}"
    else REGION_PREFIX[$code]="$code."
    fi
}

need_password admin KAFKA_ADMIN_PASSWORD
for svc in "${SERVICES[@]}"; do need_password "svc-$svc" "KAFKA_${svc^^}_PASSWORD"; done
for platform in $PLATFORMS; do
    [[ "$platform" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] || die "platform id '$platform' is not a valid id"
    need_password "platform-$platform" "KAFKA_PLATFORM_${platform^^}_PASSWORD"
done
for code in $BUREAUS; do
    need_region "$code"
    need_password "bureau-$code" "KAFKA_BUREAU_${code}_PASSWORD"
done

umask 077
WORK="$(mktemp -d)"
ADMIN_CONFIG="$WORK/admin.properties"
{
    echo "security.protocol=SASL_PLAINTEXT"
    echo "sasl.mechanism=SCRAM-SHA-512"
    echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"${PASSWORD[admin]}\";"
} >"$ADMIN_CONFIG"
# Each kafka-*.sh call is a fresh JVM doing a few requests: a small heap and C1 only start fastest.
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx256m}"
export KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
admin() {
    local tool="$1"
    shift
    "$BIN/$tool" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" "$@"
}

# Independent admin calls run $JOBS at a time; failures are collected and reported at the end.
FAILED="$WORK/failed"
: >"$FAILED"
spawn() {
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n 2>/dev/null || true; done
    { "$@" || echo "$*" >>"$FAILED"; } &
}

# -- wait for the broker (its authorizer answers once the metadata log is loaded) -----------------
log "waiting for $BOOTSTRAP ..."
for attempt in $(seq 1 60); do
    admin kafka-topics.sh --list >/dev/null 2>&1 && break
    ((attempt < 60)) || die "broker at $BOOTSTRAP did not answer as admin"
    sleep 3
done

# -- principals, ACLs, topics ----------------------------------------------------------------------
scram_user() {
    local user="$1"
    admin kafka-configs.sh --alter --entity-type users --entity-name "$user" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=${PASSWORD[$user]}]" >/dev/null
    log "SCRAM-SHA-512 credential set for $user"
}

# allow PRINCIPAL "OP OP ..." topic=PREFIX|group=PREFIX ... : prefixed ALLOW ACLs, one call
# (every operation must apply to every resource kind named: Read and Describe fit topics and groups).
allow() {
    local principal="$1" ops="$2"
    shift 2
    local args=() op resource
    for op in $ops; do args+=(--operation "$op"); done
    for resource in "$@"; do args+=("--${resource%%=*}" "${resource#*=}"); done
    admin kafka-acls.sh --add --allow-principal "User:$principal" --resource-pattern-type prefixed "${args[@]}" >/dev/null
    log "User:$principal may $ops on prefixes $*"
}

# service SVC "WRITE+CREATE PREFIXES" "READ PREFIXES" ["CREATE-ONLY PREFIXES"]; its group prefix is SVC.
service() {
    local svc="$1" principal="svc-$1" prefix
    local writes=() reads=(group="$1") creates=()
    for prefix in $2; do writes+=(topic="$prefix"); done
    for prefix in $3; do reads+=(topic="$prefix"); done
    for prefix in ${4-}; do creates+=(topic="$prefix"); done
    spawn scram_user "$principal"
    spawn allow "$principal" "Write Describe Create" "${writes[@]}"
    spawn allow "$principal" "Read Describe" "${reads[@]}"
    ((${#creates[@]} == 0)) || spawn allow "$principal" "Create" "${creates[@]}"
}

create_topic() {
    local topic="$1"
    shift
    admin kafka-topics.sh --create --if-not-exists --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 "$@" >/dev/null
    log "topic $topic"
}

service bridge      "bridge. dlq.bridge notify."               "collab."                                          "feed."
service channel     "channel. dlq.channel notify. region."     "feed. bridge."
service enforcement "enforcement. dlq.enforcement region."     "channel. bridge. collab. analytics."
service collab      "collab. dlq.collab notify. region."       "enforcement. feed."
service analytics   "analytics. dlq.analytics"                 "bridge. channel. enforcement. collab. analytics."

for platform in $PLATFORMS; do
    principal="platform-$platform"
    spawn scram_user "$principal"
    spawn allow "$principal" "Write Describe" topic="feed.$platform."
    spawn allow "$principal" "Read Describe" topic="notify.$platform." group="$principal-"
done

for code in $BUREAUS; do
    principal="bureau-$code"
    spawn scram_user "$principal"
    spawn allow "$principal" "Read Describe" topic="region.${REGION_PREFIX[$code]}" group="$principal-"
done

for topic in "${INTERNAL_TOPICS[@]}"; do spawn create_topic "$topic"; done
for svc in "${SERVICES[@]}"; do spawn create_topic "dlq.$svc.v1" --config "retention.ms=$DLQ_RETENTION_MS"; done
for platform in $PLATFORMS; do
    spawn create_topic "feed.$platform.complaints.v1"
    spawn create_topic "feed.$platform.answers.v1"
    spawn create_topic "notify.$platform.v1"
done
for code in $BUREAUS; do spawn create_topic "region.$code.v1"; done

wait
if [[ -s "$FAILED" ]]; then
    while read -r line; do log "FAILED: $line"; done <"$FAILED"
    die "$(wc -l <"$FAILED") admin call(s) failed"
fi
rm -rf "$WORK"
log "done: ${#SERVICES[@]} services, platforms [$PLATFORMS], bureaus [$BUREAUS]"
