"""Atomic file writes: a reader (or a process killed mid-write) sees the old complete file
or the new complete file, never a part.

Bytes go to a temporary file in the target's folder (``.NAME.RANDOM.tmp``: same file
system, so the rename is atomic), which is flushed, fsynced and renamed over the target;
then the folder is fsynced so the rename itself survives a power cut. The temporary file
is removed on any failure. A run directory's leftover temporaries (from a killed process)
match :data:`TEMPORARY_PATTERN`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Callable

TEMPORARY_PATTERN = ".*.tmp"

Writer = Callable[[BinaryIO], object]


def atomic_write(path: str | os.PathLike[str], data: bytes | str | Writer, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: bytes, text (UTF-8), or a function that
    writes to the binary handle it is given (``lambda f: torch.save(state, f)``).

    A new file gets the permissions of a file the process creates normally (0666 less the
    umask, not ``mkstemp``'s 0600); a replaced file keeps its own. ``fsync=False`` skips the
    flushes to disk (atomic against a killed process, not against a power cut)."""
    path = Path(path)
    try:
        mode: int | None = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = None
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(path.parent)


def atomic_link(source: str | os.PathLike[str], target: str | os.PathLike[str], *, fsync: bool = True) -> None:
    """Point ``target`` at ``source``'s content atomically: a hard link renamed into place
    where the file system allows one, an atomic copy otherwise."""
    source, target = Path(source), Path(target)
    for _ in range(100):
        tmp = _temporary_name(target)
        try:
            os.link(source, tmp)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network and FAT file systems)
            with open(source, "rb") as original:
                atomic_write(target, lambda handle: shutil.copyfileobj(original, handle), fsync=fsync)
            return
        try:
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if fsync:
            fsync_dir(target.parent)
        return
    raise FileExistsError(f"no free temporary name next to {str(target)!r}")


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder``; returns them. Only
    call this while no other process can be writing there (the run's lock is held)."""
    removed = []
    for leftover in folder.glob(TEMPORARY_PATTERN):
        if leftover.is_file() or leftover.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
            removed.append(leftover)
    return removed


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new, exclusive temporary file next to ``target``, created with mode 0666 so the
    umask applies as for any new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = _temporary_name(target)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {str(target)!r}")
