#!/usr/bin/env bash
# scripts/bench part 4: `heloguard stats` over a HELO log of $HELOGUARD_BENCH_STATS_RECORDS
# records (default 1000000) in the embedded store. The state file is created by heloguard
# itself (`heloguard penalty list`), then filled by scripts/lib/stats_seed.py in one
# transaction (a realistic mix: ordinary servers, providers, shared bot names, rotating
# clients, refusals under four restrictions, provider claims, reverse names for most).
# `heloguard stats` and `heloguard stats --json` run $HELOGUARD_BENCH_STATS_RUNS times each
# (default 3); the median wall time counts against the target of 5 s.
#
#   scripts/lib/stats_bench.sh [HELOGUARD_BINARY]     # or: HELOGUARD_BENCH_PARTS=4 scripts/bench
#
# Without a binary it builds the release one. Needs python3 (its sqlite3 module); no root,
# no Postfix. Prints the result and appends it to bench-out/results.txt; exits 1 on FAIL.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

records="${HELOGUARD_BENCH_STATS_RECORDS:-1000000}"
stats_runs="${HELOGUARD_BENCH_STATS_RUNS:-3}"
target_ms=5000

source "$HELOGUARD_ROOT/scripts/lib/helo_log_bench.sh"
bin="$(bench_binary "${1:-}")"

stats_work="$(mktemp -d "${TMPDIR:-/tmp}/heloguard-stats-bench.XXXXXX")"
trap 'rm -rf "$stats_work"' EXIT

section "stats data: $records HELO log records"
seed_helo_log "$bin" "$stats_work" "$records"

# Runs `heloguard stats` with the given extra arguments $stats_runs times; prints the median
# wall time in milliseconds. The first run's output is kept in $stats_work/out.<label>.
measure_stats() {
    local label="$1" i start end
    shift
    local times=()
    for ((i = 0; i < stats_runs; i++)); do
        start=$(date +%s%N)
        "$bin" stats --config "$stats_work/heloguard.conf" "$@" > "$stats_work/out.tmp"
        end=$(date +%s%N)
        (( i == 0 )) && mv "$stats_work/out.tmp" "$stats_work/out.$label"
        times+=($(( (end - start) / 1000000 )))
        printf '    heloguard stats %s run %d: %d ms\n' "$label" $((i + 1)) $(( (end - start) / 1000000 )) >&2
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

section "measure: heloguard stats, $stats_runs runs each, median wall time"
table_ms=$(measure_stats table)
json_ms=$(measure_stats json --json)
grep -q "REJECT shared HELO name" "$stats_work/out.table" || die "the table output has no shared-name finding: the data or stats is wrong"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r["records"] == int(sys.argv[2]) else 1)' \
    "$stats_work/out.json" "$records" || die "the JSON output does not count $records records"

worst=$(( table_ms > json_ms ? table_ms : json_ms ))
verdict=$([[ $worst -lt $target_ms ]] && echo PASS || echo FAIL)
stats_result=$(awk -v n="$records" -v t="$table_ms" -v j="$json_ms" -v r="$stats_runs" -v v="$verdict" 'BEGIN {
    printf "stats: %d HELO log records, table %.2f s, --json %.2f s (median of %d); target < 5 s: %s", n, t / 1000, j / 1000, r, v
}')

section "result"
printf '%s\n' "$stats_result"
mkdir -p "$HELOGUARD_ROOT/bench-out"
printf '%s\n' "$stats_result" >> "$HELOGUARD_ROOT/bench-out/results.txt"
note "appended to bench-out/results.txt"
[[ "$verdict" == PASS ]]
