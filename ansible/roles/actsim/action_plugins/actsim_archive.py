# -*- coding: utf-8 -*-
# The actsim role's copy-mode check, on the controller: which release archive a host of
# architecture `machine` (`uname -m`) needs according to the lock, and whether the file in
# `archive_dir` has the lock's SHA-256. A missing platform, a missing file or another hash
# fails here, so a tampered archive never leaves the controller.
# What can go wrong: an unreadable or invalid lock (fails with its path), Python < 3.11 on
# the controller (no tomllib: a minimal reader of the lock's own layout is used).

from __future__ import annotations

import hashlib
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARCHES = {
    "x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64",
    "armv7l": "armv7", "armv7": "armv7", "armv6l": "armv6", "armv6": "armv6",
    "i686": "i386", "i386": "i386", "riscv64": "riscv64",
}


def read_lock(path):
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    try:
        import tomllib
        return tomllib.loads(data.decode("utf-8"))
    except ImportError:
        pass
    # The lock as `actsim lock` writes it: top-level keys, then [platforms."os/arch"] tables.
    lock, table = {"platforms": {}}, None
    for line in data.decode("utf-8").splitlines():
        line = line.strip()
        m = re.match(r'^\[platforms\."([^"]+)"\]$', line)
        if m:
            table = lock["platforms"].setdefault(m.group(1), {})
            continue
        m = re.match(r'^([a-z_0-9]+)\s*=\s*"?([^"]*)"?$', line)
        if m:
            (table if table is not None else lock)[m.group(1)] = m.group(2)
    return lock


def hashes_of(path):
    """SHA-256 (compared with the lock) and SHA-1 (for copy's transfer check) in one read."""
    h256, h1 = hashlib.sha256(), hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h256.update(chunk)
            h1.update(chunk)
    return h256.hexdigest(), h1.hexdigest()


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        lock_path, archive_dir = args["lock"], args["archive_dir"]
        machine = str(args["machine"]).strip()
        try:
            lock = read_lock(lock_path)
        except (OSError, ValueError) as e:
            raise AnsibleActionFail("cannot read the lock %s on the controller: %s; fix: write it with `actsim lock -o %s`" % (lock_path, e, lock_path))
        arch = ARCHES.get(machine)
        key = "linux/%s" % arch if arch else None
        entry = lock.get("platforms", {}).get(key) if key else None
        if not entry:
            raise AnsibleActionFail(
                "the lock %s has no entry for this host's architecture (uname -m: %s; it locks %s); fix: add it on the controller: actsim lock --act-version %s --platform linux/%s ..."
                % (lock_path, machine, ", ".join(sorted(lock.get("platforms", {}))) or "nothing",
                   lock.get("act_version", "VER"), arch or machine))
        asset, want = entry.get("asset", ""), str(entry.get("archive_sha256", "")).lower()
        src = os.path.join(archive_dir, asset)
        if not os.path.isfile(src):
            raise AnsibleActionFail(
                "%s is not on the controller (actsim_act_archive_dir); fix: put act %s's release archive %s there"
                % (src, lock.get("act_version", "?"), asset))
        got, sha1 = hashes_of(src)
        if got != want:
            raise AnsibleActionFail(
                "checksum mismatch for %s on the controller: the lock %s pins %s, the file has %s; nothing was copied to the host. fix: the archive is corrupt or was tampered with: fetch act %s's %s again from the release (or its mirror) into actsim_act_archive_dir"
                % (src, lock_path, want, got, lock.get("act_version", "?"), asset))
        result.update(changed=False, src=src, asset=asset, sha256=got, sha1=sha1,
                      act_version=lock.get("act_version"))
        return result
