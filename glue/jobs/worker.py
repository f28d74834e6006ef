"""`glue worker`: N RQ workers on this host (one per job slot), tuned so no job is lost.

RQ already brings back the job of a worker that died: a running job's entry in the started
registry lives only as long as its heartbeat, and a worker's maintenance pass retries (or
fails) entries whose heartbeat stopped. GlueWorker tunes that and closes the gaps around it:

- a slot runs its jobs in its own process, as RQ's SimpleWorker does, not in a work horse
  forked per job: the scenario already runs apart, in its container or as the slot's own
  account, and its timeout and cleanup are the executor's. The slot keeps its Redis, S3 and
  Docker clients from job to job;
- once a job's command has ended, a finisher thread uploads what it left and does RQ's
  success or failure handling while the slot starts its next job: the S3 writes and Redis
  bookkeeping between two commands are off the slot's path. At most one job is being
  finished, so a slot has at most two jobs in flight; both stay in the started registry;
- a thread of the slot beats for its jobs in flight every `heartbeat` seconds, and a job
  counts as abandoned after three missed beats (RQ would wait the interval plus 60 s);
- maintenance every `maintenance_interval` seconds, also on idle workers, whose blocking
  dequeue RQ otherwise lets run for minutes. With the defaults (10 s, 30 s) a dead host's job
  is back in the queue within about a minute;
- a slot told to stop (SIGTERM / SIGINT) interrupts its running job at once (the executor
  removes the container or kills the slot account's processes) and puts it back at the front
  of the queue without spending one of its retries, instead of letting it run on; RQ's
  stop-job command interrupts it the same way and the job ends `stopped`;
- a slot that starts kills what its account still runs and removes job containers whose
  owner process is gone: what a slot killed outright leaves (its job comes back through the
  lost-job path); maintenance removes such containers too;
- a worker whose registration Redis lost (flushed, or restarted without its data) registers
  again at its next heartbeat, with its running job's bookkeeping (glue.jobs.registration);
- a slot paused for executor errors (glue.jobs.pause) takes no job until its pause ends, and
  keeps its heartbeats and maintenance meanwhile;
- RQ's scheduler runs (in one worker of the fleet at a time), so the growing intervals of
  the retries those errors ask for are honoured; it connects the way glue does, which RQ's
  own reconnection cannot with sentinels.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import docker.errors
from rq.callbacks import execute_stopped_callback
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty
from rq.utils import now
from rq.worker import Worker, WorkerStatus
from rq.worker_pool import WorkerData, WorkerPool

from glue.config import Settings
from glue.jobs import (
    connection,
    docker_executor,
    executor,
    locations,
    pause,
    process_executor,
    registration,
    routing,
    slot,
)
from glue.jobs.job import PendingUpload, ScenarioFailed
from glue.jobs.submit import KEEP_SECONDS

log = logging.getLogger("glue.worker")

MISSED_HEARTBEATS = 3
# The worker's own beat needs no more than one a second (its key lives worker_ttl + 60 s).
BEAT_GAP = 1.0
# RQ's stop-job command arrives in the pubsub thread; this signal takes it to the main thread,
# which runs the job.
STOP_JOB_SIGNAL = signal.SIGUSR1
PR_SET_PDEATHSIG = 1
_fork = multiprocessing.get_context("fork")


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` to this process when its parent dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def reap_containers(host: str) -> None:
    try:
        removed = docker_executor.reap_orphans(host)
    except docker.errors.DockerException:
        return  # no Docker engine on this host: it runs no containers to clean up
    if removed:
        log.warning("removed %d job container(s) whose owner process was gone", removed)


def host_name(settings: Settings) -> str:
    return settings.host_name or socket.gethostname()


class GlueScheduler(RQScheduler):
    """RQ's scheduler, on a connection made by glue (sentinels included), and stopping with
    the worker that started it."""

    def __init__(self, *args, settings: Settings, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings

    @property
    def connection(self):
        if self._connection is None:
            self._connection = connection.for_settings(self.settings, patient=True)
        return self._connection

    def work(self) -> None:
        die_with_parent()
        super().work()


class _Beats:
    """The heartbeats of the slot's jobs in flight, from a thread that lives as long as the
    slot: every job_monitoring_interval while any job is in flight, the first one an interval
    after the slot got busy (a job's start is its first beat).

    A beat is sent holding the lock, and stop() takes the lock: once stop(job) returns no beat
    of that job is in flight, so none lands after the job's end (it would put the job back in
    the started registry)."""

    def __init__(self, worker: GlueWorker) -> None:
        self._worker = worker
        self._lock = threading.Condition()
        self._jobs: dict[str, tuple[Job, Execution]] = {}
        self._due = 0.0
        threading.Thread(target=self._run, name="glue-heartbeats", daemon=True).start()

    def start(self, job: Job, execution: Execution) -> None:
        with self._lock:
            if not self._jobs:
                self._due = time.monotonic() + self._worker.job_monitoring_interval
                self._lock.notify()
            self._jobs[job.id] = (job, execution)

    def stop(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def _run(self) -> None:
        with self._lock:
            while True:
                if not self._jobs:
                    self._lock.wait()
                    continue
                left = self._due - time.monotonic()
                if left > 0:
                    self._lock.wait(left)
                    continue
                for job, execution in list(self._jobs.values()):
                    try:
                        self._worker.maintain_heartbeats(job, execution)
                    except Exception:  # Redis away: the next beat tries again
                        log.warning("worker %s: heartbeat failed", self._worker.name, exc_info=True)
                self._due = time.monotonic() + self._worker.job_monitoring_interval


class _Finisher:
    """One thread that completes the slot's jobs after their command, one job at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glue-finisher")
        self._last: Future | None = None

    def submit(self, finish, *args) -> None:
        """Finish a job once the one before it is finished (so at most two are in flight)."""
        self.wait()
        self._last = self._pool.submit(finish, *args)

    def wait(self) -> None:
        """Until the job being finished is done. What it raised (Redis gone, a bug) is raised
        here, in the slot's work loop, which quits on it as when the slot finished its jobs
        itself; the job, still in the started registry, comes back as a lost job."""
        last, self._last = self._last, None
        if last is not None:
            last.result()


