"""Package-manager logs: when a driver, CUDA or kernel package was installed, upgraded, removed.

apt writes /var/log/apt/history.log (apt-pkg/deb/dpkgpm.cc: ``Start-Date:``, ``Commandline:``,
then ``Install:``, ``Upgrade:``, ``Downgrade:``, ``Remove:``, ``Purge:`` lines listing
``name:arch (old, new)``); dnf writes /var/log/dnf.rpm.log (dnf/transaction.py FILE_ACTIONS:
``Upgrade:`` the new package, ``Upgraded:`` the old one, ``Installed:``, ``Erase:``...). Only the
last :data:`MAX_LOG_BYTES` of each log (and of its first rotation) is read: the changes a diff
asks about are recent, and a log can grow without limit. apt's logrotate rule (debian/
apt.logrotate: monthly, ``compress``, no ``delaycompress``) makes the first rotation
``history.log.1.gz``; a site that delays compression has ``history.log.1``: both are read.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zlib
from dataclasses import replace
from datetime import datetime

from gpudoctor.model.diff import PackageAction
from gpudoctor.model.times import utc_stamp
from gpudoctor.probe.base import ProbeContext

MAX_LOG_BYTES = 1 << 20
MAX_ACTIONS = 500
"""The most actions kept (the newest): an unattended host logs thousands over the years."""

MAX_GZIP_BYTES = 4 << 20
"""The largest compressed rotation read (a month of apt history is some tens of KiB)."""
MAX_INFLATED_BYTES = 64 << 20
"""The most a compressed rotation may inflate to: beyond, it is no apt log (a zip bomb)."""

APT_LOGS = (
    "/var/log/apt/history.log.1.gz",
    "/var/log/apt/history.log.1",
    "/var/log/apt/history.log",
)
DNF_LOGS = ("/var/log/dnf.rpm.log.1", "/var/log/dnf.rpm.log")
"""Oldest first, so that actions come out in time order."""

RELEVANT = re.compile(
    r"nvidia|cuda|cudnn|nccl|tensorrt|libnvinfer|dkms|fabricmanager|datacenter-gpu-manager"
    r"|^linux-(?:image|modules|headers)|^kernel(?:-core|-modules)?(?:$|-\d)",
    re.IGNORECASE,
)
"""Packages whose change can change what gpudoctor sees: the driver and its kernel module
(DKMS), CUDA, cuDNN, NCCL, TensorRT, the kernel itself."""

_APT_ACTIONS = {
    "Install": "install",
    "Upgrade": "upgrade",
    "Downgrade": "downgrade",
    "Remove": "remove",
    "Purge": "purge",
    "Reinstall": "reinstall",
}
_APT_PACKAGE = re.compile(r"(?<![^\s,()])([^\s,()]+) \(([^)]*)\)")
"""``name (versions)``, the name tried only from its first character: from every character of
a long run without `` (`` (a log's tail of NUL bytes after a crash), the search took
quadratic time, 29 s for 40,000 characters on the 2-core VM."""
_DNF_LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)\s+\S+\s+"
    r"(?P<action>Upgrade|Upgraded|Installed|Erase|Downgrade|Downgraded|Reinstall|Obsoleted)"
    r": (?P<nevra>\S+)\s*$"
)
_DNF_ACTIONS = {
    "Upgrade": "upgrade",
    "Installed": "install",
    "Erase": "remove",
    "Downgrade": "downgrade",
    "Reinstall": "reinstall",
    "Obsoleted": "remove",
}


def _read_regular(
    ctx: ProbeContext, absolute: str, *, last: int | None = None, most: int | None = None
) -> tuple[bytes, int] | None:
    """A regular file's bytes (its last ``last`` bytes where given) and its size; None when it
    is absent, unreadable, not a regular file, or larger than ``most``.

    Opened non-blocking: a log replaced by a FIFO must not hang the diff.
    """
    try:
        fd = os.open(ctx.path(absolute), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (most is not None and st.st_size > most):
            return None
        if last is not None and st.st_size > last:
            os.lseek(fd, st.st_size - last, os.SEEK_SET)
        chunks, left = [], st.st_size if last is None else last
        # up to the size fstat gave (a log growing meanwhile is read to where it stood)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    return b"".join(chunks), st.st_size


def read_tail(ctx: ProbeContext, absolute: str, limit: int = MAX_LOG_BYTES) -> str | None:
    """The last ``limit`` bytes of a regular file as text, or None (absent, unreadable, odd)."""
    got = _read_regular(ctx, absolute, last=limit)
    if got is None:
        return None
    data, size = got
    text = data.decode("utf-8", "replace")
    if size > limit:  # the first line was cut in the middle
        text = text.partition("\n")[2]
    return text


def read_gzip_tail(ctx: ProbeContext, absolute: str, limit: int = MAX_LOG_BYTES) -> str | None:
    """The last ``limit`` bytes of a gzip-compressed regular file, inflated, as text; None
    when it is absent, odd, larger than :data:`MAX_GZIP_BYTES`, damaged or a bomb."""
    got = _read_regular(ctx, absolute, most=MAX_GZIP_BYTES)
    if got is None:
        return None
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the gzip wrapper
    data, tail, total, cut = got[0], bytearray(), 0, False
    try:
        while data and not inflate.eof:
            out = inflate.decompress(data, 1 << 16)  # bounded: a bomb is stopped below
            data = inflate.unconsumed_tail
            total += len(out)
            if total > MAX_INFLATED_BYTES:
                return None
            tail += out
            if len(tail) > limit:
                del tail[: len(tail) - limit]
                cut = True
            if not out and not data:
                break
    except zlib.error:
        return None
    text = tail.decode("utf-8", "replace")
    return text.partition("\n")[2] if cut else text


def utc(value: str) -> str:
    """A log's time as ISO 8601 UTC (``2026-12-01T06:25:11Z``), as reports write theirs.

    apt writes this host's local time without a zone (``2026-12-01  06:25:11``); dnf an ISO
    time with its offset. A time that does not parse is kept as written.
    """
    text = "T".join(value.split())
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00 for Python 3.10's fromisoformat
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value.strip()
    # A naive time is local: astimezone() takes it as such.
    return utc_stamp(when)


def parse_apt_history(text: str, source: str) -> list[PackageAction]:
    """The relevant package actions of an apt history.log, oldest first."""
    actions: list[PackageAction] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                fields[key.strip()] = value.strip()
        when = fields.get("Start-Date")
        if not when:
            continue
        command = fields.get("Commandline")
        for key, action in _APT_ACTIONS.items():
            for name, versions in _APT_PACKAGE.findall(fields.get(key, "")):
                package = name.split(":", 1)[0]
                if not RELEVANT.search(package):
                    continue
                parts = [v.strip() for v in versions.split(",")]
                if action in ("upgrade", "downgrade") and len(parts) >= 2:
                    old, new = parts[0], parts[1]
                elif action in ("remove", "purge"):
                    old, new = parts[0] or None, None
                else:
                    old, new = None, parts[0] or None
                actions.append(
                    PackageAction(
                        when=utc(when),
                        action=action,
                        package=package,
                        old_version=old,
                        new_version=new,
                        command=command,
                        source=source,
                    )
                )
    return actions


def _split_nevra(nevra: str) -> tuple[str, str]:
    """``nvidia-driver-3:590.48.01-1.el9.x86_64`` -> (``nvidia-driver``, ``3:590.48.01-1.el9``)."""
    base = nevra.rsplit(".", 1)[0] if "." in nevra else nevra  # the architecture
    parts = base.rsplit("-", 2)
    if len(parts) < 3:
        return nevra, ""
    return parts[0], f"{parts[1]}-{parts[2]}"


def parse_dnf_rpm_log(text: str, source: str) -> list[PackageAction]:
    """The relevant package actions of a dnf.rpm.log, oldest first.

    rpm installs the new package before it removes the old, so an ``Upgrade:`` line comes
    first and its ``Upgraded:`` line (the old version) after it.
    """
    actions: list[PackageAction] = []
    waiting: dict[str, int] = {}
    """package -> the index of its upgrade or downgrade that still lacks the old version."""
    for line in text.splitlines():
        found = _DNF_LINE.match(line.strip())
        if found is None:
            continue
        name, version = _split_nevra(found.group("nevra"))
        if not RELEVANT.search(name):
            continue
        verb = found.group("action")
        if verb in ("Upgraded", "Downgraded"):
            at = waiting.pop(name, None)
            if at is not None:
                actions[at] = replace(actions[at], old_version=version)
            continue
        action = _DNF_ACTIONS[verb]
        removing = action == "remove"
        if action in ("upgrade", "downgrade"):
            waiting[name] = len(actions)
        actions.append(
            PackageAction(
                when=utc(found.group("when")),
                action=action,
                package=name,
                old_version=version if removing else None,
                new_version=None if removing else version,
                source=source,
            )
        )
    return actions


def package_actions(ctx: ProbeContext | None = None) -> tuple[PackageAction, ...]:
    """The newest :data:`MAX_ACTIONS` relevant actions of this host's apt and dnf logs."""
    ctx = ctx or ProbeContext()
    found: list[PackageAction] = []
    for path in APT_LOGS:
        text = read_gzip_tail(ctx, path) if path.endswith(".gz") else read_tail(ctx, path)
        if text:
            found += parse_apt_history(text, path.removesuffix(".gz").removesuffix(".1"))
    for path in DNF_LOGS:
        text = read_tail(ctx, path)
        if text:
            found += parse_dnf_rpm_log(text, path.removesuffix(".1"))
    # A host that changed its rotation may hold one period twice (.1 and .1.gz).
    return tuple(dict.fromkeys(found))[-MAX_ACTIONS:]
