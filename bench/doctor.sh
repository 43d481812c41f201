#!/usr/bin/env bash
# Benchmark: `actsim doctor` on a healthy machine (fixture act, warm probe image) against
# one `docker run --rm IMAGE true`, side by side in one run; prints both medians and the
# ratio (target: doctor <= 1.2x the round trip). Rerunnable; leaves nothing behind but the
# local images it builds (kept warm for the next run).
#
# Usage: bench/doctor.sh [ROUNDS]   (default 10; ROUNDS env var works too)
# Uses hyperfine when installed (apt-get install hyperfine), else a date +%s%N loop.
# What can go wrong: no daemon, no fixtures (it runs scripts/fixtures.sh), a doctor run
# that is not healthy (it stops and shows the doctor's output).
set -euo pipefail

rounds=${1:-${ROUNDS:-10}}
case $rounds in '' | *[!0-9]* | 0) echo "bench: ROUNDS must be a positive number, got '$rounds'" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed)"
bash scripts/fixtures.sh
echo "bench: building actsim --release" >&2
cargo build --release --quiet
actsim=$root/target/release/actsim

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/config" "$work/home/.config/act" "$work/rootfs/bin" "$work/rootfs/tmp"
cp .cache/fixtures/act "$work/bin/act"
chmod 755 "$work/bin/act"

# A tiny local image (no registry here): static busybox, sh and true.
busybox_sha=$(sha256sum .cache/fixtures/busybox | cut -c1-12)
image=actsim-bench/busybox:$busybox_sha
if ! docker image inspect "$image" >/dev/null 2>&1; then
    cp .cache/fixtures/busybox "$work/rootfs/bin/busybox"
    ln -s busybox "$work/rootfs/bin/sh"
    ln -s busybox "$work/rootfs/bin/true"
    chmod 1777 "$work/rootfs/tmp"
    tar -C "$work/rootfs" -c . | docker import --change 'CMD ["sh"]' - "$image" >/dev/null
fi
printf -- '-P ubuntu-latest=%s\n-P ubuntu-24.04=%s\n-P ubuntu-22.04=%s\n' \
    "$image" "$image" "$image" >"$work/home/.config/act/actrc"

doctor_cmd=(env -i "PATH=$work/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "HOME=$work/home" "XDG_CONFIG_HOME=$work/home/.config" NO_COLOR=1
    "$actsim" doctor -q --bin-dir "$work/bin" --config-dir "$work/config")
docker_cmd=(docker run --rm "$image" true)

# Warm up (the first doctor builds its probe image) and insist on a healthy doctor.
if ! out=$("${doctor_cmd[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    die "doctor is not healthy on this machine; fix what it reports first"
fi
"${docker_cmd[@]}" >/dev/null

median_ms() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if command -v hyperfine >/dev/null 2>&1; then
    echo "bench: hyperfine, $rounds rounds each" >&2
    hyperfine --style basic --warmup 1 --runs "$rounds" --export-json "$work/h.json" \
        -n "actsim doctor" "$(printf '%q ' "${doctor_cmd[@]}")" \
        -n "docker run --rm IMAGE true" "$(printf '%q ' "${docker_cmd[@]}")" >&2
    read -r doctor_ms docker_ms < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(" ".join(str(round(x["median"] * 1000)) for x in r))' "$work/h.json")
else
    echo "bench: date +%s%N loop, $rounds rounds each, interleaved (install hyperfine for more)" >&2
    for _ in $(seq "$rounds"); do
        t0=$(date +%s%N)
        "${doctor_cmd[@]}" >/dev/null 2>&1 || die "a doctor round failed"
        t1=$(date +%s%N)
        "${docker_cmd[@]}" >/dev/null || die "a docker run round failed"
        t2=$(date +%s%N)
        echo $(((t1 - t0) / 1000000)) >>"$work/doctor.ms"
        echo $(((t2 - t1) / 1000000)) >>"$work/docker.ms"
    done
    doctor_ms=$(median_ms <"$work/doctor.ms")
    docker_ms=$(median_ms <"$work/docker.ms")
fi

ratio=$(awk -v a="$doctor_ms" -v b="$docker_ms" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.2) ? "within" : "OVER" }')
printf 'actsim doctor (healthy, warm image)  median %6s ms\n' "$doctor_ms"
printf 'docker run --rm IMAGE true           median %6s ms\n' "$docker_ms"
printf 'ratio doctor / docker run            %s (%s the 1.2 target; %s rounds each)\n' \
    "$ratio" "$verdict" "$rounds"
