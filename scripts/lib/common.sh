# shellcheck shell=bash
# Shared helpers for scripts/*: sourced, never run. Sets HELOGUARD_ROOT (the repository root,
# found from this file's own location, so every script works from any directory) and puts
# Swift on PATH.

HELOGUARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export HELOGUARD_ROOT

# Section header: `==> text` in bold when stdout is a terminal, plain otherwise (CI logs).
section() {
    if [[ -t 1 ]]; then
        printf '\n\033[1m==> %s\033[0m\n' "$*"
    else
        printf '\n==> %s\n' "$*"
    fi
}

note() { printf '    %s\n' "$*"; }

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Swift: whatever `swift` is on PATH, else the toolchain at /opt/swift (where this project's
# machines have it). Fails with a clear message when neither works.
ensure_swift() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        PATH="/opt/swift/usr/bin:$PATH"
        export PATH
    fi
    command -v swift >/dev/null 2>&1 \
        || die "swift not found on PATH nor at /opt/swift/usr/bin; install a Swift 6.3 toolchain and put its usr/bin on PATH"
    swift --version >/dev/null 2>&1 \
        || die "\`swift --version\` failed ($(command -v swift)); the Swift toolchain looks broken"
}

# The heloguard binary of a build configuration (debug or release), built with
# `swift build -c CONFIG`. Prints its path.
heloguard_binary() {
    local config="${1:-debug}" bin
    bin="$(cd "$HELOGUARD_ROOT" && swift build -c "$config" --show-bin-path)/heloguard"
    [[ -x "$bin" ]] || die "$bin not found: run \`swift build -c $config\` first"
    printf '%s\n' "$bin"
}

# postmap from the postfix package (in /usr/sbin, which a non-root PATH may lack). Prints its
# path, or nothing and fails when postfix is not installed.
find_postmap() {
    command -v postmap 2>/dev/null || { [[ -x /usr/sbin/postmap ]] && echo /usr/sbin/postmap; }
}

# A private Postfix configuration directory for `postmap -c DIR`, so that postmap does not
# depend on (or read) /etc/postfix: an empty main.cf means Postfix's built-in defaults.
make_postmap_config() {
    mkdir -p "$1"
    printf '# private, minimal main.cf for postmap -c (heloguard scripts)\n' > "$1/main.cf"
}
