"""Jobs go only where they can run: RQ queues named by what a job needs, slots listening on
the queues of what they offer.

A run's jobs all need the same: N GPUs or none, and the host labels the run requires. That
names one queue under the fleet's base queue (`queue` in glue.yml):

    simfleet                  CPU jobs, for CPU slots
    simfleet:anyslot          CPU jobs a run lets GPU slots take too (gpu_slots_take_cpu)
    simfleet:gpu2             jobs needing 2 GPUs, for slots owning 2 or more
    simfleet:gpu1:bigmem      jobs needing 1 GPU and a host labelled bigmem

A slot listens on every queue whose needs it meets, in the order RQ should prefer them (RQ
takes from the first non-empty queue of a worker's list): a GPU slot first the GPU queues,
largest need first, then `anyslot`; a CPU slot its CPU queue, then `anyslot`; within each,
queues naming more of the host's labels first. A GPU slot never listens on the plain CPU
queue, so it takes CPU work only from runs that allowed it. Every slot listens on
`BASE:anyslot`, which is therefore also where the fleet's slots are found: each registers what
it offers (its GPU ids and labels) in its RQ worker hash, which lives exactly as long as the
worker, and a run no live slot could ever take is refused before anything is queued.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import redis
from rq import worker_registration

from glue.config import Settings
from glue.errors import GlueError

SEPARATOR = ":"
ANY_SLOT = "anyslot"
# The field of an RQ worker's hash holding what its slot offers (JSON).
OFFER_FIELD = "glue_offer"


class NoSlotCanRun(GlueError):
    """No live slot of the fleet offers what the run's jobs need."""


@dataclass(frozen=True)
class Need:
    """What every job of a run needs of its slot."""

    gpus: int = 0
    labels: tuple[str, ...] = ()
    gpu_slots_take_cpu: bool = False

    @classmethod
    def of(cls, spec: dict[str, Any]) -> Need:
        """From a run spec (or Settings' fields of the same names)."""
        return cls(
            gpus=spec.get("gpus") or 0,
            labels=tuple(sorted(set(spec.get("require") or ()))),
            gpu_slots_take_cpu=bool(spec.get("gpu_slots_take_cpu")),
        )

    def describe(self) -> str:
        parts = [f"{self.gpus} GPU(s)" if self.gpus else "no GPU"]
        if self.labels:
            parts.append("labels " + ",".join(self.labels))
        return ", ".join(parts)


@dataclass(frozen=True)
class Offer:
    """What one slot offers: the GPUs it owns (ids) and its host's labels."""

    gpus: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    @classmethod
    def of_slot(cls, gpus: tuple[str, ...], settings: Settings) -> Offer:
        return cls(tuple(gpus), tuple(sorted(set(settings.labels))))

    def to_json(self) -> str:
        return json.dumps({"gpus": list(self.gpus), "labels": list(self.labels)})

    @classmethod
    def from_json(cls, text: str | bytes) -> Offer:
        data = json.loads(text)
        return cls(tuple(data.get("gpus", ())), tuple(data.get("labels", ())))

    def can_run(self, need: Need) -> bool:
        if not set(need.labels) <= set(self.labels):
            return False
        if need.gpus:
            return len(self.gpus) >= need.gpus
        return not self.gpus or need.gpu_slots_take_cpu

    def describe(self) -> str:
        kind = f"{len(self.gpus)} GPU" if self.gpus else "CPU"
        return kind + "".join(f"+{label}" for label in self.labels)


def _name(base: str, kind: str, labels: tuple[str, ...]) -> str:
    return SEPARATOR.join([base, *([kind] if kind else []), *labels])


def queue_for(base: str, need: Need) -> str:
    """The one queue a run's jobs go to."""
    kind = f"gpu{need.gpus}" if need.gpus else (ANY_SLOT if need.gpu_slots_take_cpu else "")
    return _name(base, kind, need.labels)


def run_queue(settings: Settings) -> str:
    """The queue of a run made with these settings."""
    return queue_for(settings.queue, Need.of(vars(settings)))


def any_slot_queue(base: str) -> str:
    """The queue every slot of the fleet listens on."""
    return _name(base, ANY_SLOT, ())


def listens(base: str, offer: Offer) -> list[str]:
    """The queues a slot listens on, the one RQ should take from first, first."""
    subsets = [
        combo
        for size in range(len(offer.labels), -1, -1)
        for combo in combinations(offer.labels, size)
    ]
    if offer.gpus:
        kinds = [f"gpu{n}" for n in range(len(offer.gpus), 0, -1)] + [ANY_SLOT]
    else:
        kinds = ["", ANY_SLOT]
    return [_name(base, kind, labels) for kind in kinds for labels in subsets]


def fleet_offers(conn: redis.Redis, base: str) -> list[Offer]:
    """What each live slot of the fleet offers: one SMEMBERS and one pipelined read.

    Registrations of workers whose hash has expired (a host lost) are skipped; a worker that
    registered no offer (a plain `rq worker`) is a CPU slot without labels."""
    key = worker_registration.WORKERS_BY_QUEUE_KEY % any_slot_queue(base)
    workers = sorted(conn.smembers(key))
    with conn.pipeline(transaction=False) as pipe:
        for worker_key in workers:
            pipe.hmget(worker_key, "birth", OFFER_FIELD)
        found = pipe.execute()
    return [
        Offer.from_json(offer) if offer else Offer() for birth, offer in found if birth is not None
    ]


def refusal(offers: list[Offer], need: Need) -> str | None:
    """Why no slot among `offers` could ever run a job with this need; None if one could, or
    if no slot is registered at all (the fleet is unknown, not empty: its workers may start
    later)."""
    if not offers or any(offer.can_run(need) for offer in offers):
        return None
    counts = Counter(offer.describe() for offer in offers)
    offered = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))
    labelled = [offer for offer in offers if set(need.labels) <= set(offer.labels)]
    hint = ""
    if not need.gpus and labelled and all(offer.gpus for offer in labelled):
        hint = "; GPU slots take CPU jobs only with --gpu-slots-take-cpu"
    return (
        f"no slot of the fleet can run this run's jobs ({need.describe()}): its "
        f"{len(offers)} live slot(s) offer {offered}{hint}"
    )


def check_fleet(conn: redis.Redis, base: str, spec: dict[str, Any]) -> None:
    """Refuse, in one line, a run that no live slot of the fleet could ever take."""
    why = refusal(fleet_offers(conn, base), Need.of(spec))
    if why:
        raise NoSlotCanRun(why)


def serving(conn: redis.Redis, queue: str) -> int:
    """How many live slots listen on `queue`."""
    key = worker_registration.WORKERS_BY_QUEUE_KEY % queue
    workers = sorted(conn.smembers(key))
    with conn.pipeline(transaction=False) as pipe:
        for worker_key in workers:
            pipe.hexists(worker_key, "birth")
        return sum(pipe.execute())
