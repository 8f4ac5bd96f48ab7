"""The audit never crashes: a damaged, unreadable or foreign store gives a report and exit 2.

Each test damages a real demo store the way a disk, a careless copy or
another program could, then runs the installed ``farmtrace audit`` as a
user would, with and without ``--json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import plyvel

from chain.store import Store
from gateway.datadir import DataDir

_FARMTRACE = Path(sys.executable).with_name("farmtrace")


def _audit(data_dir: DataDir, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_FARMTRACE, "audit", "--data-dir", data_dir.root, "--no-progress", "--jobs", "1", *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _no_verdict(data_dir: DataDir, reason: str, *words: str) -> dict[str, Any]:
    """Audit twice (text, JSON); both must say why there is no verdict and exit 2."""
    text = _audit(data_dir)
    assert "Traceback" not in text.stderr, text.stderr
    assert text.returncode == 2, text.stdout + text.stderr
    assert "RESULT: NO VERDICT" in text.stdout, text.stdout
    lines = [line for line in text.stdout.splitlines() if f"{reason}: " in line]
    assert any(all(word in line for word in words) for line in lines), text.stdout
    as_json = _audit(data_dir, "--json")
    assert as_json.returncode == 2 and "Traceback" not in as_json.stderr, as_json.stderr
    report: dict[str, Any] = json.loads(as_json.stdout)
    assert (report["ok"], report["complete"], report["exit_code"]) == (False, False, 2)
    assert any(
        f["reason"] == reason and all(word in f["message"] for word in words)
        for f in report["failures"]
    ), report["failures"]
    return report


def _compact(log: Path) -> None:
    """Move everything out of the write-ahead log into table (.ldb) files."""
    db = plyvel.DB(str(log))
    db.compact_range()
    db.close()


def _largest(log: Path, suffix: str) -> Path:
    return max(log.glob(f"*{suffix}"), key=lambda path: path.stat().st_size)


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_clean_store_still_audits_clean(demo_dir: DataDir) -> None:
    result = _audit(demo_dir, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert (report["ok"], report["complete"], report["exit_code"]) == (True, True, 0)


def test_a_damaged_write_ahead_log_is_reported_not_skipped(demo_dir: DataDir) -> None:
    # LevelDB on its own drops the damaged part of its log on open, silently.
    _flip_middle(_largest(demo_dir.log, ".log"))
    report = _no_verdict(demo_dir, "unreadable", str(demo_dir.log), "Corruption")
    assert report["failures"][-1]["reason"] == "unreadable"


def test_a_damaged_table_file_stops_the_audit_with_a_report(demo_dir: DataDir) -> None:
    _compact(demo_dir.log)
    _flip_middle(_largest(demo_dir.log, ".ldb"))
    _no_verdict(demo_dir, "unreadable", str(demo_dir.log), "checksum")


def test_a_truncated_current_file_is_reported(demo_dir: DataDir) -> None:
    current = demo_dir.log / "CURRENT"
    current.write_bytes(current.read_bytes()[:5])
    _no_verdict(demo_dir, "unreadable", str(demo_dir.log), "CURRENT")


def test_a_damaged_manifest_is_reported(demo_dir: DataDir) -> None:
    manifest = next(demo_dir.log.glob("MANIFEST-*"))
    data = bytearray(manifest.read_bytes())
    data[10] ^= 0xFF
    manifest.write_bytes(bytes(data))
    _no_verdict(demo_dir, "unreadable", str(demo_dir.log), "Corruption")


def test_a_table_file_that_cannot_be_read_is_reported(demo_dir: DataDir) -> None:
    # As root, chmod cannot make a file unreadable: a directory in its place can.
    _compact(demo_dir.log)
    table = _largest(demo_dir.log, ".ldb")
    table.unlink()
    table.mkdir()
    _no_verdict(demo_dir, "unreadable", str(demo_dir.log))


def test_records_the_store_never_writes_are_each_listed(demo_dir: DataDir) -> None:
    db = plyvel.DB(str(demo_dir.log))
    for key in (b"x:hidden", b"zz", b"m:extra", b"\xff\x00"):
        db.put(key, b"a record nobody checks", sync=True)
    db.close()
    report = _no_verdict(demo_dir, "unknown_record", "b'x:hidden'")
    listed = [f["message"] for f in report["failures"] if f["reason"] == "unknown_record"]
    assert len(listed) == 4
    for shown in ("b'x:hidden'", "b'zz'", "b'm:extra'", "b'\\xff\\x00'"):
        assert any(shown in message for message in listed), (shown, listed)
    assert report["entries"] == 581  # the rest of the log was still checked


def test_a_stray_entry_record_is_named(demo_dir: DataDir) -> None:
    with Store.open(demo_dir.log) as store:
        beyond = store.entry_count + 5
    db = plyvel.DB(str(demo_dir.log))
    db.put(b"e:" + beyond.to_bytes(8, "big"), b"an entry no block holds", sync=True)
    db.close()
    result = _audit(demo_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"extra_record: a record under 'e:' with number {beyond}" in result.stdout


def test_pending_entries_are_not_extra_records(demo_dir: DataDir, tmp_path: Path) -> None:
    copy = DataDir(tmp_path / "copy")
    shutil.copytree(demo_dir.root, copy.root)
    with Store.open(copy.log) as store:
        store.put_pending([(1, b"accepted, not yet in a block")])
    result = _audit(copy)
    assert result.returncode == 0, result.stdout


def test_malformed_keys_in_the_store_s_own_families_fail_the_audit(demo_dir: DataDir) -> None:
    db = plyvel.DB(str(demo_dir.log))
    for key in (b"c:\x01", b"g:short", b"v:", b"b:\x00\x07"):
        db.put(key, b"", sync=True)
    db.close()
    result = _audit(demo_dir, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stdout
    messages = [f["message"] for f in json.loads(result.stdout)["failures"]]
    for family in ("c:", "g:", "v:", "b:"):
        assert any(f"records under '{family}'" in m for m in messages), (family, messages)
