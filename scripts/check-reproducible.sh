#!/usr/bin/env bash
# Reproducible builds: builds the project twice from clean (`mvn -B -q clean package -Dmaven.test.skip=true`) and
# compares the SHA-256 of every jar the two builds made. Exits 1 naming the jars that differ.
# Every jar entry carries project.build.outputTimestamp (root pom), so two builds of one commit must be equal byte
# for byte, whoever builds them, wherever, whenever (with the same JDK major version and Maven plugins).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for run in 1 2; do
    echo "check-reproducible: build $run of 2"
    mvn -B -q clean package -Dmaven.test.skip=true
    # every jar in a module's target/ (not the invoker's local repository or cloned projects)
    find . -path '*/target/*.jar' -not -path '*/target/*/*' -print0 | sort -z \
        | xargs -0 sha256sum > "$out/build-$run.sha256"
done

jars=$(wc -l < "$out/build-1.sha256")
if [ "$jars" -eq 0 ]; then
    echo "check-reproducible: no jars were built" >&2
    exit 1
fi
if ! diff "$out/build-1.sha256" "$out/build-2.sha256" > "$out/diff"; then
    echo "check-reproducible: the two builds differ:" >&2
    cat "$out/diff" >&2
    exit 1
fi
echo "check-reproducible: $jars jars, byte-for-byte identical in two clean builds:"
cat "$out/build-1.sha256"
