# -*- coding: utf-8 -*-
# The actsim role's action plugin for actsim_run: runs the module on the host, then prints
# each failure on its own line naming the host (`HOST: actsim setup --user U failed (exit
# N): reason; fix: ...`) and turns actsim's warnings into Ansible warnings naming the host.
# What can go wrong: nothing of its own; the module's result is passed on unchanged apart
# from the warnings and a short msg.

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(
            module_name="actsim_run", module_args=self._task.args, task_vars=task_vars))
        host = task_vars.get("inventory_hostname", "?") if task_vars else "?"
        warnings = result.setdefault("warnings", [])
        for w in result.get("actsim_warnings", []):
            warnings.append("%s: %s" % (host, w))
        failures = result.get("failures") or []
        for line in failures:
            display.display("%s: %s" % (host, line), color="red", stderr=True)
        result.pop("actsim_warnings", None)
        if failures:
            result["failed"] = True
            result["msg"] = "%d of %d users failed on %s (one line each above)" % (
                len(failures), len(self._task.args.get("users") or []), host)
            if display.verbosity < 1:
                # The lines above carry the reason and fix; -v shows each run's stderr.
                result.pop("results", None)
        return result
