"""Running the notebook runner in a bubblewrap sandbox: limits, a watchdog, and nothing of the course in view.

The sandbox sees the system folders, the Python installation, the course's virtual environment and the
``dlcourse`` package folder, all read-only, and its own scratch folder read-write (mounted at /sandbox, with
/tmp inside it). Not the rest of the checkout: no solutions/, grading/ (gradebook, other submissions,
autograded notebooks), tests/ or exercises/. No network (--unshare-net), its own process tree
(--unshare-pid, killed as a whole when the grader kills bwrap or dies: --die-with-parent).

As root, bwrap runs without a user namespace and the runner switches at once to an unprivileged uid leased
for this sandbox alone, so the process-count limit (RLIMIT_NPROC counts per uid) holds per sandbox; as
another user, --unshare-user gives each sandbox its own user namespace, which the kernel counts separately.
The runner sets the memory (RLIMIT_AS), file size, open file and process limits before it reads the
submission. The grader enforces the time limits from outside, as CPU time of the run's whole process tree
(:mod:`accounting`: a control group of its own where one can be made, which also limits the memory of all
the sandbox's processes together), with a generous wall-clock backstop, and kills the whole tree. The
course's locked cells are not charged to the student; a run stopped by something that is not the
submission's doing comes back with a retry reason instead of a grade. Every checks module is covered by its
stub in the sandbox (:mod:`sandbox_view`).
"""
from __future__ import annotations

import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from .. import paths
from . import accounting, channel

GIB, MIB = 2**30, 2**20
SANDBOX_ROOT = Path("/sandbox")
SCRATCH_FOLDERS = ("work", "tmp", "home", "out")
# Unprivileged uids leased to sandboxes when grading as root: far above the uids of real accounts.
SANDBOX_UIDS = range(1_900_000, 1_900_512)
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/fonts")
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32")
STDERR_KEPT = 4000
# Shared memory for semaphores (multiprocessing, joblib): a small tmpfs, so that it cannot hold a memory bomb.
SHM_BYTES = 64 * MIB
POLL_SECONDS = 0.25


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here; the message says what to do."""


def default_cell_timeout() -> float:
    """Execute.timeout from grading/nbgrader_config.py: the same cell limit as plain nbgrader."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(paths.grading_dir())).load_config()
    return float(config.Execute.get("timeout", 120))


@dataclass(frozen=True)
class Limits:
    """What one notebook run may use. Times are CPU seconds of the run's whole process tree.

    The wall clock only backs them up, generously (wall_factor times the CPU limit, plus wall_margin): a run
    stopped by it while its processes were waiting for a CPU was stopped by the machine, not by the student.
    """

    memory_bytes: int = 6 * GIB  # all processes of a run together where control groups can be made
    processes: int = 64  # threads count too (TensorFlow starts a few; fewer processes keep a fork bomb short)
    cell_seconds: float = field(default_factory=default_cell_timeout)
    notebook_seconds: float = 900.0  # the student's cells together
    setup_seconds: float = 600.0  # each locked cell of the course: never charged to the student
    file_bytes: int = 256 * MIB
    open_files: int = 1024
    output_chars: int = 100_000  # per stream and cell; the rest is cut with a note
    kill_grace_seconds: float = 10.0  # past a limit, the watchdog kills what the alarm could not stop
    wall_factor: float = 5.0
    wall_margin_seconds: float = 60.0

    def for_runner(self) -> dict:
        """The limits the runner applies itself."""
        kept = ("memory_bytes", "processes", "cell_seconds", "setup_seconds", "file_bytes", "open_files",
                "output_chars")
        return {k: v for k, v in asdict(self).items() if k in kept}

    def wall(self, cpu_seconds: float) -> float:
        """The wall-clock backstop of a CPU-time limit."""
        return cpu_seconds * self.wall_factor + self.wall_margin_seconds


@dataclass(frozen=True)
class Isolation:
    """How submissions run: in bubblewrap, or (only when the instructor says so) without any sandbox."""

    sandboxed: bool

    def describe(self) -> str:
        if self.sandboxed:
            return "each submission ran in a bubblewrap sandbox (no network, no course files, limits)"
        return "UNSAFE: submissions ran WITHOUT a sandbox (--unsafe-no-sandbox): no isolation from the course files"


def choose_isolation(allow_unsafe: bool) -> Isolation:
    """Bubblewrap when it works here; otherwise no sandbox if allowed, else SandboxUnavailable."""
    problem = sandbox_problem()
    if problem is None:
        return Isolation(True)
    if allow_unsafe:
        return Isolation(False)
    raise SandboxUnavailable(f"{problem}; grading runs untrusted code only in a sandbox. Install bubblewrap "
                             "(`sudo apt-get install bubblewrap`, or `bash run.sh setup`), or pass "
                             "--unsafe-no-sandbox to grade without isolation.")


