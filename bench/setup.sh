#!/usr/bin/env bash
# Benchmark: a fresh `actsim setup --yes --no-check` (all steps) against the shell pipeline
# that does the same job (curl checksums.txt and the archive, sha256sum -c, tar, install,
# docker import of the simulator image, stat of the socket, writing docker-compose.yml,
# .env and actrc), side by side in
# one run, both from the same loopback mirror in GitHub's release layout (python3 -m
# http.server over a temp dir). Prints both medians, the ratio (target: actsim no slower)
# and actsim's peak RSS (target: under 64 MiB; needs /usr/bin/time from apt `time`).
# Every round starts from an empty bin dir, state dir and config dir, and without the
# simulator image (both sides build it). Leaves nothing behind but no images.
#
# Usage: bench/setup.sh [ROUNDS]   (default 10; ROUNDS env var works too)
# What can go wrong: no fixtures (it runs scripts/fixtures.sh), python3 or curl missing, the
# mirror not starting (it says so), a setup run failing (it stops and shows its output).
set -euo pipefail

die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

now_ns() { date +%s%N; }

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

ms() { awk -v ns="$1" 'BEGIN { printf "%.1f ms", ns / 1e6 }'; }

# The host's asset name, as act publishes it.
host_asset() {
    local os arch
    case $(uname -s) in
        Linux) os=Linux ;;
        Darwin) os=Darwin ;;
        *) die "unsupported OS $(uname -s)" ;;
    esac
    case $(uname -m) in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=arm64 ;;
        armv7l) arch=armv7 ;;
        armv6l) arch=armv6 ;;
        i386 | i686) arch=i386 ;;
        riscv64) arch=riscv64 ;;
        *) die "unsupported architecture $(uname -m)" ;;
    esac
    printf 'act_%s_%s.tar.gz\n' "$os" "$arch"
}

# A release dir in GitHub's layout: the archive packed like goreleaser, and checksums.txt.
make_mirror() {
    local srv=$1 version=$2 asset=$3 rel pack
    rel=$srv/nektos/act/releases/download/v$version
    pack=$(mktemp -d "$work/pack.XXXXXX")
    mkdir -p "$rel"
    cp "$root/.cache/fixtures/act" "$pack/act"
    chmod 755 "$pack/act"
    printf 'MIT License\n' >"$pack/LICENSE"
    printf '# act\n' >"$pack/README.md"
    tar -C "$pack" -czf "$rel/$asset" act LICENSE README.md
    (cd "$rel" && sha256sum "$asset" >checksums.txt)
    rm -rf "$pack"
}

# Start python3 -m http.server on a free loopback port; sets `port` and `server_pid` (in
# this shell, so the EXIT trap can stop it).
start_mirror() {
    local srv=$1 i
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        python3 -m http.server "$port" --bind 127.0.0.1 --directory "$srv" >"$work/http.log" 2>&1 &
        server_pid=$!
        for i in $(seq 1 50); do
            if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
                return 0
            fi
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
            : "$i"
        done
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    done
    die "python3 -m http.server did not start; see $work/http.log"
}

# One actsim run into a fresh bin dir and state dir; prints elapsed ns.
run_actsim() {
    local dir=$1 start end
    mkdir -p "$dir/home"
    docker rmi -f "actsim/act:$version" >/dev/null 2>&1 || true
    start=$(now_ns)
    if ! HOME=$dir/home XDG_STATE_HOME=$dir/state XDG_CONFIG_HOME=$dir/config \
        "$actsim" setup --yes --no-check --bin-dir "$dir/bin" \
        --config-dir "$dir/config/actsim" --act-base-url "$base" >"$dir/out" 2>&1; then
        cat "$dir/out" >&2
        die "actsim setup failed (output above)"
    fi
    end=$(now_ns)
    HOME=$dir "$dir/bin/act" --version | grep -q "act version $version" || die "actsim installed no working act"
    echo $((end - start))
}

