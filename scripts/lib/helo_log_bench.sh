# Sourced by the HELO log benchmarks (scripts/lib/stats_bench.sh, scripts/lib/replay_bench.sh).
#
# bench_binary [BIN]: prints BIN (else $HELOGUARD_BENCH_BINARY), or builds the release
# heloguard and prints its path.
bench_binary() {
    if [[ -n "${1:-}" ]]; then printf '%s\n' "$1"; return; fi
    if [[ -n "${HELOGUARD_BENCH_BINARY:-}" ]]; then printf '%s\n' "$HELOGUARD_BENCH_BINARY"; return; fi
    ensure_swift
    section "swift build -c release" >&2
    (cd "$HELOGUARD_ROOT" && swift build -c release </dev/null >&2)
    heloguard_binary release
}
#
# seed_helo_log BIN DIR RECORDS: writes DIR/heloguard.conf (state_directory = DIR/state), lets
# heloguard BIN create the state file (`heloguard penalty list`), then fills its HELO log with
# RECORDS records by scripts/lib/stats_seed.py (one transaction; the mix is described there).
seed_helo_log() {
    local bin="$1" dir="$2" records="$3" start
    command -v python3 >/dev/null 2>&1 || die "python3 not found (the HELO log seeding needs it)"
    printf 'state_directory = %s/state\n' "$dir" > "$dir/heloguard.conf"
    # Made first, as the milter's first start would: run as root, heloguard then keeps to the
    # directory's owner instead of refusing to guess the milter's account.
    mkdir -p "$dir/state"
    "$bin" penalty list --config "$dir/heloguard.conf" >/dev/null
    start=$(date +%s%N)
    python3 "$HELOGUARD_ROOT/scripts/lib/stats_seed.py" --db "$dir/state/heloguard.sqlite" --records "$records"
    note "seeded in $(( ($(date +%s%N) - start) / 1000000 )) ms"
}