def sandbox_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, or None when a trial sandbox runs."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    with scratch_folder(None, Isolation(True), None, {}, None) as scratch:
        command = bwrap_command(scratch.host, [sys.executable, "-I", "-c", "pass"], {})
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        return f"bubblewrap cannot create a sandbox here ({(result.stderr.strip() or 'no message')[:200]})"
    return None


# ---------------------------------------------------------------------------------------------------------
# The command line.
# ---------------------------------------------------------------------------------------------------------

def bwrap_command(scratch: Path, argv: list[str], env: dict[str, str], overlays: tuple[str, ...] = ()) -> list[str]:
    """The bwrap command that runs argv with scratch mounted read-write at /sandbox and nothing else writable.

    overlays: more bwrap mount arguments, applied over the Python folders (the checks' stubs)."""
    command = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
               "--die-with-parent", "--new-session", "--clearenv"]
    if os.geteuid() == 0:  # the runner switches to a leased uid at once (see dlcourse.grading.runner)
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-user"]
    command += _system_mounts()
    # /tmp first: the Python folders mounted next stay visible when the course itself lives under /tmp.
    command += ["--bind", str(scratch / "tmp"), "/tmp"]
    read_only = _python_folders()
    command += _parent_folders(read_only)
    for folder in read_only:
        command += ["--ro-bind", str(folder), str(folder)]
    command += list(overlays)
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
                "--bind", str(scratch), str(SANDBOX_ROOT),
                "--chdir", str(SANDBOX_ROOT / "work")]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return command + ["--", *argv]


def _system_mounts() -> list[str]:
    """System folders as the host has them (real folders read-only, merged-/usr links as links)."""
    mounts: list[str] = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            mounts += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            mounts += ["--ro-bind", folder, folder]
    for file in ETC_FILES:
        mounts += ["--ro-bind-try", file, file]
    return mounts


def _python_folders() -> list[Path]:
    """The Python installation, the virtual environment and the dlcourse package folder, outside /usr."""
    package = Path(__file__).resolve().parent.parent
    candidates = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package}
    return sorted(f for f in candidates if not any(f.is_relative_to(s) for s in SYSTEM_FOLDERS))


def _parent_folders(folders: list[Path]) -> list[str]:
    """Create the sandbox's parent folders of the mounts traversable (bwrap would make them 0700)."""
    parents = sorted({p for f in folders for p in f.parents if p != Path("/")} - set(folders), key=lambda p: len(p.parts))
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", str(parent))]


def runner_argv(job: Path) -> list[str]:
    """How the runner is started (isolated mode: no current folder on sys.path, no PYTHON* variables)."""
    return [sys.executable, "-I", "-B", "-m", "dlcourse.grading.runner", str(job)]


def runner_environment(scratch: "Scratch", threads: int) -> dict[str, str]:
    """The whole environment of a run: nothing is inherited from the grader."""
    home, thread_count = scratch.path("home"), str(threads)
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home), "TMPDIR": str(scratch.path("tmp")), "LANG": "C.UTF-8",
        "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OMP_NUM_THREADS": thread_count, "OPENBLAS_NUM_THREADS": thread_count, "MKL_NUM_THREADS": thread_count,
        "TF_NUM_INTRAOP_THREADS": thread_count, "TF_NUM_INTEROP_THREADS": thread_count,
    }


# ---------------------------------------------------------------------------------------------------------
# Scratch folders and sandbox uids.
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scratch:
    """One run's folder on the host, and the same folder as the runner sees it."""

    host: Path
    inside: Path

    def path(self, *parts: str) -> Path:
        return self.inside.joinpath(*parts)


@contextmanager
def scratch_folder(parent: Path | None, isolation: Isolation, uid: int | None,
                   data_files: dict[str, Path], font_cache: Path | None) -> Iterator[Scratch]:
    """A fresh scratch folder: work/ (the exercise's data files), tmp/, home/, out/; removed afterwards."""
    host = Path(tempfile.mkdtemp(prefix="dlcourse-run-", dir=parent))
    try:
        for name in SCRATCH_FOLDERS:
            (host / name).mkdir()
        for relative, source in data_files.items():
            (host / "work" / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, host / "work" / relative)
        if font_cache is not None:
            (host / "home" / ".matplotlib").mkdir()
            shutil.copy2(font_cache, host / "home" / ".matplotlib" / font_cache.name)
        if uid is not None:
            _give_to(host, uid)
        yield Scratch(host, SANDBOX_ROOT if isolation.sandboxed else host)
    finally:
        shutil.rmtree(host, ignore_errors=True)


