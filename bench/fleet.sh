#!/usr/bin/env bash
# Benchmark: the Ansible role (ansible/roles/actsim) against an ansible-playbook of the
# equivalent plain tasks (copy the archive, sha256sum against the lock, tar, usermod,
# docker import, stat of the socket, copy of docker-compose.yml/.env/actrc, and the two
# container round trips setup's final check makes), side by side in one run, on fresh
# Docker hosts built like the fleet test's (a cached Debian root filesystem, each host
# running its own dockerd on an --internal network, reached with community.docker's
# docker connection). For 1 and 3 hosts (forks = hosts) it prints play 1 (fresh hosts) and
# play 2 (nothing to do) for both, and the ratios.
#
# Usage: bench/fleet.sh [ROUNDS]   (default 1; ROUNDS env var works too)
# What can go wrong: the fleet fixtures are missing (it runs scripts/fixtures.sh), a nested
# dockerd does not start (it shows its log), a play fails (it stops and shows its output).
# Everything it creates (containers, network, image) is removed on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-${ROUNDS:-1}}
cache="${ACTSIM_TEST_CACHE:-/var/cache/actsim-tests}"
venv=$cache/ansible-venv
rootfs=$cache/fleet-rootfs.tar
prefix=actsim-bench-fleet-$$
image=actsim-test/fleet-host:bench-$$
hosts=()

die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

now_ns() { date +%s%N; }

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

