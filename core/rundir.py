"""The run directory: ``config.json`` with provenance, ``metrics.jsonl``, ``checkpoints/``,
``samples/``, the marker ``gankit-run.json`` that says the folder is a gankit run, and
``.lock``, held by the one process training in it.

Nothing is written into a folder that is not a run's own: a fresh run needs a new or
empty folder, or an existing gankit run and ``--overwrite`` (which removes that run's
files, never anything else). The lock is an ``flock``, which the kernel releases when its
process dies, so a lock left by a killed process is taken over.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import platform
import shutil
import socket
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

from .atomic import TEMPORARY_PATTERN, atomic_write, remove_temporaries
from .errors import GankitError
from .outputs import make_dirs, remove_empty_dirs

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

MARKER = "gankit-run.json"
MARKER_FORMAT = 1
LOCK = ".lock"
# What gankit writes at the top of a run directory (train, report, sample, export, testing):
# --overwrite removes these and the entries the marker lists (a plugin's run files), nothing else.
RUN_ENTRIES = frozenset({MARKER, LOCK, "config.json", "metrics.jsonl", "checkpoints", "samples", "tensorboard",
                         "report.html", "generated", "export", "conformance-samples",
                         "tokenizer"})  # the text domain's run files, for runs that never recorded their entries
MAX_CONFIG_BYTES = 1 << 20  # a larger config.json is not a run's
LOCK_ATTEMPTS = 20
SHOWN_NAMES = 3
_OPEN: list["RunDirectory"] = []  # run directories claimed by this process and not yet released


def default_run_dir(domain: str, model: str) -> Path:
    return Path("runs") / f"{domain}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a gankit run: the marker, or (runs made before the marker)
    a ``checkpoints/last.pt`` or a ``config.json`` with gankit's provenance."""
    if (path / MARKER).is_file() or (path / "checkpoints" / "last.pt").is_file():
        return True
    config = path / "config.json"
    try:
        if config.stat().st_size > MAX_CONFIG_BYTES:
            return False
        record = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("provenance"), dict) and "gankit" in record["provenance"]


def prepare_run_dir(path: Path, *, resume: bool, overwrite: bool = False,
                    resume_step: int | None = None) -> RunDirectory:
    """Claim ``path`` for a run and hold it until :meth:`RunDirectory.release`.

    A fresh run needs a new folder, an empty one, or (with ``overwrite``) a gankit run,
    whose own files are removed first; a folder that is anything else is refused before
    anything is written in it. A resumed run needs ``checkpoints/last.pt``; with
    ``resume_step`` (the step this process loaded from it) it is refused if another
    process has written a newer checkpoint since. Either way the run directory's lock is
    taken, and leftover temporary files are removed under it.
    """
    path = Path(path)
    if resume and overwrite:
        raise GankitError("--resume continues the run in --out and --overwrite replaces it; pass only one of them")
    claim = _claim_for_resume(path, resume_step) if resume else _claim_fresh(path, overwrite)
    if claim.notice:
        warnings.warn(claim.notice, stacklevel=2)
    return claim


