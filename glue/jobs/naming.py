"""Run ids and job ids.

A job id is a pure function of the run id, the run's source and the scenario key. That is what
makes a second `glue run` with the same id queue nothing twice and lets a resumed run find the
scenarios it already finished; the source is in it so that scenarios of another source with the
same keys (a run id used again once its run was deleted) are other jobs, not "already queued".
"""

from __future__ import annotations

import hashlib
import re

from glue.errors import GlueError

# Run ids end up in RQ job ids, container names and result paths: keep them to a safe alphabet.
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DIGEST_CHARS = 24


def check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.match(run_id):
        raise GlueError(
            f"bad run id {run_id!r}: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return run_id


def job_id(run_id: str, source: str, scenario: str) -> str:
    """`<run>-<hash of run, source and scenario>`: valid for RQ (letters, digits, - and _)."""
    key = f"{run_id}\0{source}\0{scenario}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:DIGEST_CHARS]
    return f"{run_id}-{digest}"
