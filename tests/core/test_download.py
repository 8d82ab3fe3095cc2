"""gankit.download against a local HTTP server (tests/local_http.py): checksums, reuse of
a cached file, resuming a part file, mirror fallback, the offline switch."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest
from local_http import serve

from gankit.download import download, offline, sha256_of
from gankit.errors import GankitError

DATA = bytes(range(256)) * 400  # 100 KiB: several reads of the download loop
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture(autouse=True)
def _local_only(monkeypatch, tmp_path):
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def server():
    with serve({"data.bin": DATA}) as running:
        yield running


def part_of(target):
    return target.with_suffix(target.suffix + ".part")


def test_downloads_and_verifies(server, tmp_path, capsys):
    target = tmp_path / "sub" / "data.bin"
    assert download([server.url("range", "data.bin")], target, SHA) == target
    assert target.read_bytes() == DATA
    assert not part_of(target).exists()
    assert server.requests == [("range", "data.bin", None)]
    err = capsys.readouterr().err
    assert "downloading data.bin" in err and server.url("range", "data.bin") in err


def test_quiet_without_progress(server, tmp_path, capsys):
    download([server.url("range", "data.bin")], tmp_path / "data.bin", SHA, progress=False)
    assert capsys.readouterr().err == ""


def test_a_cached_file_is_reused_without_the_network(server, tmp_path, monkeypatch):
    target = tmp_path / "data.bin"
    target.write_bytes(DATA)
    monkeypatch.setenv("GANKIT_OFFLINE", "1")  # would raise if it tried
    assert download([server.url("range", "data.bin")], target, SHA.upper(), progress=False) == target
    assert server.requests == []


def test_a_cached_file_with_the_wrong_checksum_is_fetched_again(server, tmp_path, capsys):
    target = tmp_path / "data.bin"
    target.write_bytes(b"stale")
    download([server.url("range", "data.bin")], target, SHA)
    assert target.read_bytes() == DATA
    assert "does not have the expected checksum" in capsys.readouterr().err


def test_checksum_mismatch_deletes_the_part_and_names_both_hashes(server, tmp_path):
    target = tmp_path / "data.bin"
    wrong = "0" * 64
    url = server.url("range", "data.bin")
    with pytest.raises(GankitError) as caught:
        download([url, server.url("plain", "data.bin")], target, wrong, progress=False)
    message = str(caught.value)
    assert url in message and wrong in message and SHA in message
    assert not target.exists() and not part_of(target).exists()
    assert len(server.requests) == 1, "a mismatch stops: the next mirror is not tried"


def test_resumes_a_part_file_with_a_range_request(server, tmp_path, capsys):
    target = tmp_path / "data.bin"
    part_of(target).write_bytes(DATA[:30000])
    download([server.url("range", "data.bin")], target, SHA)
    assert target.read_bytes() == DATA
    assert server.requests == [("range", "data.bin", "bytes=30000-")]
    assert "resuming at byte 30000" in capsys.readouterr().err


def test_a_server_that_ignores_range_gets_a_full_download(server, tmp_path):
    target = tmp_path / "data.bin"
    part_of(target).write_bytes(DATA[:30000])
    download([server.url("plain", "data.bin")], target, SHA, progress=False)
    assert target.read_bytes() == DATA
    assert server.requests == [("plain", "data.bin", "bytes=30000-")]


def test_a_complete_part_file_is_finished_without_a_body(server, tmp_path):
    target = tmp_path / "data.bin"
    part_of(target).write_bytes(DATA)
    download([server.url("range", "data.bin")], target, SHA, progress=False)  # the server answers 416
    assert target.read_bytes() == DATA and not part_of(target).exists()


def test_a_wrong_resumed_prefix_is_downloaded_again_from_scratch(server, tmp_path):
    target = tmp_path / "data.bin"
    part_of(target).write_bytes(b"x" * 1000)
    download([server.url("range", "data.bin")], target, SHA, progress=False)
    assert target.read_bytes() == DATA
    assert server.requests == [("range", "data.bin", "bytes=1000-"), ("range", "data.bin", None)]


def test_failed_mirrors_fall_back_to_the_next(server, tmp_path):
    target = tmp_path / "data.bin"
    urls = [server.url("fail", "data.bin"), "http://127.0.0.1:1/data.bin", server.url("range", "data.bin")]
    download(urls, target, SHA, progress=False)
    assert target.read_bytes() == DATA
    assert [r[0] for r in server.requests] == ["fail", "range"]


def test_a_cut_connection_keeps_the_part_for_the_next_mirror(server, tmp_path):
    target = tmp_path / "data.bin"
    download([server.url("short", "data.bin"), server.url("range", "data.bin")], target, SHA, progress=False)
    assert target.read_bytes() == DATA
    assert server.requests[1] == ("range", "data.bin", f"bytes={len(DATA) // 2}-")


def test_when_every_mirror_fails_the_error_lists_them_and_explains_data(server, tmp_path):
    target = tmp_path / "data.bin"
    urls = [server.url("fail", "data.bin"), server.url("range", "missing.bin"), "http://127.0.0.1:1/x"]
    with pytest.raises(GankitError) as caught:
        download(urls, target, SHA, progress=False)
    message = str(caught.value)
    assert all(url in message for url in urls)
    assert "HTTP 503" in message and "HTTP 404" in message
    assert "--data PATH" in message and str(target) in message
    assert not target.exists()


def test_the_error_ends_with_the_callers_hint(server, tmp_path):
    with pytest.raises(GankitError, match="pass --data PATH to the folder of both files; or place"):
        download([server.url("fail", "data.bin")], tmp_path / "d", SHA, progress=False,
                 hint="pass --data PATH to the folder of both files")


def test_a_partial_download_survives_for_the_next_run(server, tmp_path):
    target = tmp_path / "data.bin"
    with pytest.raises(GankitError):
        download([server.url("short", "data.bin")], target, SHA, progress=False)
    assert part_of(target).stat().st_size == len(DATA) // 2 and not target.exists()
    download([server.url("range", "data.bin")], target, SHA, progress=False)
    assert target.read_bytes() == DATA


def test_offline_refuses_at_once(server, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    assert offline()
    with pytest.raises(GankitError, match="GANKIT_OFFLINE.*--data PATH"):
        download([server.url("range", "data.bin")], tmp_path / "data.bin", SHA)
    assert server.requests == []
    for value in ("", "0", "false"):
        monkeypatch.setenv("GANKIT_OFFLINE", value)
        assert not offline()


def test_bad_arguments_are_programming_errors(tmp_path):
    with pytest.raises(ValueError, match="URL"):
        download([], tmp_path / "x", SHA)
    with pytest.raises(ValueError, match="SHA-256"):
        download(["http://127.0.0.1:1/x"], tmp_path / "x", "abc")


def test_concurrent_downloads_of_one_file_fetch_it_once(server, tmp_path):
    target = tmp_path / "data.bin"
    results = []

    def fetch():
        results.append(download([server.url("slow", "data.bin")], target, SHA, progress=False))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [target] * 3 and target.read_bytes() == DATA
    assert len(server.requests) == 1, "the others waited on the lock and found the file done"


def test_sha256_of(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert sha256_of(path) == SHA
    assert os.path.getsize(path) == len(DATA)