def _claim_fresh(path: Path, overwrite: bool) -> RunDirectory:
    _refuse_unless_fresh(path, overwrite, _contents(path))  # before writing anything
    created = _make_dirs(path)
    try:
        lock = RunLock.acquire(path)
    except BaseException:
        remove_empty_dirs(created)
        raise
    try:
        names = _contents(path)  # again, under the lock: another process may have been quicker
        _refuse_unless_fresh(path, overwrite, names, locked=True)
        if names:
            _remove_entries(path, names)  # --overwrite: the run's own entries, as checked above
        _write_marker(path)
        (path / "checkpoints").mkdir(exist_ok=True)
        (path / "samples").mkdir(exist_ok=True)
    except OSError as exc:
        lock.release()
        remove_empty_dirs(created)
        raise GankitError(f"cannot prepare the run directory {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        lock.release()
        remove_empty_dirs(created)
        raise
    return RunDirectory(path, lock, fresh=True, created=created, before=set())


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock``, which holds the owner's pid, host and start
    time. The kernel drops an flock when its process dies, so a ``.lock`` file nobody
    holds was left by a process that is gone and is taken over (``previous`` says whose
    it was). Without ``fcntl`` (Windows) nothing is locked."""

    def __init__(self, path: Path, fd: int | None, previous: dict[str, Any] | None):
        self.path = path
        self.previous = previous
        self._fd = fd

    @classmethod
    def acquire(cls, folder: Path) -> RunLock:
        """Take the lock of run directory ``folder``, or raise GankitError naming the process
        that holds it."""
        path = folder / LOCK
        if fcntl is None:
            return cls(path, None, None)
        for _ in range(LOCK_ATTEMPTS):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            except OSError as exc:
                raise GankitError(f"the run directory {str(folder)!r} is not writable: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise GankitError(f"run {str(folder)!r} is in use by {_describe_holder(holder)}; "
                                  f"wait for it to finish or stop it") from None
            except OSError as exc:  # a file system without locks (ENOLCK): go on unlocked, and say so
                os.close(fd)
                warnings.warn(f"cannot lock the run directory {str(folder)!r} ({exc.strerror or exc}); "
                              f"make sure no other process trains in it", stacklevel=3)
                return cls(path, None, None)
            # A process releasing the lock unlinks the file first: the file locked must still be the one at path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_holder(fd)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(_holder()).encode("utf-8"), 0)
            except OSError as exc:
                os.close(fd)
                raise GankitError(f"cannot write the lock of the run directory {str(folder)!r}: "
                                  f"{exc.strerror or exc}") from None
            return cls(path, fd, previous)
        raise GankitError(f"cannot take the lock of run {str(folder)!r}: other processes keep replacing it; try again")

    def release(self) -> None:
        """Remove ``.lock`` and unlock (in that order, so no process locks a file that is
        about to disappear). Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                self.path.unlink()
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RunDirectory:
    """A run directory claimed by :func:`prepare_run_dir`: this process holds its lock
    until :meth:`release`. ``notice`` says whose stale lock was taken over, if any
    (:func:`prepare_run_dir` also issues it as a warning)."""

    def __init__(self, path: Path, lock: RunLock, *, fresh: bool, created: list[Path], before: set[str]):
        self.path = path
        self.lock = lock
        self._fresh = fresh  # the run started in a new, empty or emptied folder
        self._created = created  # folders this claim made, outermost first
        self._before = before  # entries there before this run (a resumed run's)
        self._thread = threading.get_ident()
        self.notice: str | None = None
        if lock.previous is not None:
            self.notice = f"took over the stale lock of run {str(path)!r}: {_describe_holder(lock.previous)} is gone"
        _OPEN.append(self)

    @property
    def released(self) -> bool:
        return self not in _OPEN

    def release(self) -> None:
        """End the claim: a fresh run that produced nothing (no checkpoint, sample or metrics
        line: it failed early) is removed again, with the folders made for it, so a failed
        start leaves no skeleton; otherwise the marker records the entries this run added
        (what ``--overwrite`` may remove later). Then the lock is released. Idempotent;
        never raises for a file that cannot be removed."""
        if self.released:
            return
        _OPEN.remove(self)
        emptied = False
        try:
            if self._fresh and not holds_results(self.path):
                _remove_entries(self.path, [name for name in _listdir(self.path) if name != LOCK])
                emptied = True
            else:
                self._record_entries()
        except OSError:
            pass
        finally:
            self.lock.release()
        if emptied:
            remove_empty_dirs(self._created)

    def _record_entries(self) -> None:
        marker = _read_marker(self.path)
        if marker is None:
            return
        listed = set(marker.get("entries", []))
        added = {name for name in _listdir(self.path) if name not in self._before and not _is_temporary(name)}
        entries = sorted((listed | added) - RUN_ENTRIES)
        if entries != sorted(listed):
            atomic_write(self.path / MARKER, json.dumps({**marker, "entries": entries}, indent=2) + "\n")

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def releasing_run_dirs() -> Iterator[None]:
    """Release every run directory this thread claims inside the block and has not released
    when the block ends: the engine releases its own in a ``finally``, this also covers a
    failure between the claim and that ``finally``."""
    thread = threading.get_ident()
    before = {id(claim) for claim in _OPEN}
    try:
        yield
    finally:
        for claim in [c for c in _OPEN if id(c) not in before and c._thread == thread]:
            claim.release()


def holds_results(path: Path) -> bool:
    """Whether a run produced anything worth keeping: a checkpoint, a sample, a metrics line."""
    checkpoints = [name for name in _listdir(path / "checkpoints") if not _is_temporary(name)]
    metrics = path / "metrics.jsonl"
    return bool(checkpoints or _listdir(path / "samples") or (metrics.is_file() and metrics.stat().st_size > 0))


def _claim_for_resume(path: Path, resume_step: int | None) -> RunDirectory:
    last = path / "checkpoints" / "last.pt"
    if not last.is_file():
        raise GankitError(f"cannot resume: {str(last)!r} does not exist; start the run without --resume")
    before = set(_listdir(path))
    lock = RunLock.acquire(path)
    try:
        if resume_step is not None:
            from .checkpoint import checkpoint_step

            now = checkpoint_step(last)
            if now != resume_step:
                raise GankitError(f"run {str(path)!r} moved on to step {now} while this process loaded step "
                                  f"{resume_step} (another process was still training it); resume again")
        remove_temporaries(path)
        remove_temporaries(path / "checkpoints")
        if _read_marker(path) is None:  # a run made before the marker: adopt it
            _write_marker(path)
    except OSError as exc:
        lock.release()
        raise GankitError(f"cannot prepare the run directory {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        lock.release()
        raise
    return RunDirectory(path, lock, fresh=False, created=[], before=before)


def _contents(path: Path) -> list[str]:
    """The entries of ``--out`` that matter for a fresh run (its lock file does not)."""
    if not os.path.lexists(path):
        return []
    if not path.is_dir():
        raise GankitError(f"--out {str(path)!r} is a file, not a folder; choose a new or empty folder for the run")
    try:
        return sorted(name for name in os.listdir(path) if name != LOCK)
    except OSError as exc:
        raise GankitError(f"cannot read --out {str(path)!r}: {exc.strerror or exc}") from None


def _refuse_unless_fresh(path: Path, overwrite: bool, names: list[str], *, locked: bool = False) -> None:
    if not names:
        return
    if not is_run_dir(path):
        advice = "; --overwrite replaces only gankit runs" if overwrite else ""
        raise GankitError(f"--out {str(path)!r} is not empty and is not a gankit run (it holds {_some(names)}); "
                          f"choose a new or empty folder{advice}")
    holder = None if locked else _lock_holder(path)
    if holder is not None:
        raise GankitError(f"run {str(path)!r} is in use by {holder}; wait for it to finish or stop it")
    if not overwrite:
        raise GankitError(f"{str(path)!r} already holds a gankit run; pass --resume to continue it or --overwrite "
                          f"to replace it, or choose another --out")
    unknown = [name for name in names if name not in _run_entries(path) and not _is_temporary(name)]
    if unknown:
        raise GankitError(f"--overwrite removes only a run's own files, but {str(path)!r} also holds "
                          f"{_some(unknown)}; move {'it' if len(unknown) == 1 else 'them'} out or choose another --out")


def _run_entries(path: Path) -> set[str]:
    marker = _read_marker(path) or {}
    return set(RUN_ENTRIES) | set(marker.get("entries", []))


def _remove_entries(path: Path, names: Iterable[str]) -> None:
    for name in names:
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def _make_dirs(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; returns the folders created, outermost first."""
    try:
        return make_dirs(path)
    except OSError as exc:
        raise GankitError(f"cannot create the run directory {str(path)!r}: {exc.strerror or exc}") from None


def _write_marker(path: Path) -> None:
    from . import __version__

    record = {"format": MARKER_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "gankit": __version__}
    atomic_write(path / MARKER, json.dumps(record, indent=2) + "\n")


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _lock_holder(folder: Path) -> str | None:
    """Who holds the lock of run ``folder`` (None: nobody), found without writing anything."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _describe_holder(_read_holder(fd))
    except OSError:
        return None
    finally:
        os.close(fd)  # closing drops a lock this probe got
    return None


def _holder() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "pid" in record else None


def _describe_holder(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another process"
    where = f" on {holder['host']}" if holder.get("host") and holder["host"] != socket.gethostname() else ""
    started = f" (started {holder['started']})" if holder.get("started") else ""
    return f"process {holder['pid']}{where}{started}"


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_temporary(name: str) -> bool:
    return fnmatch.fnmatchcase(name, TEMPORARY_PATTERN)


def _some(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")

def provenance(plugins: Iterable[Any], command_line: str | None) -> dict[str, Any]:
    import torch

    from . import __version__

    return {
        "gankit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command_line": command_line if command_line is not None else "python API",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "plugins": {info.name: info.version for info in plugins if not info.error},
    }


def write_json_atomic(data: dict[str, Any], path: Path) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


class MetricsLog:
    """Appends one JSON object per logged step to ``metrics.jsonl``. On resume (and after a
    rollback), lines for steps after the checkpoint (written before a crash, then replayed)
    are dropped first, so every step appears once."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        if path.exists():
            self._keep_up_to(resume_step)
        self._handle = path.open("a", encoding="utf-8")

    def _keep_up_to(self, step: int) -> None:
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and _step_of(line) <= step]
        atomic_write(self.path, "".join(line + "\n" for line in kept))

    def truncate_after(self, step: int) -> None:
        self._handle.close()
        self._keep_up_to(step)
        self._handle = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class NullLog:
    """The metrics log of a process that writes no files (every rank but 0)."""

    def write(self, record: dict[str, Any]) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return sys.maxsize


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
