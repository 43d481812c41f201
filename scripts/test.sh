#!/usr/bin/env bash
# THE test command (README, .ci/run): set up what the tests need on a fresh machine of this
# kind, then lint and run the whole suite. Stops at the first failure.
# Under CI=true a missing Docker daemon or fixture fails the tests instead of skipping them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

# Tools the tests use: shellcheck (lint), man (the man page renders), mount (tmpfs data
# roots for docker.resources), podman (the Podman API service the engine tests run
# against), sudo (the group-join tests); getent and dockerd come with the machine.
need=()
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v sudo >/dev/null 2>&1 || need+=(sudo)
if [ "${#need[@]}" -gt 0 ]; then
    step "installing ${need[*]} (apt-get)"
    apt-get install -y "${need[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
        || { echo "test.sh: error: cannot install ${need[*]}; install them and rerun" >&2; exit 1; }
fi

step "fixtures"
bash scripts/fixtures.sh

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

scripts=()
for f in install.sh scripts/*.sh bench/*.sh; do
    [ -f "$f" ] && scripts+=("$f")
done
step "shellcheck ${scripts[*]}"
shellcheck "${scripts[@]}"

step "cargo test --all-targets"
cargo test --all-targets

step "all checks passed"
