#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft: broker and controller in one JVM) without Docker.
#
#   kafka.sh provision                      fetch Kafka's jars from Maven Central (idempotent)
#   kafka.sh start --port P --data DIR      format DIR (first time), start, wait until it answers
#   kafka.sh stop  --data DIR               stop the broker started with that DIR
#   kafka.sh status --data DIR              exit 0 if that broker runs
#
# The jars are the `org.apache.kafka:kafka_2.13` artifact and its runtime dependencies,
# resolved by Maven from a generated pom and cached in
# ${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}/kafka-<version>/libs. Kafka's own release
# tarball lives on downloads.apache.org, which is not reachable from everywhere we run.
#
# Everything listens on 127.0.0.1. `--port 0` (the default) picks a free port; `start`
# prints `bootstrap=127.0.0.1:<port>` on its last line. The broker writes its log to
# DIR/kafka.log, its pid to DIR/kafka.pid, its data to DIR/data.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
# Kafka's jars log through SLF4J 2; this binds it to the log4j2 core that Kafka pulls in.
LOG4J_VERSION="${LOG4J_VERSION:-2.24.3}"
SLF4J_VERSION="${SLF4J_VERSION:-2.0.17}"
CACHE="${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}"
HOME_DIR="$CACHE/kafka-$KAFKA_VERSION"
LIBS="$HOME_DIR/libs"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HEAP="${KAFKA_HEAP:--Xms128m -Xmx512m}"

die() { echo "kafka.sh: $*" >&2; exit 1; }
SERVICE=kafka
STOP_TIMEOUT=30  # seconds a stopped kafka may take before SIGKILL
# shellcheck source=service.sh
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"

provision() {
    [[ -f "$LIBS/.complete" ]] && return 0
    command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
    command -v mvn >/dev/null || die "mvn not found (needed once, to fetch Kafka from Maven Central)"
    local work
    work="$(mktemp -d)"
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>wirewatch</groupId><artifactId>kafka-local</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    echo "kafka.sh: fetching Kafka $KAFKA_VERSION from Maven Central into $LIBS" >&2
    rm -rf "$LIBS.tmp"
    mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >&2 \
        || die "maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
    rm -rf "$work" "$LIBS"
    mkdir -p "$HOME_DIR"
    cat >"$HOME_DIR/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
    mv "$LIBS.tmp" "$LIBS"
    touch "$LIBS/.complete"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_java() {  # run_java <log file> <main class> <args...>
    local log="$1"; shift
    # shellcheck disable=SC2086
    exec java $HEAP -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$HOME_DIR/log4j2.properties" -Dkafka.logs.file="$log" \
        -cp "$LIBS/*" "$@"
}

write_config() {  # write_config <dir> <port> <controller port>
    cat >"$1/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$3
listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$1/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A broker restarted after SIGKILL re-registers only once its old session expired (default 9 s).
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
# Large enough for the tests' 5 MB poison message, which the source must dead-letter.
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
EOF
}

start() {
    start_args "$@"
    local port="$PORT" dir="$DATA"
    provision
    local cport
    if [[ -f "$dir/server.properties" ]]; then
        # A restart reuses the ports the data was created with (clients keep their address).
        port="$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1://p' "$dir/server.properties")"
        cport="$(sed -n 's/^controller.quorum.voters=1@127.0.0.1://p' "$dir/server.properties")"
    else
        [[ "$port" == 0 ]] && port="$(free_port)"
        cport="$(free_port)"
        write_config "$dir" "$port" "$cport"
    fi
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        # "--cluster-id=ID", not "-t ID": a random id may start with "-".
        local id
        id="$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
        (run_java "$dir/format.log" kafka.tools.StorageTool format --ignore-formatted \
            --cluster-id="$id" --config "$dir/server.properties") >"$dir/format.out" 2>&1 \
            || die "formatting storage in $dir failed; see $dir/format.out"
    fi
    local log="$dir/kafka.log"
    local mark=0
    [[ -f "$log" ]] && mark="$(wc -l <"$log")"
    (run_java "$log" kafka.Kafka "$dir/server.properties") >>"$dir/kafka.out" 2>&1 &
    echo $! >"$dir/kafka.pid"
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! is_running "$dir"; then
            tail -n 20 "$dir/kafka.out" "$log" >&2 2>/dev/null || true
            die "broker exited during start; see $log and $dir/kafka.out"
        fi
        if [[ -f "$log" ]] && tail -n +"$((mark + 1))" "$log" | grep -q "Kafka Server started" \
            && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "bootstrap=127.0.0.1:$port"
            return 0
        fi
        sleep 0.2
    done
    stop --data "$dir"
    die "broker did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s; see $log"
}

case "${1:-}" in
    provision) provision; echo "$HOME_DIR" ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    status) shift; status "$@" ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