secs() { awk -v ns="$1" 'BEGIN { printf "%.1f s", ns / 1e9 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

remove_hosts() {
    local h
    for h in "${hosts[@]}"; do
        docker rm -f -v "$h" >/dev/null 2>&1 || true
        find "/sys/fs/cgroup/$h" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    hosts=()
}

cleanup() {
    remove_hosts
    docker network rm "$prefix" >/dev/null 2>&1 || true
    docker rmi -f "$image" >/dev/null 2>&1 || true
    [ -n "${work:-}" ] && rm -rf "$work"
}
trap cleanup EXIT

# start_hosts N: N fresh hosts, socket gid 2345+i, users dev1 and dev2, daemons up.
start_hosts() {
    local n=$1 i name
    remove_hosts
    for ((i = 1; i <= n; i++)); do
        name=$prefix-h$i
        docker run -d --init --name "$name" --hostname "h$i" --network "$prefix" \
            --cap-add ALL --cap-drop SYS_RESOURCE \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /var/lib/docker:exec "$image" \
            sh -c "set -e; groupmod -g $((2344 + i)) docker; useradd -m -s /bin/sh dev1; useradd -m -s /bin/sh dev2;
                   dockerd --storage-driver vfs --iptables=false --ip-masq=false --bridge=none \
                     --cgroup-parent /$name --group docker >/var/log/dockerd.log 2>&1 & exec sleep infinity" \
            >/dev/null
        hosts+=("$name")
    done
    for name in "${hosts[@]}"; do
        for ((i = 0; i < 180; i++)); do
            docker exec "$name" docker version >/dev/null 2>&1 && break
            sleep 0.5
        done
        docker exec "$name" docker version >/dev/null 2>&1 \
            || { docker exec "$name" cat /var/log/dockerd.log >&2; die "the dockerd of $name did not start"; }
    done
    {
        echo "[act_hosts]"
        for name in "${hosts[@]}"; do echo "$name actsim_users='[\"dev1\", \"dev2\"]'"; done
        printf '\n[act_hosts:vars]\nansible_connection=community.docker.docker\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n'
    } >"$work/inventory.ini"
    printf '[defaults]\nforks = %s\nretry_files_enabled = False\nlocalhost_warning = False\n' "$n" >"$work/ansible.cfg"
}

# play PLAYBOOK: run it, print its duration in ns; stop with its output when it fails.
play() {
    local start end
    start=$(now_ns)
    if ! ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/ansible-home ANSIBLE_NOCOLOR=1 \
        PATH="$venv/bin:$PATH" "$venv/bin/ansible-playbook" -i "$work/inventory.ini" "$1" \
        -e "@$work/vars.json" >"$work/play.log" 2>&1; then
        cat "$work/play.log" >&2
        die "ansible-playbook $1 failed"
    fi
    end=$(now_ns)
    echo $((end - start))
}

if [ ! -d "$venv" ] || [ ! -f "$rootfs" ]; then
    bash "$root/scripts/fixtures.sh"
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
actsim=$root/target/release/actsim
work=$(mktemp -d)

# The controller's archive, checksums.txt and lock.
asset=act_Linux_$(uname -m | sed 's/aarch64/arm64/').tar.gz
mkdir -p "$work/archives" "$work/pack"
cp "$root/.cache/fixtures/act" "$work/pack/act"
chmod 755 "$work/pack/act"
tar -C "$work/pack" -czf "$work/archives/$asset" act
archive_sha=$(sha256sum "$work/archives/$asset" | cut -d' ' -f1)
echo "$archive_sha  $asset" >"$work/archives/checksums.txt"
"$actsim" lock -o "$work/actsim.lock" --act-archive "$work/archives/$asset" 2>/dev/null
printf '{"actsim_binary": "%s", "actsim_lock": "%s", "actsim_act_archive_dir": "%s", "archive_sha": "%s", "asset": "%s"}\n' \
    "$actsim" "$work/actsim.lock" "$work/archives" "$archive_sha" "$asset" >"$work/vars.json"

# The same job as plain tasks.
cat >"$work/plain.yml" <<'EOF'
- name: Set up act with plain tasks
  hosts: act_hosts
  gather_facts: false
  vars:
    users: ["dev1", "dev2"]
    image: bench/act:0.2.89
  tasks:
    - name: Copy the archive
      ansible.builtin.copy:
        src: "{{ actsim_act_archive_dir }}/{{ asset }}"
        dest: "/var/cache/actsim/archives/{{ asset }}"
        mode: "0644"
    - name: Verify it
      ansible.builtin.shell: echo "{{ archive_sha }}  /var/cache/actsim/archives/{{ asset }}" | sha256sum -c -
      changed_when: false
    - name: Extract act
      ansible.builtin.command: tar -xzf /var/cache/actsim/archives/{{ asset }} -C /usr/local/bin act
      args:
        creates: /usr/local/bin/act
    - name: Join the socket's group
      ansible.builtin.command: usermod -aG docker {{ item }}
      loop: "{{ users }}"
      changed_when: false
    - name: Build the image
      ansible.builtin.shell: |
        docker image inspect {{ image }} >/dev/null 2>&1 && exit 0
        d=$(mktemp -d) && cp /usr/local/bin/act "$d/act" && mkdir -m 1777 "$d/tmp"
        tar -C "$d" -c act tmp | docker import - {{ image }} >/dev/null && rm -rf "$d" && echo built
      register: built
      changed_when: "'built' in built.stdout"
    - name: The socket's gid
      ansible.builtin.command: stat -c %g /var/run/docker.sock
      register: gid
      changed_when: false
    - name: Write docker-compose.yml
      ansible.builtin.copy:
        dest: "/home/{{ item }}/.config/actsim/docker-compose.yml"
        content: "services:\n  actions-simulator:\n    image: {{ image }}\n    group_add: ['${DOCKER_GID}']\n"
        mode: "0644"
      loop: "{{ users }}"
    - name: Write .env
      ansible.builtin.copy:
        dest: "/home/{{ item }}/.config/actsim/.env"
        content: "DOCKER_GID={{ gid.stdout }}\n"
        mode: "0600"
      loop: "{{ users }}"
    - name: Write actrc
      ansible.builtin.copy:
        dest: "/home/{{ item }}/.config/act/actrc"
        content: "-P ubuntu-latest=catthehacker/ubuntu:act-latest\n"
        mode: "0644"
      loop: "{{ users }}"
    - name: A container round trip
      ansible.builtin.command: docker run --rm -e HOME=/tmp {{ image }} /act --version
      loop: "{{ users }}"
      changed_when: false
    - name: The same with the socket mounted, as the user with the socket's group
      ansible.builtin.command: >-
        docker run --rm -u 1000:1000 --group-add {{ gid.stdout }} -e HOME=/tmp
        -v /var/run/docker.sock:/var/run/docker.sock {{ image }} /act --bug-report
      loop: "{{ users }}"
      changed_when: false
EOF

docker network create --internal "$prefix" >/dev/null
docker import "$rootfs" "$image" >/dev/null

printf '%-6s %-8s %-10s %-10s %-8s\n' hosts play actsim plain ratio
for n in 1 3; do
    r1=() p1=() r2=() p2=()
    for ((k = 0; k < rounds; k++)); do
        start_hosts "$n"
        r1+=("$(play "$root/ansible/playbook.yml")")
        r2+=("$(play "$root/ansible/playbook.yml")")
        start_hosts "$n"
        for h in "${hosts[@]}"; do
            docker exec "$h" sh -c 'mkdir -p /var/cache/actsim/archives; for u in dev1 dev2; do mkdir -p /home/$u/.config/actsim /home/$u/.config/act; done'
        done
        p1+=("$(play "$work/plain.yml")")
        p2+=("$(play "$work/plain.yml")")
    done
    a1=$(printf '%s\n' "${r1[@]}" | median)
    b1=$(printf '%s\n' "${p1[@]}" | median)
    a2=$(printf '%s\n' "${r2[@]}" | median)
    b2=$(printf '%s\n' "${p2[@]}" | median)
    printf '%-6s %-8s %-10s %-10s %-8s\n' "$n" 1 "$(secs "$a1")" "$(secs "$b1")" "$(ratio "$a1" "$b1")"
    printf '%-6s %-8s %-10s %-10s %-8s\n' "$n" 2 "$(secs "$a2")" "$(secs "$b2")" "$(ratio "$a2" "$b2")"
done
