#!/bin/sh
# install.sh: build actsim from this source checkout, install it, then run `actsim setup`.
#
#   ./install.sh [--prefix DIR] [--binary FILE] [setup options...]
#
# Builds the release binary with `cargo build --release --locked` when it is missing or
# older than the sources, installs it as actsim into ~/.local/bin (as root:
# /usr/local/bin; --prefix DIR: DIR/bin), then runs `actsim setup` with every other
# argument, so `./install.sh --yes` provisions this machine end to end. With --dry-run
# nothing is installed: the freshly built binary runs `setup --dry-run` from the checkout.
#
# Exit codes: those of `actsim setup`; before it runs, 1 (a prerequisite is missing or a
# step failed) or 2 (bad option).

set -eu

PROG=install.sh

say() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

die() {
    # die CODE MESSAGE [HINT]
    code=$1
    printf '%s: error: %s\n' "$PROG" "$2" >&2
    if [ $# -ge 3 ] && [ -n "$3" ]; then
        printf '%s: hint: %s\n' "$PROG" "$3" >&2
    fi
    exit "$code"
}

usage() {
    cat <<'EOF'
Usage: ./install.sh [--prefix DIR] [--binary FILE] [setup options...]

Build actsim from this checkout (when needed), install it, then run `actsim setup`.

Options of install.sh:
  --prefix DIR    install into DIR/bin [default: ~/.local/bin, as root /usr/local/bin]
  --binary FILE   install this actsim binary instead of building one
  -h, --help      show this help (`actsim setup --help` lists the setup options)

Every other argument goes to `actsim setup`, e.g. --yes, --dry-run, --user NAME.
With --dry-run nothing is installed; the built binary runs `setup --dry-run`.
EOF
}

# The directory of this script, which must be the actsim source checkout.
source_dir() {
    case $0 in
        */*) dir=${0%/*} ;;
        *) dir=. ;;
    esac
    dir=$(cd "$dir" && pwd -P) || die 1 "cannot enter the directory of $0"
    if [ ! -f "$dir/Cargo.toml" ] || ! grep -q '^name = "actsim"' "$dir/Cargo.toml"; then
        die 1 "$dir is not the actsim source checkout (no Cargo.toml for actsim there)" \
            "run install.sh from a clone of the actsim repository"
    fi
    printf '%s\n' "$dir"
}

# Where actsim goes: DIR/bin for --prefix DIR, /usr/local/bin for root, ~/.local/bin else.
bin_dir() {
    if [ -n "$1" ]; then
        printf '%s/bin\n' "${1%/}"
    elif [ "$(id -u)" -eq 0 ]; then
        printf '%s\n' /usr/local/bin
    elif [ -n "${HOME:-}" ]; then
        printf '%s/.local/bin\n' "$HOME"
    else
        die 1 "HOME is not set, so there is no ~/.local/bin to install into" \
            "pass --prefix DIR (installs into DIR/bin)"
    fi
}

# Fail early, with the fix, when there is no Docker at all (actsim does not install it).
check_docker() {
    if command -v docker >/dev/null 2>&1 || [ -n "${DOCKER_HOST:-}" ] \
        || [ -S /var/run/docker.sock ] \
        || { [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/docker.sock" ]; }; then
        return 0
    fi
    die 1 "Docker is not installed: no docker command, no DOCKER_HOST, no daemon socket" \
        "install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io; Fedora: sudo dnf install moby-engine; see https://docs.docker.com/engine/install/), then rerun ./install.sh"
}

# True when the binary $1 is missing or older than any source file in checkout $2.
needs_build() {
    [ -x "$1" ] || return 0
    newer=$(find "$2/src" "$2/templates" "$2/Cargo.toml" "$2/Cargo.lock" "$2/build.rs" \
        -newer "$1" -print 2>/dev/null | head -n 1)
    [ -n "$newer" ]
}

build() {
    # build SRC_DIR BINARY
    if ! command -v cargo >/dev/null 2>&1; then
        hint="install Rust with rustup (https://rustup.rs) or your distribution's package (Debian/Ubuntu: sudo apt-get install cargo)"
        if [ -n "${SUDO_USER:-}" ]; then
            hint="$hint; under sudo, root may not see your cargo: build first as yourself with 'cargo build --release --locked', then rerun sudo ./install.sh"
        fi
        die 1 "cargo is not on PATH, and actsim must be built from source ($2 is missing or older than the sources)" "$hint"
    fi
    say "building actsim (cargo build --release --locked)"
    (cd "$1" && cargo build --release --locked) \
        || die 1 "cargo build --release --locked failed in $1" "see the compiler output above"
    [ -x "$2" ] || die 1 "the build did not produce $2" \
        "set CARGO_TARGET_DIR to the target directory cargo uses, or pass --binary FILE"
}

# Copy $1 to $2/actsim atomically (temp file in the same dir, then rename).
install_binary() {
    dest="$2/actsim"
    if [ -f "$dest" ] && cmp -s "$1" "$dest"; then
        say "$dest is up to date"
        return 0
    fi
    mkdir -p "$2" || die 1 "cannot create $2" "pass --prefix DIR for a directory you can write"
    tmp="$2/.actsim.install.$$"
    if ! cp "$1" "$tmp" || ! chmod 0755 "$tmp" || ! mv -f "$tmp" "$dest"; then
        rm -f "$tmp"
        die 1 "cannot install $dest" "pass --prefix DIR for a directory you can write"
    fi
    say "installed $dest"
    case ":${PATH:-}:" in
        *":$2:"*) ;;
        *) say "note: $2 is not on PATH; add it (e.g. export PATH=\"$2:\$PATH\" in your shell profile)" ;;
    esac
}

main() {
    prefix=""
    binary=""
    dry_run=0
    # Take install.sh's own options out; keep the rest, in order, for `actsim setup`.
    n=$#
    while [ "$n" -gt 0 ]; do
        arg=$1
        shift
        n=$((n - 1))
        case $arg in
            --prefix | --binary)
                if [ "$n" -eq 0 ] || [ -z "$1" ]; then
                    die 2 "$arg needs a value" "e.g. $arg /opt/actsim"
                fi
                if [ "$arg" = --prefix ]; then prefix=$1; else binary=$1; fi
                shift
                n=$((n - 1))
                ;;
            --prefix=*) prefix=${arg#--prefix=} ;;
            --binary=*) binary=${arg#--binary=} ;;
            -h | --help)
                usage
                exit 0
                ;;
            --dry-run)
                dry_run=1
                set -- "$@" "$arg"
                ;;
            *) set -- "$@" "$arg" ;;
        esac
    done
    if [ -n "$prefix" ]; then
        case $prefix in
            /*) ;;
            *) prefix="$(pwd -P)/$prefix" ;;
        esac
    fi

    src=$(source_dir)
    dir=$(bin_dir "$prefix")
    check_docker

    if [ -n "$binary" ]; then
        if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
            die 2 "--binary $binary is not an executable file" "pass the path of a built actsim"
        fi
    else
        target=${CARGO_TARGET_DIR:-$src/target}
        case $target in
            /*) ;;
            *) target="$src/$target" ;;
        esac
        binary="$target/release/actsim"
        if needs_build "$binary" "$src"; then
            build "$src" "$binary"
        else
            say "$binary is up to date with the sources"
        fi
    fi

    if [ "$dry_run" -eq 1 ]; then
        say "dry run: would install $binary as $dir/actsim"
        exec "$binary" setup "$@"
    fi
    install_binary "$binary" "$dir"
    exec "$dir/actsim" setup "$@"
}

main "$@"
