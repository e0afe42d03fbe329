#!/usr/bin/env bash
# scripts/bench part 5: `heloguard replay --no-dns` over a HELO log of
# $HELOGUARD_BENCH_REPLAY_RECORDS records (default 1000000) in the embedded store, seeded as
# for part 4 (scripts/lib/helo_log_bench.sh). The candidate configuration has no DNS
# restriction: the syntax checks and a check_helo_access texthash: table naming 200 of the
# seeded bot names, so part of the log changes verdict. `heloguard replay --json` runs
# $HELOGUARD_BENCH_REPLAY_RUNS times (default 3); the median wall time counts against the
# target of 10 s.
#
#   scripts/lib/replay_bench.sh [HELOGUARD_BINARY]     # or: HELOGUARD_BENCH_PARTS=5 scripts/bench
#
# Without a binary it builds the release one. Needs python3; no root, no Postfix. Prints the
# result and appends it to bench-out/results.txt; exits 1 on FAIL.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$HELOGUARD_ROOT/scripts/lib/helo_log_bench.sh"

records="${HELOGUARD_BENCH_REPLAY_RECORDS:-1000000}"
replay_runs="${HELOGUARD_BENCH_REPLAY_RUNS:-3}"
target_ms=10000

bin="$(bench_binary "${1:-}")"

replay_work="$(mktemp -d "${TMPDIR:-/tmp}/heloguard-replay-bench.XXXXXX")"
trap 'rm -rf "$replay_work"' EXIT

section "replay data: $records HELO log records"
seed_helo_log "$bin" "$replay_work" "$records"
# Every tenth of the first 2,000 seeded bot names (stats_seed.py: bot<N>, desktop-<hex>.lan).
for ((i = 0; i < 2000; i += 10)); do
    if (( i % 3 )); then printf 'bot%d\tREJECT listed bot name\n' "$i"; else printf 'desktop-%04x.lan\tREJECT listed bot name\n' "$i"; fi
done > "$replay_work/helo_access"
cat > "$replay_work/candidate.conf" <<CONF
state_directory = $replay_work/state
smtpd_helo_restrictions = reject_invalid_helo_hostname, check_helo_access texthash:$replay_work/helo_access,
    reject_non_fqdn_helo_hostname
CONF

section "measure: heloguard replay --no-dns --json, $replay_runs runs, median wall time"
times=()
for ((i = 0; i < replay_runs; i++)); do
    start=$(date +%s%N)
    "$bin" replay --config "$replay_work/candidate.conf" --no-dns --json > "$replay_work/out.tmp"
    end=$(date +%s%N)
    (( i == 0 )) && mv "$replay_work/out.tmp" "$replay_work/out.json"
    times+=($(( (end - start) / 1000000 )))
    printf '    heloguard replay run %d: %d ms\n' $((i + 1)) $(( (end - start) / 1000000 ))
done
replay_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
summary=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
if r["examined"] != int(sys.argv[2]) or r["newly_refused_total"] == 0:
    sys.exit("replay examined %d records, newly refused %d: the data or replay is wrong" % (r["examined"], r["newly_refused_total"]))
print("unchanged %d, newly refused %d, newly accepted %d, changed %d, not replayable %d, %d distinct tuples evaluated" % (
    r["unchanged"], r["newly_refused_total"], r["newly_accepted_total"], r["changed_refusal_total"],
    r["not_replayable_total"], r["evaluations"]))
' "$replay_work/out.json" "$records") || die "the replay output is wrong"
note "$summary"

verdict=$([[ $replay_ms -lt $target_ms ]] && echo PASS || echo FAIL)
replay_result=$(awk -v n="$records" -v t="$replay_ms" -v r="$replay_runs" -v v="$verdict" 'BEGIN {
    printf "replay: %d HELO log records, --no-dns --json %.2f s (median of %d); target < 10 s: %s", n, t / 1000, r, v
}')

section "result"
printf '%s\n' "$replay_result"
mkdir -p "$HELOGUARD_ROOT/bench-out"
printf '%s\n' "$replay_result" >> "$HELOGUARD_ROOT/bench-out/results.txt"
note "appended to bench-out/results.txt"
[[ "$verdict" == PASS ]]
