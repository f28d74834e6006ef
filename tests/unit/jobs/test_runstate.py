"""What an outcome keeps in Redis: no result, long texts cut, a bounded list of upload notes."""

from __future__ import annotations

import json

from glue.jobs.runstate import MAX_ERROR, MAX_LOG_TAIL, MAX_UPLOAD_NOTES, attempt_prefix, small


def test_an_outcome_in_redis_has_no_result_no_content_id_and_bounded_texts() -> None:
    outcome = {
        "scenario": "a.py",
        "status": "failed",
        "content": "9:" + "0" * 64,  # the queue's history keeps it
        "result": {"big": "x" * 100_000},
        "error": "e" * 10_000,
        "log_tail": "l" * 10_000 + "END",
        "notes": [f"skipped link {n}" for n in range(100)],
    }
    kept = small(outcome)
    assert "result" not in kept and "content" not in kept
    assert len(kept["error"]) == MAX_ERROR and kept["error"].endswith("...")
    assert len(kept["log_tail"]) == MAX_LOG_TAIL and kept["log_tail"].endswith("END")
    assert kept["notes"][:MAX_UPLOAD_NOTES] == outcome["notes"][:MAX_UPLOAD_NOTES]
    assert kept["notes"][-1] == f"... and {100 - MAX_UPLOAD_NOTES} more"
    assert len(json.dumps(kept)) < 3000
    assert outcome["result"]  # the caller's outcome is left as it was


def test_each_attempt_has_a_prefix_of_its_own() -> None:
    assert attempt_prefix("r1", "dir/a.py", 2) == "r1/dir/a.py/attempts/2"
