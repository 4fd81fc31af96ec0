"""How many cores this process may use: the CPUs it may run on, and no more than its container's
CPU quota allows.

A container limited to two CPUs' worth of time on a 64-core host still sees 64 CPUs in its
affinity mask: the limit is a cgroup quota (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` over
``cpu.cfs_period_us`` in v1). Sized by the mask, ``serve`` would start 64 evaluator processes,
each loading the catalogue, to share two CPUs' time, and ``evaluate --all-patients`` 64 workers.
The quota, rounded up, is the limit here (as the JVM and Go's automaxprocs read it); a
quota that cannot be read is no limit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_SELF = Path("/proc/self/cgroup")


def usable_cores(root: Path = CGROUP_ROOT, membership: Path = _SELF) -> int:
    """The CPUs this process may run on, at most its cgroup's CPU quota (rounded up), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity
        cpus = os.cpu_count() or 1
    quota = cpu_quota(root, membership)
    return max(1, min(cpus, math.ceil(quota)) if quota is not None else cpus)


def cpu_quota(root: Path = CGROUP_ROOT, membership: Path = _SELF) -> float | None:
    """The CPUs' worth of time the process's cgroup (or an ancestor within the mount) may use,
    the smallest on the path; None when there is no quota or it cannot be read."""
    try:
        lines = membership.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    found: list[float] = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":  # cgroup v2: "0::/path"
            found += _along(root, path, _v2)
        elif "cpu" in controllers.split(","):  # cgroup v1: "4:cpu,cpuacct:/path"
            found += _along(root / controllers, path, _v1)
    return min(found) if found else None


def _along(mount: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The quotas of the cgroup at ``path`` and of its ancestors that are visible in the mount."""
    parts = [p for p in path.strip("/").split("/") if p]
    quotas = []
    for depth in range(len(parts), -1, -1):
        quota = read(mount.joinpath(*parts[:depth]))
        if quota is not None:
            quotas.append(quota)
    return quotas


def _v2(directory: Path) -> float | None:
    """``cpu.max``: "QUOTA PERIOD", or "max PERIOD" for none."""
    try:
        quota, period = (directory / "cpu.max").read_text(encoding="utf-8").split()[:2]
    except (OSError, ValueError):
        return None
    return _ratio(quota, period)


def _v1(directory: Path) -> float | None:
    """``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``; a quota of -1 is none."""
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text(encoding="utf-8").strip()
        period = (directory / "cpu.cfs_period_us").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max"
        return None
    return q / p if q > 0 and p > 0 else None
