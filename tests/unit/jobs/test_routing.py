"""GPU slots and routing: which GPUs a slot owns, which queue a run's jobs go to, which
queues a slot listens on (in RQ's order of preference), and when a run is refused."""

from __future__ import annotations

import pytest

from glue.config import ConfigError, Settings
from glue.jobs import routing
from glue.jobs.executor import ExecSpec, ExecutorError
from glue.jobs.process_executor import gpu_environment
from glue.jobs.routing import Need, Offer
from glue.jobs.slot import Slot


def owned(slots: int, **settings) -> list[tuple[str, ...]]:
    config = Settings(slots=slots, **settings)
    return [Slot("h", n, "w", config).gpus for n in range(1, slots + 1)]


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        (1, [("0",)]),
        (2, [("0",), ("1",)]),
        (4, [("0",), ("1",), ("2",), ("3",)]),
    ],
)
def test_slot_i_owns_gpu_i_minus_1(gpus: int, expected) -> None:
    devices = [str(i) for i in range(gpus)]
    assert owned(gpus, gpu_devices=devices) == expected


def test_two_gpus_per_slot() -> None:
    devices = ["0", "1", "2", "3"]
    assert owned(2, gpu_devices=devices, gpus_per_slot=2) == [("0", "1"), ("2", "3")]
    # An odd GPU left over goes to the last GPU slot rather than sitting idle.
    assert owned(2, gpu_devices=devices[:3], gpus_per_slot=2) == [("0", "1"), ("2",)]


def test_slots_past_the_last_gpu_are_cpu_slots() -> None:
    assert owned(4, gpu_devices=["0"]) == [("0",), (), (), ()]
    assert owned(3, gpu_devices=["0", "1"], gpus_per_slot=2) == [("0", "1"), (), ()]
    assert owned(2) == [(), ()]


def test_ids_are_kept_as_given_uuids_included() -> None:
    uuids = ["GPU-1a2b", "GPU-3c4d"]
    assert owned(2, gpu_devices=uuids) == [("GPU-1a2b",), ("GPU-3c4d",)]


def test_slot_zero_a_local_run_owns_every_gpu() -> None:
    assert Slot("h", 0, "", Settings(gpu_devices=["0", "1"])).gpus == ("0", "1")


def test_a_job_gets_the_first_n_of_its_slots_gpus_or_an_executor_error() -> None:
    spec = ExecSpec(command=["true"], scenario_file="s.py", timeout=1, name="n", host="h", gpus=2)
    assert spec.gpu_ids(("2", "3", "4"), "h/2") == ["2", "3"]
    with pytest.raises(ExecutorError, match=r"asks for 2 GPU\(s\) but slot h/2 owns 1"):
        spec.gpu_ids(("2",), "h/2")
    assert ExecSpec(["true"], "s.py", 1, "n", "h").gpu_ids((), "h/1") == []


def test_a_process_job_sees_its_gpus_and_a_cpu_job_none() -> None:
    assert gpu_environment(["1", "3"]) == {
        "NVIDIA_VISIBLE_DEVICES": "1,3",
        "CUDA_VISIBLE_DEVICES": "1,3",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }
    none = gpu_environment([])
    assert none["NVIDIA_VISIBLE_DEVICES"] == "void" and none["CUDA_VISIBLE_DEVICES"] == ""


@pytest.mark.parametrize(
    ("need", "queue"),
    [
        (Need(), "simfleet"),
        (Need(gpu_slots_take_cpu=True), "simfleet:anyslot"),
        (Need(gpus=1), "simfleet:gpu1"),
        (Need(gpus=2, gpu_slots_take_cpu=True), "simfleet:gpu2"),
        (Need(labels=("bigmem",)), "simfleet:bigmem"),
        (Need(gpus=1, labels=("bigmem", "ssd")), "simfleet:gpu1:bigmem:ssd"),
    ],
)
def test_a_runs_queue_is_named_by_its_need(need: Need, queue: str) -> None:
    assert routing.queue_for("simfleet", need) == queue


def test_a_runs_labels_are_sorted_and_deduplicated() -> None:
    need = Need.of({"gpus": 1, "require": ["ssd", "bigmem", "ssd"]})
    assert need.labels == ("bigmem", "ssd")
    settings = Settings(gpus=1, require=["ssd", "bigmem"], queue="q")
    assert routing.run_queue(settings) == "q:gpu1:bigmem:ssd"


