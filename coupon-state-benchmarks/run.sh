#!/usr/bin/env bash
# Runs the coupon-state benchmarks with short settings fit for a shared 2-core machine and writes the results to
# coupon-state-benchmarks/results/: JMH JSON per run, jmh.md (a markdown table of all of them), footprint.md,
# reference-scale.txt and kafka-ceiling.txt. Compare numbers as ratios within one run; absolute numbers on a
# shared machine move with other people's builds.
#
#   coupon-state-benchmarks/run.sh            # everything (about 40 minutes on a busy 2-core machine)
#   SKIP_BUILD=1 ONLY=jmh coupon-state-benchmarks/run.sh
#   JMH_OPTS="-wi 1 -i 2 -w 1s -r 2s" coupon-state-benchmarks/run.sh
#   FULL_SCALE=1 coupon-state-benchmarks/run.sh   # also the reference run at scale 1 (-Xmx9g: two full states)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$here/results"
mkdir -p "$out"
jar="$here/target/benchmarks.jar"
only="${ONLY:-jmh,footprint,reference,kafka}"
jmh_opts="${JMH_OPTS:--wi 2 -i 3 -f 1 -w 2s -r 3s}"

if [[ -z "${SKIP_BUILD:-}" || ! -f "$jar" ]]; then
  # the reactor from this checkout; never mvn install (it would overwrite shared ~/.m2 snapshots)
  (cd "$root" && mvn -B -q -pl coupon-state-core,coupon-state-kafka,coupon-state-benchmarks -am package -DskipTests)
fi
# run from a copy so a rebuild while the suite runs cannot pull the jar from under the forks
run_jar="$(mktemp -d)/benchmarks.jar"
cp "$jar" "$run_jar"

jmh() { # name, then JMH arguments
  local name="$1"; shift
  java -jar "$run_jar" $jmh_opts "$@" -rf json -rff "$out/$name.json" | tee "$out/$name.log" \
    | grep --line-buffered -E '^(# Run progress|AddObservationBenchmark)' || true
}

if [[ ",$only," == *",jmh,"* ]]; then
  rm -f "$out"/jmh-*.json
  for t in 1 2; do
    jmh "jmh-insert-1m-string-t$t" -t $t -p codes=1000000 -p path=STRING 'AddObservationBenchmark\.insert$'
    jmh "jmh-insert-1m-bytes-t$t" -t $t -p codes=1000000 -p path=BYTES -prof gc 'AddObservationBenchmark\.insert$'
  done
  jmh jmh-reobserve-1m-t1 -t 1 -p codes=1000000 -prof gc 'AddObservationBenchmark\.reobserve$'
  jmh jmh-insert-10m-string-t1 -t 1 -p codes=10000000 -p path=STRING 'AddObservationBenchmark\.insert$'
  jmh jmh-insert-10m-string-t2 -t 2 -p codes=10000000 -p path=STRING -p impl=LOCK_FREE 'AddObservationBenchmark\.insert$'
  "$here/jmh-table.sh" "$out"/jmh-*.json > "$out/jmh.md"
  cat "$out/jmh.md"
fi

if [[ ",$only," == *",footprint,"* ]]; then
  java -Xmx8g -Djdk.attach.allowAttachSelf=true -cp "$run_jar" io.couponstate.benchmarks.FootprintReport \
    --codes 10000000 | tee "$out/footprint.md"
fi

if [[ ",$only," == *",reference,"* ]]; then
  java -Xmx6g -cp "$run_jar" io.couponstate.benchmarks.ReferenceScaleRun --scale 0.1 --threads 2 \
    | tee "$out/reference-scale-0.1.txt"
  if [[ -n "${FULL_SCALE:-}" ]]; then
    java -Xmx9g -XX:+UseTransparentHugePages -cp "$run_jar" io.couponstate.benchmarks.ReferenceScaleRun \
      --scale 1 --threads 2 \
      | tee "$out/reference-scale-1.txt"
  fi
fi

if [[ ",$only," == *",kafka,"* ]]; then
  java -Xmx4g -cp "$run_jar" io.couponstate.benchmarks.KafkaCeilingRun --records "${KAFKA_RECORDS:-2000000}" \
    --rounds "${KAFKA_ROUNDS:-3}" 2>&1 | grep -v ' WARN ' | tee "$out/kafka-ceiling.txt"
fi
