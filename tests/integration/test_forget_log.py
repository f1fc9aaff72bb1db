"""The forget log file: durable appends, torn tails, concurrent writers, exact round trips."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.storage.forget_log import (
    FileForgetLog,
    ForgetLogError,
    LogReading,
    decode,
    encode,
    read_entries,
    read_log_id,
)


def entry(n: int, kind: ForgetKind = ForgetKind.HARD_DELETE, tenant: str = "t1") -> ForgetEntry:
    return ForgetEntry(kind, tenant_id=tenant, at=1_700_000_000_000 + n, profile_ids=(n,))


def test_appended_entries_read_back_in_order_each_with_the_end_of_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forget.log"
    with FileForgetLog(path) as log:
        log.append([entry(1), entry(2)])
        middle = log.size()
        log.append([entry(3)])
        end = log.size()
    read = list(read_entries(path))
    assert [e for _, e in read] == [entry(1), entry(2), entry(3)]
    assert read[1][0] == middle
    assert read[2][0] == end
    # A backup taken at ``middle`` replays only what came after.
    assert [e for _, e in read_entries(path, after=middle)] == [entry(3)]
    assert list(read_entries(path, after=end)) == []


def test_the_log_is_made_with_its_folder_private_and_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "forget.log"
    with FileForgetLog(path) as log:
        log_id = log.log_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_log_id(path) == log_id
    assert len(log_id) == 32
    # Opening it again keeps it: same log, nothing appended.
    size = path.stat().st_size
    with FileForgetLog(path) as again:
        assert again.log_id == log_id
    assert path.stat().st_size == size
    assert [p.name for p in path.parent.iterdir()] == ["forget.log"]


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_on_a_new_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forget.log"
    with FileForgetLog(path) as log:
        log.append([entry(1)])
    whole = encode(entry(2))
    with path.open("ab") as raw:
        # A process killed in the middle of its write.
        raw.write(whole[: len(whole) // 2])
    reading = LogReading(path)
    assert [e for _, e in reading] == [entry(1)]
    assert reading.torn == 1

    with FileForgetLog(path) as log:
        log.append([entry(3)])
    reading = LogReading(path)
    assert [e for _, e in reading] == [entry(1), entry(3)]
    assert reading.torn == 1
    assert reading.end == path.stat().st_size


def test_a_line_torn_by_another_process_while_this_one_runs_does_not_swallow_its_next_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forget.log"
    with FileForgetLog(path) as log:
        log.append([entry(1)])
        with path.open("ab") as other_process:
            other_process.write(encode(entry(2))[:10])
        log.append([entry(3)])
    assert [e for _, e in read_entries(path)] == [entry(1), entry(3)]


def test_a_torn_line_of_zeros_after_a_power_loss_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "forget.log"
    with FileForgetLog(path) as log:
        log.append([entry(1)])
    with path.open("ab") as raw:
        raw.write(b"\x00" * 40)
    with FileForgetLog(path) as log:
        log.append([entry(2)])
    reading = LogReading(path)
    assert [e for _, e in reading] == [entry(1), entry(2)]
    assert reading.torn == 1


def test_each_append_is_fsynced_once_after_its_write_and_the_new_log_s_folder_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[bool, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        synced.append((stat.S_ISDIR(info.st_mode), info.st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "forget.log"
    log = FileForgetLog(path)
    # The header file, then the folder that now names it.
    assert [is_dir for is_dir, _ in synced] == [False, True]
    synced.clear()
    log.append([entry(n) for n in range(50)])
    assert synced == [(False, path.stat().st_size)]
    log.append([])
    assert len(synced) == 1
    log.close()


def test_appends_from_many_threads_are_all_read_back_whole_in_each_thread_s_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forget.log"
    threads, rounds = 8, 150
    start = threading.Barrier(threads)
    with FileForgetLog(path) as log:

        def work(t: int) -> None:
            start.wait()
            for n in range(rounds):
                log.append([entry(n, tenant=f"t{t}")] * (1 + n % 3))

        runners = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
    reading = LogReading(path)
    read = [e for _, e in reading]
    assert reading.torn == 0
    assert len(read) == threads * sum(1 + n % 3 for n in range(rounds))
    for t in range(threads):
        mine = [e.profile_ids[0] for e in read if e.tenant_id == f"t{t}"]
        assert mine == [n for n in range(rounds) for _ in range(1 + n % 3)]


_APPENDER = """
import sys
from pathlib import Path
from obliviate.domain.forgetting import ForgetEntry, ForgetKind
from obliviate.storage.forget_log import FileForgetLog
log = FileForgetLog(Path(sys.argv[1]))
for n in range(200):
    log.append([ForgetEntry(ForgetKind.SUPPRESS, tenant_id=sys.argv[2], at=n)] * 3)
"""


def test_processes_made_at_once_share_one_log_and_interleave_only_whole_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forget.log"
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), f"p{i}"]) for i in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    reading = LogReading(path)
    read = [e for _, e in reading]
    assert reading.torn == 0
    assert len(read) == 4 * 200 * 3
    for i in range(4):
        assert [e.at for e in read if e.tenant_id == f"p{i}"] == [
            n for n in range(200) for _ in range(3)
        ]


def test_an_entry_of_a_kind_this_version_does_not_know_stops_the_reader(tmp_path: Path) -> None:
    # Skipping it could skip a deletion: a restore must stop, not carry on without it.
    path = tmp_path / "forget.log"
    with FileForgetLog(path) as log:
        log.append([entry(1)])
    with path.open("ab") as raw:
        raw.write(orjson.dumps({"kind": "forget_harder", "tenant_id": "t1", "at": 1}) + b"\n")
    with pytest.raises(ForgetLogError, match="unknown kind"):
        list(read_entries(path))


def test_a_file_that_is_not_a_forget_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(ForgetLogError, match="not a forget log"):
        FileForgetLog(path)
    with pytest.raises(ForgetLogError, match="not a forget log"):
        list(read_entries(path))
    with pytest.raises(ForgetLogError, match="no forget log"):
        read_log_id(tmp_path / "missing.log")


_ids = st.tuples() | st.lists(st.integers(0, 2**63 - 1), max_size=5).map(tuple)
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_entries = st.builds(
    ForgetEntry,
    kind=st.sampled_from(ForgetKind),
    tenant_id=_text,
    at=st.integers(0, 2**63 - 1),
    profile_ids=_ids,
    device_ids=_ids,
    hashes=st.lists(st.tuples(_text, _text), max_size=4).map(tuple),
    key_id=st.none() | _text,
    revivable_until=st.none() | st.integers(0, 2**63 - 1),
    mode=st.none() | st.sampled_from(["soft", "hard"]),
    suppress=st.booleans(),
)


@given(_entries)
def test_every_entry_survives_a_line_exactly(value: ForgetEntry) -> None:
    line = encode(value)
    assert b"\n" not in line
    assert decode(line) == value


@settings(max_examples=25)
@given(st.lists(st.lists(_entries, max_size=4), max_size=6))
def test_every_batch_of_entries_reads_back_from_the_file_exactly(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[ForgetEntry]]
) -> None:
    path = tmp_path_factory.mktemp("log") / "forget.log"
    with FileForgetLog(path) as log:
        for batch in batches:
            log.append(batch)
    assert [e for _, e in read_entries(path)] == [e for batch in batches for e in batch]
