"""Device-access probe: cgroup version and device list, /dev/nvidia* modes and an open of
/dev/nvidiactl, SELinux and AppArmor state."""

from __future__ import annotations

import json
import re
import shutil
import stat
import sys

from gpudoctor.model.report import DeviceAccessInfo, DeviceNode, Unavailable
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import script

OPEN_TIMEOUT_S = 5.0
"""Opening /dev/nvidiactl takes microseconds; a driver stuck in the kernel never answers."""
OPENED = ("/dev/nvidiactl",)
"""The one file opened: every NVIDIA client opens it first, and doing so starts no GPU (opening
/dev/nvidiaN may initialise one, which takes seconds on a GPU without persistence mode)."""
MAX_DEVICES_LINES = 64
SYSTEMCTL_TIMEOUT_S = 5.0
"""``systemctl show`` answers from systemd's memory at once; a stuck D-Bus never does."""
_UNIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@\\-]*\.(?:service|scope)$")
"""A unit name as a cgroup path spells it (``foo.service``, ``run-r1a2.scope``, escapes as
``\\x2d``); nothing that could read as an option."""


def cgroup_version(ctx: ProbeContext) -> str | None:
    """``v2`` when /sys/fs/cgroup is the unified hierarchy, ``v1`` when it holds controllers."""
    if ctx.path("/sys/fs/cgroup/cgroup.controllers").is_file():
        return "v2"
    if ctx.path("/sys/fs/cgroup").is_dir() and any(
        ctx.path(f"/sys/fs/cgroup/{c}").is_dir() for c in ("devices", "memory", "cpu")
    ):
        return "v1"
    return None


def devices_list(ctx: ProbeContext) -> tuple[str, ...]:
    """cgroup v1: the device rules of this process's cgroup (a container sees its own at the
    root of the devices hierarchy)."""
    own = ""
    for line in (ctx.read_text("/proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and "devices" in parts[1].split(","):
            own = parts[2].strip()
    for where in (f"/sys/fs/cgroup/devices{own}", "/sys/fs/cgroup/devices"):
        text = ctx.read_text(f"{where.rstrip('/')}/devices.list")
        if text is not None:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            return tuple(lines[:MAX_DEVICES_LINES])
    return ()


def cgroup_path(ctx: ProbeContext) -> str | None:
    """cgroup v2: this process's cgroup, the ``0::`` line of /proc/self/cgroup."""
    for line in (ctx.read_text("/proc/self/cgroup") or "").splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or None
    return None


def system_unit(path: str | None) -> str | None:
    """The systemd system unit a cgroup v2 ``path`` lies in: its innermost ``.service`` or
    ``.scope`` under /system.slice (``/system.slice/slurmd.service`` -> ``slurmd.service``).
    None for a user's session (/user.slice, whose units cannot filter devices), the root, and
    a SLURM job's cgroup (``slurmstepd.scope/job_42/...``: SLURM's own filter, not the
    unit's)."""
    if not path or not path.startswith("/system.slice/") or "slurmstepd.scope/job_" in path:
        return None
    units = [p for p in path.split("/") if p.endswith((".service", ".scope"))]
    return units[-1] if units and _UNIT.match(units[-1]) else None


def unit_devices(ctx: ProbeContext, unit: str | None) -> tuple[str, ...] | None:
    """``DevicePolicy=...`` and each ``DeviceAllow=...`` line ``systemctl show`` prints for
    ``unit``: a cgroup v2 device filter is an eBPF program nothing can list, but systemd says
    what it built it from. None where there is no unit, no systemctl, or no answer."""
    systemctl = shutil.which("systemctl", path=ctx.env.get("PATH"))
    if unit is None or not systemctl:
        return None
    result = ctx.run(
        [systemctl, "show", "--property=DevicePolicy", "--property=DeviceAllow", unit],
        timeout_s=SYSTEMCTL_TIMEOUT_S,
        env=ctx.env,
    )
    if result.timed_out or result.returncode != 0:
        return None
    lines = tuple(
        ln.strip()
        for ln in result.stdout.splitlines()
        if ln.startswith(("DevicePolicy=", "DeviceAllow="))
    )
    # systemd prints DevicePolicy always; without it the answer is not systemd's
    if not any(ln.startswith("DevicePolicy=") for ln in lines):
        return None
    return lines[:MAX_DEVICES_LINES]


def selinux(ctx: ProbeContext) -> str:
    enforce = (ctx.read_text("/sys/fs/selinux/enforce") or "").strip()
    if enforce == "1":
        return "enforcing"
    if enforce == "0":
        return "permissive"
    return "disabled"


def apparmor(ctx: ProbeContext) -> bool | None:
    text = ctx.read_text("/sys/module/apparmor/parameters/enabled")
    if text is None:
        return False if ctx.path("/sys/module").is_dir() else None
    return text.strip().upper().startswith("Y")


def _stat_node(ctx: ProbeContext, path: str) -> DeviceNode:
    try:
        st = ctx.path(path).stat()
    except OSError:
        return DeviceNode(path=path)
    return DeviceNode(path=path, mode=stat.filemode(st.st_mode), uid=st.st_uid, gid=st.st_gid)


def open_results(ctx: ProbeContext, paths: list[str]) -> tuple[dict[str, str | None], str | None]:
    """Each path's open error (None: it opened), from a bounded child; or why none came."""
    if not paths:
        return {}, None
    argv = [sys.executable, script("device_open.py"), *(str(ctx.path(p)) for p in paths)]
    result = ctx.run(argv, timeout_s=OPEN_TIMEOUT_S, env=ctx.env)
    if result.timed_out:
        return {}, f"opening {', '.join(paths)} did not return within {OPEN_TIMEOUT_S:.0f} s"
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return {}, f"the open check printed no result: {result.start_error or result.stderr}"
    by_real = {str(ctx.path(p)): p for p in paths}
    return {by_real[k]: v for k, v in data.items() if k in by_real}, None


def probe_device_access(ctx: ProbeContext) -> DeviceAccessInfo:
    """Facts that decide whether this process may open the NVIDIA device files."""
    if not ctx.path("/sys").is_dir() and not ctx.path("/dev").is_dir():
        return DeviceAccessInfo()  # Windows: no device files, cgroups or security modules
    errors: list[Unavailable] = []
    try:
        names = sorted(p.name for p in ctx.path("/dev").glob("nvidia*") if not p.is_dir())
    except OSError:
        names = []
    nodes = [_stat_node(ctx, f"/dev/{n}") for n in names]
    wanted = [n.path for n in nodes if n.path in OPENED]
    opened, why = open_results(ctx, wanted)
    if why:
        errors.append(Unavailable(field="device_access.nodes", code="failed", message=why))
    nodes = [
        DeviceNode(
            path=n.path,
            mode=n.mode,
            uid=n.uid,
            gid=n.gid,
            open_error=opened.get(n.path),
            opened=(opened[n.path] is None) if n.path in opened else None,
        )
        for n in nodes
    ]
    version = cgroup_version(ctx)
    context = (ctx.read_text("/proc/self/attr/current") or "").strip("\x00\n ") or None
    own = cgroup_path(ctx) if version == "v2" else None
    return DeviceAccessInfo(
        cgroup_version=version,
        devices_list=devices_list(ctx) if version == "v1" else (),
        cgroup_path=own,
        unit_devices=unit_devices(ctx, system_unit(own)),
        nodes=tuple(nodes),
        selinux=selinux(ctx),
        apparmor=apparmor(ctx),
        security_context=context,
        errors=tuple(errors),
    )
