#!/usr/bin/python
# -*- coding: utf-8 -*-
# The actsim role's module: runs `actsim setup` or `actsim uninstall` once per user on the
# host and turns each run into Ansible's terms: changed, a one-line failure per user
# (user, exit code, reason, fix), warnings (actsim's `warning:` lines, kept files, check
# warnings) and the file diffs for --diff. stdout is parsed only when it is JSON; stderr is
# always kept, so a crash or a panic shows its own words instead of a JSON error.
# What can go wrong: actsim missing or not executable (reported per user, exit 127), a run
# that exceeds the timeout (killed, reported with exit 124).

from __future__ import annotations

DOCUMENTATION = r"""
module: actsim_run
short_description: Run actsim setup or uninstall for each user and report it
description:
  - Runs C(actsim setup --yes --format json --user U) (or C(uninstall)) once per user.
  - Part of the actsim role; its action plugin prints one line per failure.
options:
  actsim:
    description: Path of the actsim binary on the host.
    type: path
    required: true
  command:
    description: C(setup) or C(uninstall).
    type: str
    choices: [setup, uninstall]
    default: setup
  users:
    description: The users to run it for.
    type: list
    elements: str
    required: true
  args:
    description: Further arguments (after C(--yes --format json)).
    type: list
    elements: str
    default: []
  environment:
    description: Extra environment variables for actsim.
    type: dict
    default: {}
  timeout:
    description: Seconds one user's run may take before it is killed.
    type: int
    default: 900
author: actsim
"""

import json
import os
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule

# Flags in actsim's hints, and the role variable an operator sets instead.
ROLE_VARS = [
    ("--allow-http", "actsim_allow_http: true"),
    ("--act-base-url", "actsim_act_base_url"),
    ("--act-archive", "actsim_act_archive_dir"),
    ("--ca-cert", "actsim_ca_cert"),
    ("--docker-group", "actsim_docker_group"),
    ("--platform-image", "actsim_platform_image"),
    ("--act-arg", "actsim_act_args"),
    ("--timeout", "actsim_timeout"),
    ("--act-lock", "actsim_lock"),
]


def for_role(text):
    """Name the role's variable beside each actsim flag a hint mentions."""
    seen = set()
    for flag, var in ROLE_VARS:
        if re.search(re.escape(flag) + r"(?![-\w])", text) and var not in seen:
            seen.add(var)
    if seen:
        text += " (role: set " + ", ".join(sorted(seen)) + ")"
    return text


def one_line(text, limit=600):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_json(stdout):
    s = stdout.strip()
    if not s.startswith("{"):
        return None
    try:
        doc = json.loads(s)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def stderr_lines(stderr, prefix):
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith(prefix):
            out.append(line[len(prefix):].strip())
    return out


def run_one(module, user):
    p = module.params
    argv = [p["actsim"], p["command"], "--yes", "--format", "json", "--user", user]
    argv += p["args"]
    if module.check_mode:
        argv.append("--dry-run")
    env = dict(os.environ)
    env.update({k: str(v) for k, v in p["environment"].items()})
    env["NO_COLOR"] = "1"
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
            timeout=p["timeout"], check=False,
        )
        rc = proc.returncode
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, stdout = 124, (e.stdout or b"").decode("utf-8", "replace")
        stderr = (e.stderr or b"").decode("utf-8", "replace")
        stderr += "\nerror: actsim did not finish within %ss (actsim_run_timeout)" % p["timeout"]
    except OSError as e:
        rc, stdout, stderr = 127, "", "error: cannot run %s: %s" % (p["actsim"], e)
    doc = parse_json(stdout)
    r = {"user": user, "rc": rc, "argv": argv, "stderr": stderr[-8000:], "json": doc}
    if doc is None:
        r["stdout"] = stdout[-4000:]
    return r


