"""The cores a process may use: its CPUs, within its container's CPU quota (cgroup v2 and v1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fhir_resist import cores

CPUS = len(os.sched_getaffinity(0))


def _tree(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (tmp_path / "self").write_text(membership, encoding="utf-8")
    return root, tmp_path / "self"


@pytest.mark.parametrize(
    ("membership", "files", "quota"),
    [
        ("0::/\n", {"cpu.max": "200000 100000\n"}, 2.0),  # v2, the container's own namespace
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),  # v2, no quota
        ("0::/kubepods/pod1/c1\n", {"kubepods/pod1/c1/cpu.max": "150000 100000\n"}, 1.5),
        # an ancestor's quota is smaller than the process's own cgroup's
        (
            "0::/a/b\n",
            {"a/cpu.max": "50000 100000\n", "a/b/cpu.max": "400000 100000\n"},
            0.5,
        ),
        (
            "4:cpu,cpuacct:/docker/x\n2:memory:/docker/x\n",
            {
                "cpu,cpuacct/docker/x/cpu.cfs_quota_us": "300000\n",
                "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000\n",
            },
            3.0,
        ),
        (
            "1:cpu:/\n",
            {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
            None,
        ),  # v1, no quota
        ("0::/\n", {"cpu.max": "not numbers\n"}, None),
        ("garbage\n", {"cpu.max": "100000 100000\n"}, None),  # no line that names a cgroup
        ("0::/\n", {}, None),  # nothing to read
    ],
)
def test_the_quota_is_read_from_either_cgroup_version(
    tmp_path: Path, membership: str, files: dict[str, str], quota: float | None
) -> None:
    root, self_file = _tree(tmp_path, membership, files)
    assert cores.cpu_quota(root, self_file) == quota


def test_the_usable_cores_are_the_cpus_within_the_quota_rounded_up(tmp_path: Path) -> None:
    root, self_file = _tree(tmp_path, "0::/\n", {"cpu.max": "150000 100000\n"})
    assert cores.usable_cores(root, self_file) == min(CPUS, 2)
    root, self_file = _tree(tmp_path / "small", "0::/\n", {"cpu.max": "10000 100000\n"})
    assert cores.usable_cores(root, self_file) == 1  # a tenth of a CPU is still one process
    root, self_file = _tree(tmp_path / "none", "0::/\n", {"cpu.max": "max 100000\n"})
    assert cores.usable_cores(root, self_file) == CPUS


def test_a_process_without_cgroups_uses_its_cpus(tmp_path: Path) -> None:
    assert cores.usable_cores(tmp_path / "absent", tmp_path / "absent-self") == CPUS
