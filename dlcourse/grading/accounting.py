"""What a grading run's whole process tree uses: CPU time, memory, and whether it was starved of a CPU.

Limits are measured on the tree, never per process, and in CPU time, never wall time: a grade must not depend
on what else the machine runs. Where the grader may create control groups (root, or a delegated cgroup v2
subtree) each run gets its own: CPU time from cpuacct / cpu.stat, and one memory limit for all its processes
together (the kernel's OOM killer acts inside the group only). Elsewhere the tree is found in /proc: CPU time
is the sum over its live processes (their reaped children included), and memory is limited per process only
(RLIMIT_AS, set by the runner) -- :func:`describe` says which.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

CGROUP_PREFIX = "dlcourse-run-"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STARVED_WAIT_RATIO = 0.5  # waiting for a CPU at least half as long as running: the machine was overloaded


def _mounts() -> dict[str, Path]:
    """Mount points of the cgroup hierarchies: 'memory' and 'cpuacct' (v1), 'unified' (v2)."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        if parts[2] == "cgroup2":
            found.setdefault("unified", Path(parts[1]))
        elif parts[2] == "cgroup":
            for option in parts[3].split(","):
                if option in ("memory", "cpuacct"):
                    found.setdefault(option, Path(parts[1]))
    return found


def _own_path(controller: str) -> str:
    """This process's cgroup in a hierarchy ('' for v2), as /proc/self/cgroup gives it."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and number == "0"):
            return path.lstrip("/")
    return ""


class Tree:
    """The process tree of one run; join() is called in the run's first process before it executes."""

    kind = "proc"

    def __init__(self, memory_bytes: int):
        self.memory_bytes = memory_bytes
        self.root_pid: int | None = None
        self.peak_cpu = 0.0

    def join(self) -> None:
        """In the child, before exec: nothing to do when the tree is found through /proc."""

    def started(self, pid: int) -> None:
        self.root_pid = pid

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the tree so far; never decreases."""
        total = 0.0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
        self.peak_cpu = max(self.peak_cpu, total)
        return self.peak_cpu

    def _pids(self) -> list[int]:
        if self.root_pid is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        tree, queue = [], [self.root_pid]
        while queue:
            pid = queue.pop()
            tree.append(pid)
            queue += children.get(pid, [])
        return tree

    def _threads(self) -> list[int]:
        threads = []
        for pid in self._pids():
            try:
                threads += [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                continue
        return threads

    def schedule(self) -> tuple[int, int]:
        """(ns running, ns waiting for a CPU) of the tree's live threads over their lives (/proc/*/schedstat)."""
        running = waiting = 0
        for tid in self._threads():
            try:
                run, wait, _ = Path(f"/proc/{tid}/schedstat").read_text().split()
            except (OSError, ValueError):
                continue
            running, waiting = running + int(run), waiting + int(wait)
        return running, waiting

    def starved(self, since: tuple[int, int], wall_seconds: float) -> bool:
        """Whether, since the schedule since, the tree wanted a CPU for at least half of wall_seconds and
        waited for one at least half as long as it ran: the machine, not the code, held it up."""
        running, waiting = (now - before for now, before in zip(self.schedule(), since))
        wanted = (running + waiting) / 1e9
        return wanted >= 0.5 * wall_seconds and waiting >= STARVED_WAIT_RATIO * running

    def out_of_memory(self) -> bool:
        """Whether the memory limit of the whole tree killed a process (never, without a control group)."""
        return False

    def close(self) -> None:
        """Remove what the tree left behind."""


class CgroupTree(Tree):
    """A run in its own control groups: v1 memory + cpuacct, or one v2 group with memory and cpu."""

    def __init__(self, memory_bytes: int, folders: dict[str, Path], version: int):
        super().__init__(memory_bytes)
        self.folders, self.version = folders, version
        self.kind = f"cgroup v{version}"
        if version == 1:
            self._write("memory", "memory.limit_in_bytes", memory_bytes)
            self._write("memory", "memory.memsw.limit_in_bytes", memory_bytes, optional=True)
        else:
            self._write("unified", "memory.max", memory_bytes)
            self._write("unified", "memory.swap.max", 0, optional=True)

    @classmethod
    def create(cls, memory_bytes: int) -> "CgroupTree | None":
        """Control groups for a run, or None when this machine does not let the grader make them."""
        mounts, name = _mounts(), f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        attempts = []
        if "memory" in mounts and "cpuacct" in mounts:
            attempts.append((1, {c: mounts[c] / _own_path(c) / name for c in ("memory", "cpuacct")}))
        if "unified" in mounts:
            attempts.append((2, {"unified": mounts["unified"] / _own_path("") / name}))
        for version, folders in attempts:
            made: list[Path] = []
            try:
                for folder in folders.values():
                    folder.mkdir()
                    made.append(folder)
                if version == 2 and not (folders["unified"] / "memory.max").exists():
                    raise OSError("no memory controller in the v2 group")
                return cls(memory_bytes, folders, version)
            except OSError:
                for folder in made:
                    _remove(folder)
        return None

    def _write(self, controller: str, name: str, value: int, optional: bool = False) -> None:
        try:
            (self.folders[controller] / name).write_text(str(value))
        except OSError:
            if not optional:
                raise

    def join(self) -> None:
        for folder in self.folders.values():
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def cpu_seconds(self) -> float:
        try:
            if self.version == 1:
                total = int((self.folders["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
            else:
                stat = dict(line.split() for line in (self.folders["unified"] / "cpu.stat").read_text().splitlines())
                total = int(stat["usage_usec"]) / 1e6
        except (OSError, KeyError, ValueError):
            return self.peak_cpu
        self.peak_cpu = max(self.peak_cpu, total)
        return self.peak_cpu

    def _threads(self) -> list[int]:
        name, folder = ("tasks", self.folders["cpuacct"]) if self.version == 1 else \
            ("cgroup.threads", self.folders["unified"])
        try:
            return [int(t) for t in (folder / name).read_text().split()]
        except (OSError, ValueError):
            return []

    def out_of_memory(self) -> bool:
        folder, name = (self.folders["memory"], "memory.oom_control") if self.version == 1 else \
            (self.folders["unified"], "memory.events")
        try:
            counters = dict(line.split() for line in (folder / name).read_text().splitlines() if " " in line)
        except (OSError, ValueError):
            return False
        return int(counters.get("oom_kill", "0")) > 0

    def close(self) -> None:
        for folder in self.folders.values():
            _remove(folder)


def _remove(folder: Path) -> None:
    """rmdir a control group; its last processes may take a moment to leave it."""
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def new_tree(memory_bytes: int) -> Tree:
    """The accounting for one run: its own control groups where possible, else /proc."""
    return CgroupTree.create(memory_bytes) or Tree(memory_bytes)


def describe() -> str:
    """How memory and CPU time are accounted on this machine, in words for the report."""
    probe = CgroupTree.create(2**30)
    if probe is None:
        return ("CPU time counted over each run's process tree (/proc); memory limited per process "
                "(no control group can be created here)")
    probe.close()
    return f"CPU time and memory counted over each run's whole process tree ({probe.kind})"
