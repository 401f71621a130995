"""A journal written by tunelab before the journal schema was versioned (one-letter keys, no version)
still resumes: the experiment is killed, its journal rewritten in that old form, and the resumed run
finishes every trial with exactly one history, appending new-form lines after the old ones."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from persist_tools import assert_exact, kill_after, run, start

ITERATIONS = 15
_V1_FIELDS = {"trial_id": "id", "status": "s", "num_failures": "f", "logdir": "dir", "error_file": "err"}
_V1_EVENTS = {"header": "header", "trial_added": "add", "status": "status", "checkpoint": "ckpt",
              "exploit": "config"}


def _as_version_1(event):
    """One journal event as tunelab wrote it before the schema was versioned."""
    kind = event.pop("event")
    event.pop("version", None)
    event.pop("score", None)
    if kind == "exploit":
        event.pop("checkpoint", None)
    return {"e": _V1_EVENTS[kind], **{_V1_FIELDS.get(k, k): v for k, v in event.items()}}


@pytest.mark.timeout(60)
def test_a_version_1_journal_resumes(tmp_path):
    exp = tmp_path / "exp"
    proc = start(tmp_path, ITERATIONS, sleep=0.05)
    kill_after(proc, exp, rows=10)
    journal = exp / ".tunelab" / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    complete, torn = lines[:-1], lines[-1]
    old = [json.dumps(_as_version_1(json.loads(line)), separators=(",", ":")).encode() for line in complete]
    assert all(b'"event"' not in line for line in old) and old[0].startswith(b'{"e":"header"')
    journal.write_bytes(b"\n".join(old) + b"\n" + torn)

    code, _out, err = run(tmp_path, ITERATIONS, sleep=0.01)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)
    resumed = [json.loads(line) for line in journal.read_bytes().splitlines()]
    assert resumed[: len(old)] == [json.loads(line) for line in old]  # the old lines stay as they were
    appended = resumed[len(old):]
    assert appended and all("event" in event and "e" not in event for event in appended)  # the current form
