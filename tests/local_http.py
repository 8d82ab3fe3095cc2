"""A local HTTP server for download tests: nothing leaves 127.0.0.1.

``serve(files)`` serves ``files`` (name -> bytes) under four behaviours chosen by the first
path segment: ``/range/NAME`` honours ``Range: bytes=N-`` (206, or 416 past the end),
``/plain/NAME`` ignores Range (always 200 with everything), ``/fail/NAME`` answers 503,
``/short/NAME`` promises the whole file but closes the connection half way, ``/slow/NAME``
is ``/range/NAME`` after a pause of 0.3 s (for overlapping requests). Every request
is recorded as ``(mode, name, range_header)`` in ``server.requests``.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class _Handler(BaseHTTPRequestHandler):
    server: "LocalServer"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        mode, _, name = self.path.lstrip("/").partition("/")
        requested = self.headers.get("Range")
        self.server.requests.append((mode, name, requested))
        if mode == "slow":
            time.sleep(0.3)
            mode = "range"
        body = self.server.files.get(name)
        if mode == "fail":
            self.send_error(503, "mirror down for the test")
            return
        if body is None or mode not in ("range", "plain", "short"):
            self.send_error(404)
            return
        start = 0
        if mode == "range" and requested:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if mode == "short":
            payload = payload[: len(payload) // 2]
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    files: dict[str, bytes]
    requests: list[tuple[str, str, str | None]]

    def url(self, mode: str, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/{name}"

    def base(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/"


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[LocalServer]:
    server = LocalServer(("127.0.0.1", 0), _Handler)
    server.files = dict(files)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
