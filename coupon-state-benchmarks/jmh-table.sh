#!/usr/bin/env bash
# Turns JMH JSON result files into one markdown table (needs jq). The last column is LOCK_FREE's score divided by
# the row's, within the same (method, codes, path, threads) group: ratios from one run, which is what to compare
# on a shared machine.
#   coupon-state-benchmarks/jmh-table.sh results/*.json
set -euo pipefail
jq -s -r '
  [ .[][] | {
      method: (.benchmark | split(".") | last),
      impl: (.params.impl // "-"), codes: (.params.codes // "-"), path: (.params.path // "-"),
      threads: .threads, score: .primaryMetric.score, error: .primaryMetric.scoreError,
      alloc: (.secondaryMetrics["gc.alloc.rate.norm"].score // null) } ] as $rows
  | ($rows | map(select(.impl == "LOCK_FREE") | {key: "\(.method)/\(.codes)/\(.path)/\(.threads)", value: .score})
      | from_entries) as $ours
  | "| method | impl | codes | path | threads | ops/s | error (99.9%) | B/op (-prof gc) | LOCK_FREE / this |",
    "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ($rows[] | "| \(.method) | \(.impl) | \(.codes) | \(.path) | \(.threads) | \(.score | floor) | "
      + (if (.error | type) == "number" then "± \(.error | floor)" else "-" end) + " | "
      + (if .alloc == null then "-" else "\(.alloc * 10 | round / 10)" end) + " | "
      + ($ours["\(.method)/\(.codes)/\(.path)/\(.threads)"] as $o
         | if $o == null then "-" else "\($o / .score * 100 | round / 100)x" end) + " |")
' "$@"