def test_a_cpu_slot_listens_on_cpu_queues_never_a_gpu_one() -> None:
    assert routing.listens("q", Offer()) == ["q", "q:anyslot"]
    assert routing.listens("q", Offer(labels=("bigmem",))) == [
        "q:bigmem",
        "q",
        "q:anyslot:bigmem",
        "q:anyslot",
    ]


def test_a_gpu_slot_takes_gpu_jobs_first_and_cpu_jobs_only_from_runs_that_allow_it() -> None:
    queues = routing.listens("q", Offer(gpus=("0", "1"), labels=("bigmem", "ssd")))
    assert queues[:4] == ["q:gpu2:bigmem:ssd", "q:gpu2:bigmem", "q:gpu2:ssd", "q:gpu2"]
    assert queues[4:8] == ["q:gpu1:bigmem:ssd", "q:gpu1:bigmem", "q:gpu1:ssd", "q:gpu1"]
    assert queues[8:] == ["q:anyslot:bigmem:ssd", "q:anyslot:bigmem", "q:anyslot:ssd", "q:anyslot"]
    assert "q" not in queues and "q:bigmem" not in queues


def test_every_run_queue_is_listened_on_by_exactly_the_slots_that_can_run_it() -> None:
    offers = [
        Offer(),
        Offer(labels=("bigmem",)),
        Offer(gpus=("0",)),
        Offer(gpus=("0", "1"), labels=("bigmem",)),
    ]
    needs = [
        Need(gpus=g, labels=labels, gpu_slots_take_cpu=take)
        for g in (0, 1, 2, 3)
        for labels in ((), ("bigmem",), ("ssd",))
        for take in (False, True)
    ]
    for need in needs:
        queue = routing.queue_for("q", need)
        for offer in offers:
            assert (queue in routing.listens("q", offer)) == offer.can_run(need), (need, offer)


def test_every_slot_listens_on_the_fleet_queue() -> None:
    for offer in (Offer(), Offer(gpus=("0",)), Offer(labels=("a", "b"))):
        assert routing.any_slot_queue("q") in routing.listens("q", offer)


def test_a_run_no_live_slot_could_take_is_refused_in_one_line() -> None:
    fleet = [Offer(), Offer(), Offer(gpus=("0",))]
    assert routing.refusal(fleet, Need(gpus=1)) is None
    assert routing.refusal(fleet, Need()) is None
    why = routing.refusal(fleet, Need(gpus=2))
    assert why == (
        "no slot of the fleet can run this run's jobs (2 GPU(s)): its 3 live slot(s) offer "
        "1 GPU x1, CPU x2"
    )
    why = routing.refusal(fleet, Need(labels=("bigmem",)))
    assert "(no GPU, labels bigmem)" in why and "\n" not in why


def test_cpu_jobs_on_a_fleet_of_gpu_slots_name_the_setting_that_allows_them() -> None:
    fleet = [Offer(gpus=("0",)), Offer(gpus=("1",))]
    assert "--gpu-slots-take-cpu" in routing.refusal(fleet, Need())
    assert routing.refusal(fleet, Need(gpu_slots_take_cpu=True)) is None


def test_an_unknown_fleet_refuses_nothing() -> None:
    """No slot registered yet: the workers may start after the run is queued."""
    assert routing.refusal([], Need(gpus=8)) is None


def test_offers_round_trip_through_a_workers_hash() -> None:
    offer = Offer.of_slot(("2", "3"), Settings(labels=["ssd", "bigmem"]))
    assert offer == Offer(("2", "3"), ("bigmem", "ssd"))
    assert Offer.from_json(offer.to_json()) == offer
    assert offer.describe() == "2 GPU+bigmem+ssd"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"labels": ["Big"]}, "labels: 'Big' is not a label"),
        ({"require": ["a:b"]}, "require: 'a:b' is not a label"),
        ({"labels": ["gpu2"]}, "not gpu, gpuN or anyslot"),
        ({"require": ["anyslot"]}, "not gpu, gpuN or anyslot"),
        ({"labels": ["a", "b", "c", "d", "e"]}, "labels: at most 4 per host"),
        ({"gpu_devices": ["0", "0"]}, "a GPU is listed twice"),
        ({"gpu_devices": ["0,1"]}, "'0,1' is not a GPU index or UUID"),
        ({"gpus_per_slot": 0}, "gpus_per_slot must be at least 1"),
    ],
)
def test_bad_gpu_and_label_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(**settings)