# The same job in shell; prints elapsed ns.
run_pipeline() {
    local dir=$1 start end
    mkdir -p "$dir/dl" "$dir/bin"
    docker rmi -f "actsim-bench/act:$version" >/dev/null 2>&1 || true
    start=$(now_ns)
    (
        cd "$dir/dl"
        curl -fsSL -o checksums.txt "$base/v$version/checksums.txt"
        curl -fsSL -o "$asset" "$base/v$version/$asset"
        grep " $asset\$" checksums.txt | sha256sum -c --quiet -
        tar -xzf "$asset" act
        install -m 755 act "$dir/bin/act"
        sha=$(sha256sum "$dir/bin/act" | cut -d' ' -f1)
        mkdir -p img/usr/local/bin img/tmp && chmod 1777 img/tmp
        cp "$dir/bin/act" img/usr/local/bin/act
        tar -C img -c . | docker import --change "LABEL io.actsim.act-sha256=$sha" \
            --change 'ENV PATH=/usr/local/bin' - "actsim-bench/act:$version" >/dev/null
        gid=$(stat -c %g /var/run/docker.sock)
        mkdir -p "$dir/config/actsim" "$dir/config/act"
        # shellcheck disable=SC2016 # ${...} is for compose to expand, not the shell
        printf 'services:\n  actions-simulator:\n    image: actsim-bench/act:%s\n    entrypoint: [act]\n    user: "${HOST_UID}:${HOST_GID}"\n    group_add: ["${DOCKER_GID}"]\n    volumes: ["${DOCKER_SOCKET}:/var/run/docker.sock"]\n' \
            "$version" >"$dir/config/actsim/docker-compose.yml"
        (umask 077 && printf 'HOST_UID=%s\nHOST_GID=%s\nDOCKER_GID=%s\nDOCKER_SOCKET=/var/run/docker.sock\nACT_VERSION=%s\n' \
            "$(id -u)" "$(id -g)" "$gid" "$version" >"$dir/config/actsim/.env")
        printf -- '-P ubuntu-latest=%s\n' catthehacker/ubuntu:act-latest >"$dir/config/act/actrc"
    ) || die "the shell pipeline failed"
    end=$(now_ns)
    HOME=$dir "$dir/bin/act" --version | grep -q "act version $version" || die "the pipeline installed no working act"
    echo $((end - start))
}

main() {
    local rounds=${1:-${ROUNDS:-10}} srv r a_times p_times a_med p_med rss
    case $rounds in '' | *[!0-9]* | 0) die "ROUNDS must be a positive number, got '$rounds'" ;; esac
    command -v python3 >/dev/null || die "python3 is needed for the loopback mirror"
    command -v curl >/dev/null || die "curl is needed for the shell pipeline"

    root=$(cd "$(dirname "$0")/.." && pwd)
    cd "$root"
    version=0.2.89
    asset=$(host_asset)
    work=$(mktemp -d)
    server_pid=
    trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

    bash scripts/fixtures.sh
    echo "bench: building actsim --release" >&2
    cargo build --release --quiet
    actsim=$root/target/release/actsim

    srv=$work/srv
    make_mirror "$srv" "$version" "$asset"
    start_mirror "$srv"
    base=http://127.0.0.1:$port/nektos/act/releases/download
    echo "bench: mirror $base ($(stat -c %s "$srv/nektos/act/releases/download/v$version/$asset") byte archive), $rounds rounds" >&2

    # One warm-up each (page cache, python's first response).
    run_actsim "$work/warm-a" >/dev/null
    run_pipeline "$work/warm-p" >/dev/null

    a_times=()
    p_times=()
    for r in $(seq 1 "$rounds"); do
        a_times+=("$(run_actsim "$work/a$r")")
        p_times+=("$(run_pipeline "$work/p$r")")
        rm -rf "$work/a$r" "$work/p$r"
    done
    a_med=$(printf '%s\n' "${a_times[@]}" | median)
    p_med=$(printf '%s\n' "${p_times[@]}" | median)

    rss="n/a (install apt package 'time' for /usr/bin/time)"
    if [ -x /usr/bin/time ]; then
        mkdir -p "$work/rss/home"
        HOME=$work/rss/home XDG_STATE_HOME=$work/rss/state XDG_CONFIG_HOME=$work/rss/config \
            /usr/bin/time -v "$actsim" setup --yes --no-check --bin-dir "$work/rss/bin" \
            --config-dir "$work/rss/config/actsim" --act-base-url "$base" \
            >/dev/null 2>"$work/rss.txt" || { cat "$work/rss.txt" >&2; die "actsim setup failed under /usr/bin/time"; }
        rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$work/rss.txt")
    fi

    docker rmi -f "actsim-bench/act:$version" >/dev/null 2>&1 || true
    printf '\n%-46s %12s\n' "fresh setup, act $version (median of $rounds)" "time"
    printf '%-46s %12s\n' "actsim setup --yes --no-check" "$(ms "$a_med")"
    printf '%-46s %12s\n' "curl+sha256sum+tar+install+docker import+files" "$(ms "$p_med")"
    printf '%-46s %12s\n' "ratio actsim / pipeline (target <= 1.0)" \
        "$(awk -v a="$a_med" -v p="$p_med" 'BEGIN { printf "%.2fx", a / p }')"
    printf '%-46s %12s\n' "actsim peak RSS (target < 64 MiB)" "$rss"
}

main "$@"
