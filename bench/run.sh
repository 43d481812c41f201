#!/usr/bin/env bash
# Benchmark: `actsim run` (preflight cache hit) against bare `act` on the same workflow, the
# same local busybox platform image, both with --pull=false, interleaved in one run; prints
# both medians and the ratio (target: actsim run <= 1.05x bare act). Rerunnable; removes
# the containers and volumes of its own workflow, keeps the local image warm.
#
# Then the same for a 20-job matrix workflow (MATRIX_ROUNDS, default 3): wall time of
# `actsim run` and bare act side by side, and actsim's own peak memory (VmHWM of the actsim
# process itself, sampled from /proc while it runs; act's memory is act's).
#
# Usage: bench/run.sh [ROUNDS]   (default 8; ROUNDS env var works too)
# Uses hyperfine when installed (apt-get install hyperfine), else a date +%s%N loop.
# What can go wrong: no daemon, no fixtures (it runs scripts/fixtures.sh), a run that
# fails (it stops and shows the output).
set -euo pipefail

rounds=${1:-${ROUNDS:-8}}
case $rounds in '' | *[!0-9]* | 0) echo "bench: ROUNDS must be a positive number, got '$rounds'" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed)"
bash scripts/fixtures.sh
echo "bench: building actsim --release" >&2
cargo build --release --quiet
actsim=$root/target/release/actsim

name=actsimbench$$
work=$(mktemp -d)
cleanup() {
    docker ps -aq --filter "name=act-$name" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
    docker volume ls -q --filter "name=act-$name" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/home/.config/act" "$work/rootfs/bin" "$work/rootfs/tmp" \
    "$work/repo/.github/workflows"
cp .cache/fixtures/act "$work/bin/act"
chmod 755 "$work/bin/act"

# A small local platform image (no registry here): static busybox with every applet.
busybox_sha=$(sha256sum .cache/fixtures/busybox | cut -c1-12)
image=actsim-bench/busybox-platform:$busybox_sha
if ! docker image inspect "$image" >/dev/null 2>&1; then
    cp .cache/fixtures/busybox "$work/rootfs/bin/busybox"
    for applet in $(.cache/fixtures/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    chmod 1777 "$work/rootfs/tmp"
    tar -C "$work/rootfs" -c . |
        docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$image" >/dev/null
fi
printf -- '-P ubuntu-latest=%s\n' "$image" >"$work/home/.config/act/actrc"
cat >"$work/repo/.github/workflows/bench.yml" <<YAML
name: $name
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo compiling
        shell: sh
      - run: echo testing
        shell: sh
YAML

env_cmd=(env -i "PATH=$work/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOME=$work/home" "XDG_CONFIG_HOME=$work/home/.config" NO_COLOR=1)
actsim_cmd=("${env_cmd[@]}" "$actsim" run -q)
act_cmd=("${env_cmd[@]}" "$work/bin/act" push --pull=false)

# Warm up: the first actsim run fills the preflight cache; both must succeed.
cd "$work/repo"
for cmd in actsim_cmd act_cmd; do
    declare -n c=$cmd
    if ! out=$("${c[@]}" </dev/null 2>&1); then
        printf '%s\n' "$out" >&2
        die "the warm-up ${cmd%_cmd} run failed"
    fi
done

median_ms() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if command -v hyperfine >/dev/null 2>&1; then
    echo "bench: hyperfine, $rounds rounds each" >&2
    hyperfine --style basic --warmup 1 --runs "$rounds" --export-json "$work/h.json" \
        -n "actsim run" "$(printf '%q ' "${actsim_cmd[@]}")" \
        -n "act push --pull=false" "$(printf '%q ' "${act_cmd[@]}")" >&2
    read -r actsim_ms act_ms < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(" ".join(str(round(x["median"] * 1000)) for x in r))' "$work/h.json")
else
    echo "bench: date +%s%N loop, $rounds rounds each, interleaved (install hyperfine for more)" >&2
    for _ in $(seq "$rounds"); do
        t0=$(date +%s%N)
        "${actsim_cmd[@]}" </dev/null >/dev/null 2>&1 || die "an actsim run round failed"
        t1=$(date +%s%N)
        "${act_cmd[@]}" </dev/null >/dev/null 2>&1 || die "a bare act round failed"
        t2=$(date +%s%N)
        echo $(((t1 - t0) / 1000000)) >>"$work/actsim.ms"
        echo $(((t2 - t1) / 1000000)) >>"$work/act.ms"
    done
    actsim_ms=$(median_ms <"$work/actsim.ms")
    act_ms=$(median_ms <"$work/act.ms")
fi

ratio=$(awk -v a="$actsim_ms" -v b="$act_ms" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.05) ? "within" : "OVER" }')
printf 'actsim run (preflight cache hit)  median %6s ms\n' "$actsim_ms"
printf 'act push --pull=false             median %6s ms\n' "$act_ms"
printf 'ratio actsim run / act            %s (%s the 1.05 target; %s rounds each)\n' \
    "$ratio" "$verdict" "$rounds"

# The 20-job matrix: act runs the legs four at a time; actsim follows 20 job logs.
matrix_rounds=${MATRIX_ROUNDS:-3}
case $matrix_rounds in '' | *[!0-9]* | 0) die "MATRIX_ROUNDS must be a positive number, got '$matrix_rounds'" ;; esac
rm -f "$work/repo/.github/workflows/bench.yml"
cat >"$work/repo/.github/workflows/matrix.yml" <<YAML
name: $name
on: push
jobs:
  leg:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    steps:
      - run: echo "leg \${{ matrix.n }}"
        shell: sh
YAML

# Run "$@" (actsim), printing its wall time in ms and its own peak RSS in KiB.
run_sampled() {
    local t0 t1 pid hwm=0 v
    t0=$(date +%s%N)
    "$@" </dev/null >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$v" ] && hwm=$v
        sleep 0.05
    done
    wait "$pid" || die "an actsim run of the matrix failed"
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000000)) $hwm"
}

echo "bench: 20-job matrix, $matrix_rounds rounds each, interleaved" >&2
"${act_cmd[@]}" </dev/null >/dev/null 2>&1 || die "the warm-up act run of the matrix failed"
: >"$work/m_actsim.ms"
: >"$work/m_act.ms"
: >"$work/m_actsim.kib"
for _ in $(seq "$matrix_rounds"); do
    read -r ms kib < <(run_sampled "${actsim_cmd[@]}")
    echo "$ms" >>"$work/m_actsim.ms"
    echo "$kib" >>"$work/m_actsim.kib"
    t0=$(date +%s%N)
    "${act_cmd[@]}" </dev/null >/dev/null 2>&1 || die "a bare act round of the matrix failed"
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >>"$work/m_act.ms"
done
m_actsim_ms=$(median_ms <"$work/m_actsim.ms")
m_act_ms=$(median_ms <"$work/m_act.ms")
m_kib=$(sort -n "$work/m_actsim.kib" | tail -1)
m_ratio=$(awk -v a="$m_actsim_ms" -v b="$m_act_ms" 'BEGIN { printf "%.2f", a / b }')
printf '20-job matrix: actsim run        median %6s ms\n' "$m_actsim_ms"
printf '20-job matrix: act push           median %6s ms\n' "$m_act_ms"
printf '20-job matrix: ratio actsim / act %s (%s rounds each)\n' "$m_ratio" "$matrix_rounds"
printf '20-job matrix: actsim peak memory %s KiB (VmHWM, the actsim process alone)\n' "$m_kib"