def reason_of(r):
    """(reason, fix) of a failed run: the JSON's reason, else stderr's error/hint lines."""
    doc = r["json"] or {}
    errors = stderr_lines(r["stderr"], "error:")
    hints = stderr_lines(r["stderr"], "hint:")
    reason = doc.get("reason") or "; ".join(errors)
    if not reason:
        failed = [s for s in doc.get("steps", []) if s.get("status") == "failed"]
        reason = "; ".join("%s: %s" % (s.get("id"), s.get("summary")) for s in failed)
    if not reason:
        tail = [l for l in r["stderr"].splitlines() if l.strip()]
        reason = " / ".join(tail[-3:]) if tail else "no output (stdout was %s)" % (
            "JSON" if r["json"] is not None else "not JSON")
    fix = ""
    if "fix:" not in reason and hints:
        fix = "; ".join(hints)
    if not fix and "fix:" not in reason:
        fixes = [f for c in doc.get("checks", []) if c.get("status") == "fail"
                 for f in c.get("fix", [])]
        fix = "; ".join(fixes)
    return reason, fix


def main():
    module = AnsibleModule(
        argument_spec=dict(
            actsim=dict(type="path", required=True),
            command=dict(type="str", choices=["setup", "uninstall"], default="setup"),
            users=dict(type="list", elements="str", required=True),
            args=dict(type="list", elements="str", default=[]),
            environment=dict(type="dict", default={}),
            timeout=dict(type="int", default=900),
        ),
        supports_check_mode=True,
    )
    p = module.params
    changed = False
    failures = []
    warnings = []
    diffs = []
    results = []
    check_warnings = {}
    key = "would_change" if module.check_mode else "changed"
    for user in p["users"]:
        r = run_one(module, user)
        doc = r["json"] or {}
        step_changed = [s["id"] for s in doc.get("steps", []) if s.get(key)]
        user_changed = bool(doc.get(key)) or bool(step_changed)
        changed = changed or (r["rc"] == 0 and user_changed)
        for w in stderr_lines(r["stderr"], "warning:"):
            warnings.append("%s: %s" % (user, for_role(w)))
        for s in doc.get("steps", []):
            summary = s.get("summary", "")
            if summary.startswith("kept your edited") and not any(
                    "kept your edited" in w for w in warnings if w.startswith(user + ":")):
                warnings.append("%s: %s (%s left it; compare and merge, or remove it and rerun)"
                                % (user, summary, p["command"]))
            if s.get("diff"):
                diffs.append({"prepared": "# %s: %s %s\n%s" % (user, s.get("id"), summary, s["diff"])})
        for k in doc.get("kept", []):
            warnings.append("%s: kept %s: %s" % (user, k.get("path"), k.get("reason")))
        for c in doc.get("checks", []):
            if c.get("status") == "warn":
                w = check_warnings.setdefault(c.get("id"), {"users": [], "check": c})
                w["users"].append(user)
        if r["rc"] != 0 or (r["json"] is not None and doc.get("ok") is False):
            reason, fix = reason_of(r)
            line = "actsim %s --user %s failed (exit %s): %s" % (p["command"], user, r["rc"], one_line(for_role(reason)))
            if fix:
                line += "; fix: " + one_line(for_role(fix), 300)
            failures.append(line)
        results.append({
            "user": user, "rc": r["rc"], "changed": r["rc"] == 0 and user_changed,
            "steps_changed": step_changed, "ok": doc.get("ok"),
            "stderr": r["stderr"], "stdout_not_json": r.get("stdout"),
        })
    # A check that warns for several users is one warning naming them.
    for cid, w in check_warnings.items():
        c = w["check"]
        fix = "; ".join(c.get("fix", []))
        warnings.append("%s: check %s: %s%s" % (
            ", ".join(w["users"]), cid, one_line(c.get("summary", ""), 300),
            (" (fix: %s)" % one_line(fix, 300)) if fix else ""))
    # Deduplicate repeated warnings (the same check for every user) keeping order.
    uniq = []
    for w in warnings:
        if w not in uniq:
            uniq.append(w)
    out = dict(changed=changed, results=results, failures=failures, actsim_warnings=uniq)
    if diffs:
        out["diff"] = diffs
    if failures:
        module.fail_json(msg="\n".join(failures), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
