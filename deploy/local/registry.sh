#!/usr/bin/env bash
# A schema registry with Confluent's REST API (Apicurio Registry, in-memory storage) without Docker.
#
#   registry.sh provision                     build it from Maven Central (idempotent)
#   registry.sh start --data DIR [--port P]   start it, wait until it answers
#   registry.sh stop --data DIR               stop the registry started with that DIR
#   registry.sh status --data DIR             exit 0 if that registry runs
#
# Confluent's own registry is not on Maven Central; Apicurio Registry is, and serves Confluent's
# API under /apis/ccompat/v6. Apicurio publishes only the library jar of its Quarkus app
# (io.apicurio:apicurio-registry-app), not the runnable build, so `provision` runs Quarkus's
# build on a generated pom that has Apicurio's own parent pom (the dependency versions Apicurio
# tested) and the app as its only dependency: a runner jar plus lib/, cached in
# ${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}/registry. registry.properties there records what
# was built; a changed pin builds again.
#
# Everything listens on 127.0.0.1. `--port 0` (the default) lets the registry pick a free port;
# `start` prints `url=http://127.0.0.1:<port>/apis/ccompat/v6` on its last line (the URL for
# --schema_registry_url). It keeps schemas in memory only: a restart starts empty. Its log goes
# to DIR/registry.log, its pid to DIR/registry.pid.
set -euo pipefail

REGISTRY_VERSION="${REGISTRY_VERSION:-2.1.5.Final}"
CACHE="${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}"
DEST="$CACHE/registry"
PROPS="$DEST/registry.properties"
WANTED="apicurio-registry-app=$REGISTRY_VERSION"
START_TIMEOUT="${REGISTRY_START_TIMEOUT:-90}"
HEAP="${REGISTRY_HEAP:--Xms64m -Xmx256m}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MVN=(mvn -q -B)
[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && MVN+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")

die() { echo "registry.sh: $*" >&2; exit 1; }
SERVICE=registry
STOP_TIMEOUT=20  # seconds a stopped registry may take before SIGKILL
# shellcheck source=service.sh
source "$(dirname "${BASH_SOURCE[0]}")/service.sh"

provision() {
    if [[ -s "$DEST/registry-runner.jar" && -f "$PROPS" ]] && grep -qx "$WANTED" "$PROPS"; then
        return 0
    fi
    command -v java >/dev/null || die "java not found (the registry needs Java 11+)"
    command -v mvn >/dev/null || die "mvn not found (needed once, to build the registry)"
    local work start
    start=$(date +%s)
    work="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>io.apicurio</groupId>
    <artifactId>apicurio-registry</artifactId>
    <version>$REGISTRY_VERSION</version>
  </parent>
  <artifactId>wirewatch-registry</artifactId>
  <properties>
    <!-- In Apicurio's build the app is the application itself; here it is a dependency, which
         Quarkus scans for beans and REST resources only when told to. -->
    <quarkus.index-dependency.registry-app.group-id>io.apicurio</quarkus.index-dependency.registry-app.group-id>
    <quarkus.index-dependency.registry-app.artifact-id>apicurio-registry-app</quarkus.index-dependency.registry-app.artifact-id>
  </properties>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-app</artifactId>
      <version>$REGISTRY_VERSION</version>
      <exclusions>
        <!-- JSON Schema support comes from JitPack, not Maven Central; wirewatch needs Avro. -->
        <exclusion>
          <groupId>com.github.everit-org.json-schema</groupId>
          <artifactId>org.everit.json.schema</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <!-- Quarkus reads the app's build-time settings (storage, packaging as lib/ + runner
             jar) from the application's own application.properties: take the app's. -->
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <executions>
          <execution>
            <phase>generate-resources</phase>
            <goals><goal>unpack</goal></goals>
            <configuration>
              <artifactItems>
                <artifactItem>
                  <groupId>io.apicurio</groupId>
                  <artifactId>apicurio-registry-app</artifactId>
                  <version>$REGISTRY_VERSION</version>
                  <includes>application.properties</includes>
                </artifactItem>
              </artifactItems>
              <outputDirectory>\${project.build.outputDirectory}</outputDirectory>
            </configuration>
          </execution>
        </executions>
      </plugin>
      <plugin>
        <groupId>io.quarkus</groupId>
        <artifactId>quarkus-maven-plugin</artifactId>
        <version>\${quarkus.version}</version>
        <executions><execution><goals><goal>build</goal></goals></execution></executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
    echo "registry.sh: building Apicurio Registry $REGISTRY_VERSION from Maven Central" \
        "into $DEST" >&2
    # prod: the parent's default Quarkus profile is dev (debug logging). !external_repos: the
    # parent adds Confluent's and JitPack's repositories, which wirewatch does not use; its
    # checkstyle rules are for its own sources (and their file is not in the pom).
    "${MVN[@]}" -f "$work/pom.xml" -P 'prod,!external_repos' -DskipTests -Dcheckstyle.skip package \
        >"$work/build.log" 2>&1 \
        || { tail -n 30 "$work/build.log" >&2; die "maven could not build the registry"; }
    local runner
    runner="$(ls "$work"/target/*-runner.jar)"
    rm -rf "$DEST.tmp"
    mkdir -p "$DEST.tmp"
    mv "$runner" "$DEST.tmp/registry-runner.jar"
    mv "$work/target/lib" "$DEST.tmp/lib"
    echo "$WANTED" >"$DEST.tmp/registry.properties"
    rm -rf "$DEST"
    mv "$DEST.tmp" "$DEST"
    echo "registry.sh: built $DEST ($(du -sh "$DEST" | cut -f1)) in $(( $(date +%s) - start )) s" >&2
}

answers() {  # answers <url>: the Confluent API lists its subjects
    python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/subjects", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
EOF
}

start() {
    start_args "$@"
    local port="$PORT" dir="$DATA"
    provision
    local log="$dir/registry.log"
    : >"$log"
    # Port 0 makes Quarkus bind a free port itself (no race with another process taking it);
    # the log says which. C1 only: the registry does little work, and starts faster so.
    # shellcheck disable=SC2086
    java $HEAP -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
        -jar "$DEST/registry-runner.jar" >>"$log" 2>&1 &
    echo $! >"$dir/registry.pid"
    local deadline=$((SECONDS + START_TIMEOUT)) bound=""
    while ((SECONDS < deadline)); do
        if ! is_running "$dir"; then
            tail -n 20 "$log" >&2
            die "registry exited during start; see $log"
        fi
        [[ -z "$bound" ]] && bound="$(sed -n 's/.*Listening on: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")"
        if [[ -n "$bound" ]] && answers "http://127.0.0.1:$bound/apis/ccompat/v6"; then
            echo "url=http://127.0.0.1:$bound/apis/ccompat/v6"
            return 0
        fi
        sleep 0.2
    done
    stop --data "$dir"
    die "registry did not answer within ${START_TIMEOUT}s; see $log"
}

case "${1:-}" in
    provision) provision; echo "$DEST" ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    status) shift; status "$@" ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