class _DeathPenalty(UnixSignalDeathPenalty):
    """RQ's SIGALRM time limit, in the slot's main thread only: a signal reaches no other
    thread. The finisher's S3 and Redis calls carry their own timeouts."""

    def setup_death_penalty(self) -> None:
        if threading.current_thread() is threading.main_thread():
            super().setup_death_penalty()

    def cancel_death_penalty(self) -> None:
        if threading.current_thread() is threading.main_thread():
            super().cancel_death_penalty()


class GlueWorker(Worker):
    """RQ's worker with the changes listed at the top of this module."""

    death_penalty_class = _DeathPenalty

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._requeue_job_id: str | None = None
        self.offer = routing.Offer()
        self._beats: _Beats | None = None
        self._finisher = _Finisher()
        # The job whose command runs in the main thread (a stop interrupts only that one).
        self._running: Job | None = None
        self._beaten = -BEAT_GAP

    def serialize(self) -> dict:
        # What the slot offers lives in its RQ worker hash, registered and expired with it.
        return {**super().serialize(), routing.OFFER_FIELD: self.offer.to_json()}

    @property
    def dequeue_timeout(self) -> int:
        # Wake up in time for maintenance and heartbeats even when the queue stays empty.
        wake = min(self.worker_ttl - 15, self.maintenance_interval, self.job_monitoring_interval)
        return max(1, wake)

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        """RQ's worker beat, part of another pipeline as RQ gives it, else at most once per
        BEAT_GAP (RQ beats about three times per job, each three round trips) in one
        pipeline, with the check that the worker is still registered."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        if time.monotonic() - self._beaten < BEAT_GAP:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()
        self._beaten = time.monotonic()
        self._stay_registered()

    def maintain_heartbeats(self, job: Job, execution) -> None:
        super().maintain_heartbeats(job, execution)
        self._stay_registered()

    def _stay_registered(self) -> None:
        if registration.lost(self):
            registration.register_again(self)

    def set_state(self, state: str, pipeline=None) -> None:
        """RQ's, minus the round trip when the state is the one already written: RQ writes
        `idle` twice between two jobs. Only this worker writes its state, and a registration
        Redis lost is written again whole, state included (glue.jobs.registration)."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.job_monitoring_interval * MISSED_HEARTBEATS

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        reap_containers(slot.current().host)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own start of the scheduler, with GlueScheduler in place of RQScheduler."""
        self.scheduler = GlueScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level or self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
            settings=slot.current().settings,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        self._wait_while_paused()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def _wait_while_paused(self) -> None:
        """Take no job while this slot's pause lasts (stay alive and registered meanwhile), nor
        for the moment it holds after handing a job back."""
        here = slot.current()
        name = pause.slot_name(here.host, here.number)
        said = False
        while not self._stop_requested:
            paused, held = pause.standing(self.connection, name)
            if paused is None:
                break
            if not said:
                self.log.warning("Worker %s: %s", self.name, paused.line())
                self.procline(paused.line())
                # Not busy: a stop signal now ends the worker at once, as when it is idle.
                self.set_state(WorkerStatus.SUSPENDED)
                said = True
            self.heartbeat()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            time.sleep(min(self.dequeue_timeout, 1))
        if said:
            self.log.info("Worker %s: %s takes jobs again", self.name, name)
        while not self._stop_requested and held:
            time.sleep(0.2)
            held = pause.standing(self.connection, name)[1]

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        signal.signal(STOP_JOB_SIGNAL, self._stop_running_job)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job in this process, as RQ's SimpleWorker does, with heartbeats from the
        beat thread meanwhile."""
        executor.clear_interrupt()
        if self._beats is None:
            self._beats = _Beats(self)
        execution = self.prepare_execution(job)
        self._beats.start(job, execution)
        self._running = job
        try:
            self.perform_job(job, queue, execution)
        except BaseException:
            self._beats.stop(job)
            raise
        finally:
            self._running = None
        self.set_state(WorkerStatus.IDLE)

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        """RQ's perform_job up to the end of the job's command; a PendingUpload it returns is
        finished (upload, then RQ's success or failure handling) by the finisher."""
        try:
            self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
            job.started_at = now()
            timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                returned = job.perform()
        except BaseException:  # as RQ: whatever the job raised is its failure
            self._finalize_failure(job, queue, execution, sys.exc_info())
            return False
        if isinstance(returned, PendingUpload):
            self._finisher.submit(self._finish, job, queue, execution, returned)
        else:
            self._finalize_success(job, queue, execution, returned)
        return True

    def _finish(self, job: Job, queue: Queue, execution: Execution, pending: PendingUpload) -> None:
        """In the finisher thread: the job's upload, then RQ's handling of how it went."""
        try:
            outcome = pending.finish()
        except BaseException:
            self._finalize_failure(job, queue, execution, sys.exc_info())
        else:
            self._finalize_success(job, queue, execution, outcome)
        finally:
            self._beats.stop(job)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        if self._beats is not None:
            self._beats.stop(job)  # no beat after the job's end
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def teardown(self) -> None:
        """The job being finished completes before the slot unregisters."""
        try:
            self._finisher.wait()
        except Exception:
            self.log.exception("Worker %s: finishing its last job failed", self.name)
        super().teardown()

    def request_stop(self, signum, frame) -> None:
        """SIGTERM / SIGINT: RQ's warm shutdown (which raises StopRequested when idle), and a
        running job is interrupted, to be put back in its queue."""
        busy = self.get_state() == WorkerStatus.BUSY
        super().request_stop(signum, frame)
        if busy:
            executor.interrupt("the worker is stopping")

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """RQ's stop-job command, called in the pubsub thread (RQ's own would kill this process
        group, there being no horse): the main thread, running the job, is told by a signal."""
        if self._running is not None:
            os.kill(os.getpid(), STOP_JOB_SIGNAL)

    def _stop_running_job(self, signum, frame) -> None:
        running = self._running
        if running is not None and self._stopped_job_id == running.id:
            executor.interrupt("stopped on request")

    def handle_exception(self, job: Job, *exc_info) -> None:
        """A scenario that failed is an answer, not a bug in glue: one line, no traceback."""
        error = exc_info[1]
        if not isinstance(error, Exception) and job.id != self._stopped_job_id:
            # Interrupted by the worker's stop (or the worker exiting): not the job's failure.
            self._requeue_job_id = job.id
        if isinstance(error, (ScenarioFailed, executor.Interrupted)):
            self.log.warning("Worker %s: job %s: %s", self.name, job.id, error)
            return
        super().handle_exception(job, *exc_info)

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry=None, exc_string="", execution=None
    ) -> None:
        if job.id == self._stopped_job_id:
            # RQ calls the stopped callback only for a killed horse.
            try:
                execute_stopped_callback(job, self.death_penalty_class)
            except Exception:
                self.log.exception("Worker %s: stopped callback of job %s", self.name, job.id)
        if job.id != self._requeue_job_id:
            super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
            return
        self._requeue_job_id = None
        log.info("worker %s: job %s put back in the queue", self.name, job.id)
        with self.connection.pipeline() as pipe:
            pipe.multi()  # one transaction: enqueue_job would start it after our first command
            self.cleanup_execution(job, pipeline=pipe, execution=execution)
            queue.enqueue_job(job, pipeline=pipe, at_front=True)
            pipe.execute()


