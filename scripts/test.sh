#!/usr/bin/env bash
# THE test command (README, .ci/run): set up what the tests need on a fresh machine of this
# kind, then lint and run the whole suite. Stops at the first failure.
# Under CI=true a missing Docker daemon or fixture fails the tests instead of skipping them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

# Debian packages the tests need: shellcheck (lint), podman (the Podman API service the
# engine tests run against), sudo (the group-join tests).
missing=()
for pkg in shellcheck podman sudo; do
    command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    step "installing ${missing[*]} (apt-get)"
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; } \
        || { echo "test.sh: error: cannot install ${missing[*]}; install them and rerun" >&2; exit 1; }
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
