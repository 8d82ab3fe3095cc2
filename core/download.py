"""Fetching a file into gankit's cache: mirrors tried in order, resumable, verified.

``download(urls, target, sha256)`` returns ``target`` once it holds the file with that
SHA-256. A file already there with the right checksum is reused without touching the
network. Otherwise bytes go to ``target + ".part"``: a part left by an interrupted run is
resumed with an HTTP Range request (a server that ignores Range sends the whole file,
which is then written from the start), the checksum is verified, and only then is the
part moved into place with ``os.replace``, so ``target`` is either absent or complete.
Concurrent downloads of the same file (torchrun ranks) are serialised with a lock file.

Setting ``GANKIT_OFFLINE=1`` makes any download fail at once with a :class:`GankitError`
(files already in the cache are still used); the tests set it so they never touch the
network. Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .errors import GankitError

OFFLINE_ENV = "GANKIT_OFFLINE"
TIMEOUT_S = 30.0  # per connection attempt and per read
CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _TransferError(Exception):
    """A response that cannot be used (short, or resumed at the wrong byte)."""


# What makes us try the next mirror: DNS/connection/HTTP errors and timeouts (OSError,
# which includes urllib's URLError and HTTPError), broken HTTP (http.client), a URL
# urllib cannot open (ValueError), a short or inconsistent response.
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError, _TransferError)


def offline() -> bool:
    """Whether ``GANKIT_OFFLINE`` forbids downloads (any value but empty, 0, false, no, off)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(urls: Sequence[str], target: Path, sha256: str, *, progress: bool = True,
             hint: str | None = None) -> Path:
    """Make ``target`` hold the file with SHA-256 ``sha256``, fetched from the first of
    ``urls`` (mirrors of the same file) that works, and return ``target``.

    ``progress`` shows a progress bar on a terminal (one line on stderr otherwise).
    ``hint`` tells the user how to give the dataset a file fetched by hand (``--data ...``);
    it ends the error raised when every mirror fails or downloads are off.
    Raises :class:`GankitError` on a checksum mismatch (naming the URL and both hashes;
    the part file is deleted) and when no mirror could be reached (naming each URL tried
    and why it failed).
    """
    urls = list(urls)
    if not urls:
        raise ValueError("download() needs at least one URL")
    expected = sha256.strip().lower()
    if not _SHA256.fullmatch(expected):
        raise ValueError(f"download() needs a hex SHA-256 of 64 characters, got {sha256!r}")
    target = Path(target)
    if _holds(target, expected):
        return target
    manual = hint or (f"fetch {target.name} by hand from one of those URLs and pass --data PATH "
                      f"(the file, or the folder holding it)")
    manual += f"; or place the file at {target}, where gankit looks first"
    if offline():
        raise GankitError(f"{target.name} is not in the cache and {OFFLINE_ENV} is set, so gankit will not "
                          f"download it (from {urls[0]}); unset {OFFLINE_ENV} to download, or {manual}")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(target.suffix + ".part")
    with _lock(target):
        if _holds(target, expected):  # another process finished it while we waited
            return target
        if target.exists():
            _say(progress, f"{target} does not have the expected checksum; downloading it again")
            target.unlink()
        failures: list[str] = []
        for url in urls:
            try:
                resumed = _fetch(url, part, progress)
                actual = sha256_of(part)
                if actual != expected and resumed:
                    # The kept bytes may come from another transfer: start once from scratch.
                    part.unlink()
                    _fetch(url, part, progress)
                    actual = sha256_of(part)
            except _NETWORK_ERRORS as exc:
                failures.append(f"{url} ({_reason(exc)})")
                continue
            if actual != expected:
                part.unlink(missing_ok=True)
                raise GankitError(
                    f"checksum mismatch for {url}: expected SHA-256 {expected}, got {actual}; the download "
                    f"was deleted. The mirror may serve a different or damaged file: try again later, or {manual}"
                )
            os.replace(part, target)
            return target
    tried = "; ".join(failures)
    raise GankitError(f"could not download {target.name}: tried {tried}. Check the network connection "
                      f"(a later run resumes what was fetched), or {manual}")


def _holds(target: Path, expected: str) -> bool:
    return target.is_file() and sha256_of(target) == expected


def _fetch(url: str, part: Path, progress: bool) -> bool:
    """Append the rest of ``url`` to ``part`` (or write it whole). Returns whether the
    bytes already in ``part`` were kept (a resumed transfer)."""
    from . import __version__

    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"gankit/{__version__}"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # nothing after offset: the part is complete (or wrong: the checksum says)
            return True
        raise
    with response:
        if offset and response.status == 206:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                raise _TransferError(f"asked to resume at byte {offset}, the server sent from byte {start}")
            mode = "ab"
        else:  # a server that ignores Range sends everything (200)
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length", "")
        total = offset + int(length) if length.isdigit() else None
        received = offset
        with open(part, mode) as out, _Bar(progress, part.name[: -len(".part")], url, total, offset) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if total is not None and received < total:
            raise _TransferError(f"the connection closed after {received} of {total} bytes")
    return mode == "ab"


def _range_start(content_range: str) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-", content_range)
    return int(match.group(1)) if match else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


class _Bar:
    """A tqdm byte counter on a terminal; one line on stderr otherwise; nothing when off."""

    def __init__(self, enabled: bool, name: str, url: str, total: int | None, initial: int):
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=name, unit="B", unit_scale=True,
                             unit_divisor=1024, dynamic_ncols=True, leave=False)
        elif enabled:
            size = f" ({total / 2**20:.1f} MiB)" if total else ""
            resume = f", resuming at byte {initial}" if initial else ""
            print(f"downloading {name}{size} from {url}{resume}", file=sys.stderr, flush=True)

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def _lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``target + ".lock"`` (POSIX; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(target.with_suffix(target.suffix + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