def _run_slot(name: str, number: int, settings: Settings, burst: bool, level: str) -> None:
    """Body of one worker process of the pool."""
    # Forked with the pool's handlers, which would make a stop signal arriving before work()
    # installs the worker's own handlers stop the pool's copy instead of this process.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()  # a pool killed outright takes its workers along (they requeue jobs)
    here = slot.Slot(host_name(settings), number, name, settings)
    slot.set_current(here)
    slot.workdir()
    # What a slot killed outright left in this slot: its account's processes, its containers.
    process_executor.kill_leftovers()
    reap_containers(here.host)
    if settings.s3_endpoint_url:
        locations.shared_client(settings.s3_endpoint_url)
    conn = connection.for_settings(settings, patient=True)
    offer = routing.Offer.of_slot(here.gpus, settings)
    worker = GlueWorker(
        [connection.queue(conn, q) for q in routing.listens(settings.queue, offer)],
        name=name,
        connection=conn,
        serializer=JSONSerializer,
        job_monitoring_interval=settings.heartbeat,
        maintenance_interval=settings.maintenance_interval,
        default_result_ttl=KEEP_SECONDS,
    )
    worker.offer = offer
    worker.work(burst=burst, logging_level=level, with_scheduler=True)


class SlotPool(WorkerPool):
    """RQ's worker pool, with numbered slots and GlueWorkers built from our settings.

    A worker that dies is started again in the same slot (unless in burst mode).
    """

    def __init__(self, settings: Settings, conn) -> None:
        super().__init__(
            [settings.queue],
            conn,
            num_workers=settings.slots,
            worker_class=GlueWorker,
            serializer=JSONSerializer,
        )
        self.settings = settings
        self.host = host_name(settings)
        self._slots: dict[str, int] = {}

    def start_worker(self, count=None, burst=True, _sleep=0, logging_level="INFO") -> None:
        number = min(set(range(1, self.num_workers + 1)) - set(self._slots.values()))
        name = f"{self.host}.{number}.{uuid.uuid4().hex[:8]}"
        process = _fork.Process(
            target=_run_slot,
            args=(name, number, self.settings, burst, logging_level),
            name=f"glue worker {name}",
        )
        process.start()
        self.worker_dict[name] = WorkerData(name=name, pid=process.pid, process=process)
        self._slots[name] = number

    def handle_dead_worker(self, worker_data: WorkerData) -> None:
        super().handle_dead_worker(worker_data)
        self._slots.pop(worker_data.name, None)


def run_pool(settings: Settings, burst: bool, logging_level: str) -> None:
    conn = connection.for_settings(settings, patient=True)
    reap_containers(host_name(settings))
    SlotPool(settings, conn).start(burst=burst, logging_level=logging_level)
