"""Writing a command's files into a folder the user named (``gankit sample``, ``gankit
export``), so that a full disk, a read-only folder or Ctrl-C never leaves a truncated file.

Files are written into a hidden staging folder inside the target (``.gankit-PID-RANDOM.tmp``,
the pattern :mod:`gankit.atomic` and the run directory treat as leftovers) and moved into
place only when all of them are complete; on any failure the staging folder is removed, and
so is the target when this call created it. A process killed outright (SIGKILL, power loss)
cannot clean up, so the next writer into the folder removes staging folders whose process
is gone. A write error becomes a :class:`GankitError` that
says what could not be written, where, and why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Iterator

from .errors import GankitError


STAGING_PREFIX = ".gankit-"


def remove_orphaned_staging(folder: Path) -> list[Path]:
    """Remove the staging folders in ``folder`` whose writing process no longer exists (it
    was killed before it could clean up); returns them. Another live writer's are kept."""
    removed = []
    for staging in folder.glob(f"{STAGING_PREFIX}*.tmp"):
        pid = staging.name[len(STAGING_PREFIX):].split("-", 1)[0]
        if staging.is_dir() and not staging.is_symlink() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there: keep every folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


class StagedFolder:
    """Use as ``with StagedFolder(out, "samples") as folder:``, write into
    ``folder.staging``, then call :meth:`commit`, which moves every file written there to
    the same place under ``out`` and returns the final paths. ``what`` names the output in
    error messages."""

    def __init__(self, target: str | os.PathLike[str], what: str):
        self.target = Path(target)
        self.what = what
        self.staging = self.target
        self._created: list[Path] = []
        self._committed: list[Path] = []

    def __enter__(self) -> "StagedFolder":
        if os.path.lexists(self.target) and not self.target.is_dir():
            raise GankitError(f"{str(self.target)!r} is a file, not a folder; give a folder to write the "
                              f"{self.what} into (it is created if missing)")
        try:
            self._created = make_dirs(self.target)
            remove_orphaned_staging(self.target)
            self.staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", suffix=".tmp",
                                                 dir=self.target))
        except OSError as exc:
            remove_empty_dirs(self._created)
            raise write_error(exc, self.what, self.target) from None
        return self

    def commit(self) -> list[Path]:
        """Move every file of the staging folder into the target (replacing files of the
        same name there); returns the final paths, sorted."""
        for path in sorted(p for p in self.staging.rglob("*") if p.is_file()):
            final = self.final(path)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
            self._committed.append(final)
        return list(self._committed)

    def final(self, staged: str | os.PathLike[str]) -> Path:
        """Where a file written in the staging folder ends up."""
        return self.target / Path(staged).relative_to(self.staging)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        if exc is None:
            return
        for path in self._committed:  # a rename failed midway (rare in one folder): no half set is left
            with contextlib.suppress(OSError):
                path.unlink()
        remove_empty_dirs(self._created)
        if isinstance(exc, OSError):
            raise write_error(exc, self.what, self.target) from None
        if type(exc) is KeyboardInterrupt and not str(exc):
            raise KeyboardInterrupt(f"no {self.what} written to {self.target} (partial files removed)") from None


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a job scheduler) raises ``KeyboardInterrupt`` as Ctrl-C does, so a
    command's cleanup runs when it is stopped. Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_error(exc: OSError, what: str, where: str | os.PathLike[str]) -> GankitError:
    """The one-line error for an ``OSError`` met while writing ``what`` to ``where``: a full
    disk, a file-size limit, a read-only or missing folder."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    full = {getattr(errno, name, None) for name in ("ENOSPC", "EDQUOT")}
    refused = {getattr(errno, name, None) for name in ("EFBIG", "EROFS", "EACCES", "EPERM")}
    advice = ("; free space or choose another --out" if exc.errno in full - {None} else
              "; choose another --out" if exc.errno in refused - {None} else "")
    return GankitError(f"cannot write the {what} to {str(where)!r}: {reason}; partial files were removed{advice}")


def check_free_space(folder: str | os.PathLike[str], needed: int, what: str, *, files: int = 0) -> None:
    """Refuse, with the estimate, to write ``needed`` bytes (and ``files`` new files) where
    the file system has less room. Where the free space cannot be read nothing is refused."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise GankitError(f"the {what} need about {format_bytes(needed)}, but {str(folder)!r} has {format_bytes(free)} "
                          f"free; write fewer, free space, or choose another folder")
    if files and hasattr(os, "statvfs"):
        with contextlib.suppress(OSError):
            stats = os.statvfs(folder)
            if stats.f_files and files > stats.f_favail:  # f_files 0: the file system does not count inodes
                raise GankitError(f"the {what} are {files:,} files, but {str(folder)!r} has room for "
                                  f"{stats.f_favail:,} more; write fewer, or use --format npy (one file)")


def format_bytes(count: float) -> str:
    """``1.5 GB``: decimal units, as ``df -H`` and file managers show sizes."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(count) < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def make_dirs(path: Path) -> list[Path]:
    """``mkdir -p path``; returns the folders it created, outermost first (a failure
    removes those it had made before raising)."""
    missing = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)
            created.append(folder)
    except OSError:
        remove_empty_dirs(created)
        raise
    return created


def remove_empty_dirs(folders: list[Path]) -> None:
    """Remove the folders :func:`make_dirs` created, innermost first, where still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()
