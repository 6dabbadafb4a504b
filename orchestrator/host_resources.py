"""The machine's disk and memory for the morning checklist's step 7 (the playbook's `df -h` and
`free -h`), read from the kernel directly so the numbers are the ones those tools print.

`disk_usage()` gives one row per filesystem holding the given paths (the data directory, the
project, the dbt target...), with df's columns: size, used, available and Use% (used against
used + available, i.e. without the blocks reserved for root). `memory()` reads /proc/meminfo:
used is total minus MemAvailable, what `free` calls available; it is None off Linux.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNITS = ("K", "M", "G", "T", "P", "E")
PROC_MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class DiskUsage:
    """One filesystem, like a line of `df`: bytes, and Use% (None for a size-0 filesystem)."""

    mount_point: Path
    paths: tuple[Path, ...]  # the requested paths on this filesystem
    total_bytes: int
    used_bytes: int
    free_bytes: int  # available to unprivileged users (df's "Avail")
    used_pct: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mount_point": str(self.mount_point),
            "paths": [str(path) for path in self.paths],
            "total_bytes": self.total_bytes,
            "used_bytes": self.used_bytes,
            "free_bytes": self.free_bytes,
            "used_pct": self.used_pct,
            "size": human_bytes(self.total_bytes),
            "used": human_bytes(self.used_bytes),
            "free": human_bytes(self.free_bytes),
        }


@dataclass(frozen=True)
class MemoryUsage:
    """Physical memory, like the Mem line of `free`: used = total - available."""

    total_bytes: int
    available_bytes: int
    used_bytes: int
    used_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "available_bytes": self.available_bytes,
            "used_bytes": self.used_bytes,
            "used_pct": self.used_pct,
            "total": human_bytes(self.total_bytes),
            "available": human_bytes(self.available_bytes),
            "used": human_bytes(self.used_bytes),
        }


def human_bytes(n: int) -> str:
    """`n` bytes as `df -h` / `free -h` do, in powers of 1024 with one decimal: `1.5G`."""
    if n < 0:
        raise ValueError(f"a byte count cannot be negative: {n}")
    if n < 1024:
        return f"{n}B"
    value = float(n)
    for unit in UNITS:
        value /= 1024
        if round(value, 1) < 1024 or unit == UNITS[-1]:
            return f"{value:.1f}{unit}"
    raise AssertionError("unreachable")


def existing_ancestor(path: Path) -> Path:
    """`path` made absolute, or its nearest existing parent when it does not exist."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding existing `path`: walk up while st_dev stays."""
    current = path.resolve()
    device = current.stat().st_dev
    while current != current.parent and current.parent.stat().st_dev == device:
        current = current.parent
    return current


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _filesystem(mount: Path, paths: tuple[Path, ...]) -> DiskUsage:
    stats = os.statvfs(mount)
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    free = stats.f_bavail * stats.f_frsize
    return DiskUsage(
        mount_point=mount,
        paths=paths,
        total_bytes=stats.f_blocks * stats.f_frsize,
        used_bytes=used,
        free_bytes=free,
        used_pct=_percent(used, used + free),
    )


def disk_usage(paths: Sequence[Path]) -> list[DiskUsage]:
    """One DiskUsage per distinct filesystem (by st_dev) among `paths`, in their order; a path
    that does not exist (yet) counts on the filesystem of its nearest existing parent."""
    by_device: dict[int, tuple[Path, list[Path]]] = {}
    for path in paths:
        existing = existing_ancestor(path)
        device = existing.stat().st_dev
        if device not in by_device:
            by_device[device] = (mount_point(existing), [])
        by_device[device][1].append(Path(path))
    return [_filesystem(mount, tuple(given)) for mount, given in by_device.values()]


def _meminfo_bytes(text: str) -> dict[str, int]:
    """/proc/meminfo's `Name:   123 kB` lines as bytes (kB there means KiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if not fields or not fields[0].isdigit():
            continue
        factor = 1024 if len(fields) > 1 and fields[1].lower() == "kb" else 1
        values[name.strip()] = int(fields[0]) * factor
    return values


def memory(meminfo: Path = PROC_MEMINFO) -> MemoryUsage | None:
    """Total, available and used memory from `meminfo`; None when the file is absent (not Linux)
    or has no MemTotal. Kernels before 3.14 lack MemAvailable: free + buffers + cache then."""
    try:
        values = _meminfo_bytes(meminfo.read_text())
    except FileNotFoundError:
        return None
    total = values.get("MemTotal", 0)
    if total <= 0:
        return None
    available = values.get("MemAvailable")
    if available is None:
        available = sum(values.get(name, 0) for name in ("MemFree", "Buffers", "Cached"))
    available = min(available, total)
    used = total - available
    return MemoryUsage(
        total_bytes=total,
        available_bytes=available,
        used_bytes=used,
        used_pct=round(100.0 * used / total, 1),
    )
