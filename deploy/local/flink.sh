#!/usr/bin/env bash
# Provisions Beam's Flink job server from Maven Central into $WIREWATCH_CACHE/flink/.
#
# Beam's FlinkRunner downloads its job-server jar at run time unless --flink_job_server_jar is
# given; wirewatch passes it whenever $WIREWATCH_CACHE/flink/job-server.jar exists
# (wirewatch.pipelines.runners), so runs on Flink need no network.
#
# 1. The real thing: the shaded jar org.apache.beam:beam-runners-flink-$FLINK_VERSION-job-server
#    at $BEAM_VERSION.
# 2. When the Maven repository we reach does not serve that jar (mirrors that hold a subset of
#    Central do not), the same job server assembled from its unshaded artifact
#    beam-runners-flink-$FALLBACK_FLINK_VERSION:$FALLBACK_BEAM_VERSION and its dependencies: the
#    jars go to lib/ and job-server.jar is a launcher whose manifest puts them on the class path,
#    so `java -jar job-server.jar` (what Beam runs) starts FlinkJobServerDriver either way.
#    $FALLBACK_BEAM_VERSION is the newest Beam whose Flink runner the repository here serves
#    (2.70.0, beam-runners-flink-1.19; 2.71 to 2.77 and the 1.20 and 2.0 runners are refused).
#    Of its dependencies only beam-runners-java-job-service is refused at 2.70.0: it is taken at
#    $FALLBACK_JOB_SERVICE_VERSION (2.65.0, the newest served), every other Beam jar at 2.70.0.
#    deploy/README.md says why that mix and how it was checked.
# job-server.properties records which one was provisioned (wirewatch reads flink_version there).
#
# Idempotent: does nothing when the job server asked for (the requested jar and the fallback's
# pins, both on the first line of job-server.properties) is already there; a changed pin
# provisions again.
set -euo pipefail

BEAM_VERSION="${BEAM_VERSION:-2.77.0}"
FLINK_VERSION="${FLINK_VERSION:-2.2}"
FALLBACK_BEAM_VERSION="${FALLBACK_BEAM_VERSION:-2.70.0}"
FALLBACK_FLINK_VERSION="${FALLBACK_FLINK_VERSION:-1.19}"
FALLBACK_JOB_SERVICE_VERSION="${FALLBACK_JOB_SERVICE_VERSION:-2.65.0}"
CACHE="${WIREWATCH_CACHE:-$HOME/.cache/wirewatch}"
DEST="$CACHE/flink"
JAR="$DEST/job-server.jar"
PROPS="$DEST/job-server.properties"
FALLBACK="$FALLBACK_BEAM_VERSION/$FALLBACK_FLINK_VERSION/$FALLBACK_JOB_SERVICE_VERSION"
WANTED="requested=$BEAM_VERSION/$FLINK_VERSION fallback=$FALLBACK"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MVN=(mvn -q -B)
[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && MVN+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")

provisioned() {  # what job-server.properties says is there, on one line
    grep -E '^(kind|beam_version|flink_version|job_service_version)=' "$PROPS" | tr '\n' ' '
}

if [[ -s "$JAR" && -f "$PROPS" ]] && grep -qx "$WANTED" "$PROPS"; then
    echo "flink: $JAR already provisioned ($(provisioned))"
    exit 0
fi
if ! command -v mvn >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
    echo "flink: Maven ('mvn') and a JDK ('java', 'jar') are needed for the Flink job server" >&2
    exit 1
fi

start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$DEST"

write_props() {  # kind beam_version flink_version [job_service_version]
    printf '%s\nkind=%s\nbeam_version=%s\nflink_version=%s\njob_service_version=%s\n' \
        "$WANTED" "$1" "$2" "$3" "${4:-$2}" > "$PROPS.tmp"
    mv "$PROPS.tmp" "$PROPS"
}

artifact="beam-runners-flink-$FLINK_VERSION-job-server"
if "${MVN[@]}" "$DEP_PLUGIN:copy" -Dartifact="org.apache.beam:$artifact:$BEAM_VERSION:jar" \
        -DoutputDirectory="$work" >"$work/copy.log" 2>&1; then
    mv "$work/$artifact-$BEAM_VERSION.jar" "$JAR"
    rm -rf "$DEST/lib"
    write_props shaded "$BEAM_VERSION" "$FLINK_VERSION"
else
    echo "flink: $artifact:$BEAM_VERSION is not served by the Maven repository; assembling" \
        "the job server from beam-runners-flink-$FALLBACK_FLINK_VERSION:$FALLBACK_BEAM_VERSION" \
        "(job service $FALLBACK_JOB_SERVICE_VERSION)" >&2
    cat > "$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>wirewatch.provision</groupId>
  <artifactId>flink-job-server</artifactId>
  <version>0</version>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.apache.beam</groupId>
        <artifactId>beam-runners-java-job-service</artifactId>
        <version>$FALLBACK_JOB_SERVICE_VERSION</version>
      </dependency>
      <!-- The job service of another version would pull in its own of these: keep them at the
           runner's version. -->
      <dependency>
        <groupId>org.apache.beam</groupId>
        <artifactId>beam-sdks-java-expansion-service</artifactId>
        <version>$FALLBACK_BEAM_VERSION</version>
      </dependency>
      <dependency>
        <groupId>org.apache.beam</groupId>
        <artifactId>beam-sdks-java-harness</artifactId>
        <version>$FALLBACK_BEAM_VERSION</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.beam</groupId>
      <artifactId>beam-runners-flink-$FALLBACK_FLINK_VERSION</artifactId>
      <version>$FALLBACK_BEAM_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    "${MVN[@]}" -f "$work/pom.xml" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime \
        -DoutputDirectory="$work/lib"
    # One class-path entry per continuation line keeps every manifest line short.
    {
        echo "Main-Class: org.apache.beam.runners.flink.FlinkJobServerDriver"
        echo "Class-Path: ."
        for f in "$work"/lib/*.jar; do echo "  lib/$(basename "$f")"; done
    } > "$work/manifest.txt"
    jar --create --file "$work/job-server.jar" --manifest "$work/manifest.txt"
    rm -rf "$DEST/lib"
    mv "$work/lib" "$DEST/lib"
    mv "$work/job-server.jar" "$JAR"
    write_props assembled "$FALLBACK_BEAM_VERSION" "$FALLBACK_FLINK_VERSION" \
        "$FALLBACK_JOB_SERVICE_VERSION"
fi
echo "flink: provisioned $JAR ($(du -sh "$DEST" | cut -f1), $(provisioned)) in" \
    "$(( $(date +%s) - start )) s"