def _give_to(host: Path, uid: int) -> None:
    """Let the sandbox uid write its folders (the scratch root itself stays the grader's)."""
    os.chmod(host, 0o755)
    for name in SCRATCH_FOLDERS:
        for folder, subfolders, files in os.walk(host / name):
            for entry in [folder, *(os.path.join(folder, f) for f in subfolders + files)]:
                os.chown(entry, uid, uid, follow_symlinks=False)


@contextmanager
def leased_uid(isolation: Isolation) -> Iterator[int | None]:
    """An unprivileged uid no other sandbox uses meanwhile (sandboxed runs as root; others keep their uid)."""
    if os.geteuid() != 0 or not isolation.sandboxed:
        yield None
        return
    folder = Path(tempfile.gettempdir()) / "dlcourse-sandbox-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    for uid in SANDBOX_UIDS:
        with open(folder / str(uid), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield uid
            return
    raise SandboxUnavailable(f"all {len(SANDBOX_UIDS)} sandbox uids are in use: use fewer --workers.")


# ---------------------------------------------------------------------------------------------------------
# Running with a watchdog.
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRecord:
    """How a run ended: completed (results written), or where and why it stopped.

    retry is set when the cause was not the submission's (the course's own cell, an overloaded machine, a
    sandbox that could not start): such a run gives no grade, and grading it again is the remedy.
    """

    completed: bool
    last_cell: int | None
    stop_reason: str
    seconds: float
    log: str
    cpu_seconds: float = 0.0
    retry: str = ""


class Conversation:
    """What the grader answers while a run goes on (harvest requests); see dlcourse.grading.evaluate."""

    def receive(self, frame: channel.Frame, cell: int | None) -> bytes | None:
        """Take one frame from the run; returns bytes to send back to it, or None."""
        return None


@dataclass
class _Watch:
    """The watchdog's view of a run: which cell runs, whose it is, and the CPU time charged so far."""

    limits: Limits
    locked: frozenset[int]
    indices: frozenset[int]
    tree: accounting.Tree
    start: float = field(default_factory=time.monotonic)
    cell: int | None = None
    cell_cpu: float = 0.0
    cell_wall: float = field(default_factory=time.monotonic)
    course_cpu: float = 0.0  # CPU time of the course's locked cells (and the start-up): not the student's
    student_started: bool = False
    cell_schedule: tuple[int, int] = (0, 0)

    def announce(self, index: int) -> None:
        """A cell starts; announcements out of order, or of cells the job lacks, are ignored."""
        if index not in self.indices or (self.cell is not None and index <= self.cell):
            return
        now_cpu = self.tree.cpu_seconds()
        if self._course_cell():
            self.course_cpu += now_cpu - self.cell_cpu
        self.cell, self.cell_cpu, self.cell_wall = index, now_cpu, time.monotonic()
        self.cell_schedule = self.tree.schedule()
        self.student_started |= index not in self.locked

    def _course_cell(self) -> bool:
        return self.cell is None or (self.cell in self.locked and not self.student_started)

    def budget(self) -> float:
        return self.limits.setup_seconds if self.cell is None or self.cell in self.locked else self.limits.cell_seconds

    def verdict(self) -> tuple[str, str] | None:
        """(stop reason, retry reason) once a limit is passed; None while the run may go on."""
        cpu, grace = self.tree.cpu_seconds(), self.limits.kill_grace_seconds
        student_cpu = cpu - self.course_cpu - (cpu - self.cell_cpu if self._course_cell() else 0.0)
        course = self._course_cell()
        if cpu - self.cell_cpu > self.budget() + grace:
            if course:
                return "", (f"the course's own cell {self.where()} used more than {self.budget():g} s of CPU time "
                            "(not the submission's doing)")
            return f"ran past the cell CPU-time limit ({self.budget():g} s) and could not be interrupted", ""
        if student_cpu > self.limits.notebook_seconds + grace:
            return f"ran past the notebook CPU-time limit ({self.limits.notebook_seconds:g} s)", ""
        now = time.monotonic()
        cell_backstop = self.limits.wall(self.budget())
        notebook_backstop = self.limits.wall(self.limits.notebook_seconds + self.limits.setup_seconds)
        if now - self.cell_wall > cell_backstop or now - self.start > notebook_backstop:
            cell_over = now - self.cell_wall > cell_backstop
            which = cell_backstop if cell_over else notebook_backstop
            since, wall = (self.cell_schedule, now - self.cell_wall) if cell_over else ((0, 0), now - self.start)
            if self.tree.starved(since, wall):
                return "", (f"the machine was too busy: the run waited for a CPU as long as it ran, and the "
                            f"wall-clock backstop ({which:g} s) stopped it")
            if course:
                return "", f"the course's own cell {self.where()} did not finish within {which:g} s"
            return f"waited past the wall-clock backstop ({which:g} s) without using its CPU time", ""
        return None

    def where(self) -> str:
        return "start-up" if self.cell is None else str(self.cell + 1)


def run_runner(scratch: Scratch, isolation: Isolation, limits: Limits, threads: int,
               locked: frozenset[int] = frozenset(), indices: frozenset[int] | None = None,
               conversation: Conversation | None = None, overlays: tuple[str, ...] = ()) -> RunRecord:
    """Start the runner on scratch's job.json (sandboxed or not) and watch it until it ends or is stopped.

    locked: indices of the course's locked cells; indices: every cell of the job (others' announcements are
    ignored); conversation: answers the run's harvest requests; overlays: extra bwrap mounts.
    """
    argv = runner_argv(scratch.path("job.json"))
    env = runner_environment(scratch, threads)
    command = bwrap_command(scratch.host, argv, env, overlays) if isolation.sandboxed else argv
    tree = accounting.new_tree(limits.memory_bytes)
    nonce = json.loads((scratch.host / "job.json").read_text())["nonce"]
    watch = _Watch(limits, locked, frozenset(indices) if indices is not None else frozenset(range(10**6)), tree)
    try:
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                       cwd=scratch.host / "work", env=env, start_new_session=True,
                                       preexec_fn=tree.join)
            tree.started(process.pid)
            try:
                done, stop_reason, retry = _watch(process, watch, conversation or Conversation(), nonce)
            finally:
                _kill_group(process)
                process.wait()
                process.stdout.close()
                _close_quietly(process.stdin)
            log.seek(0)
            text = log.read(STDERR_KEPT).decode(errors="replace")
        if not done and not stop_reason and not retry:
            stop_reason = _exit_reason(process.returncode, isolation, tree, limits)
            if not watch.student_started:  # nothing of the submission ran: the course, the sandbox or the runner
                retry = (f"the run ended in the course's own cell {watch.where()} before any cell of the submission "
                         f"ran ({stop_reason}) {(text.strip().splitlines() or [''])[-1][:200]}")
        return RunRecord(done, watch.cell, stop_reason, time.monotonic() - watch.start, text, tree.cpu_seconds(),
                         retry.strip())
    finally:
        tree.close()


def _watch(process: subprocess.Popen, watch: _Watch, conversation: Conversation,
           nonce: str) -> tuple[bool, str, str]:
    """Follow the run's frames until it is done, ends or passes a limit: (done, stop reason, retry reason).

    Time limits are checked a few times a second on the tree's CPU time; frames only say where the run is,
    and a cell or done frame counts only with the run's nonce (which the runner took out of the job file
    before any cell ran), so that a submission writing progress lines cannot move its own clock.
    """
    reader, outgoing = channel.FrameReader(), b""
    os.set_blocking(process.stdin.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    writing = False
    while True:
        stopped = watch.verdict()
        if stopped:
            return False, *stopped
        if bool(outgoing) != writing:
            writing = bool(outgoing)
            (selector.register(process.stdin, selectors.EVENT_WRITE) if writing else selector.unregister(process.stdin))
        for key, _ in selector.select(POLL_SECONDS):
            if key.fileobj is process.stdin:
                outgoing = _send(process, outgoing)
                continue
            chunk = os.read(process.stdout.fileno(), 1 << 20)
            if not chunk:
                return False, "", ""
            for frame in reader.feed(chunk):
                index, _, token = frame.arg.partition(":")
                if frame.kind == "cell" and index.isdigit() and token == nonce:
                    watch.announce(int(index))
                elif frame.kind == "done" and frame.arg == nonce:
                    return True, "", ""
                else:
                    outgoing += conversation.receive(frame, watch.cell) or b""


def _send(process: subprocess.Popen, data: bytes) -> bytes:
    """Write what the pipe takes now (the run may not be reading); the rest waits."""
    try:
        return data[os.write(process.stdin.fileno(), data):]
    except BlockingIOError:
        return data
    except OSError:  # the run closed its end
        return b""


def _close_quietly(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the run's process group: bwrap, and with it (--die-with-parent) the whole sandbox."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_reason(returncode: int, isolation: Isolation, tree: accounting.Tree, limits: Limits) -> str:
    """The kernel's end in words (bwrap reports a death by signal N as exit code 128 + N)."""
    if tree.out_of_memory():
        return f"the run used more than {limits.memory_bytes / GIB:g} GiB of memory (all its processes together)"
    signal_number = -returncode if returncode < 0 else returncode - 128 if isolation.sandboxed and returncode > 128 else 0
    if signal_number in signal.valid_signals():
        return f"the kernel died ({signal.Signals(signal_number).name})"
    return f"the kernel exited with code {returncode}"
