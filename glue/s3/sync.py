"""`glue sync`: make a local folder match an S3 prefix, or an S3 prefix match a local folder.

Correctness first: objects are compared by size AND ETag (a same-size change is caught), every
write goes through a temp file renamed into place, unsafe keys are refused by name, and
transient failures are retried. Then speed: one listing, a stat per local file thanks to the
state file (glue.s3.local), downloads on libcurl's multi interface (glue.s3.download), and
uploads and deletes on one shared client from a thread pool as large as its connection pool.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import mimetypes
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import botocore.exceptions

from glue.atomic import AtomicFile
from glue.errors import GlueError
from glue.s3 import etag as etags
from glue.s3.client import (
    S3Client,
    S3Settings,
    S3Url,
    is_s3_url,
    make_client,
    make_session,
    parse_s3_url,
    tls_verify,
)
from glue.s3.download import Downloader, Outcome, Response
from glue.s3.keys import Filters, is_dir_marker, refusal
from glue.s3.listing import Remote, list_remote
from glue.s3.local import Entry, LocalFile, State, folder_lock, scan
from glue.s3.retries import TransientError, with_retries

DEFAULT_CONCURRENCY = 16
# select(), which libcurl's multi interface is driven with here, handles fds below 1024.
MAX_CONCURRENCY = 256
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024

# What one transfer or delete ends with: the state entry (None for a delete) and the bytes.
Done = tuple[Entry | None, int]


@dataclasses.dataclass(frozen=True)
class Options:
    delete: bool = False
    dry_run: bool = False
    filters: Filters = dataclasses.field(default_factory=Filters)
    concurrency: int = DEFAULT_CONCURRENCY


@dataclasses.dataclass
class Summary:
    transferred: int = 0
    unchanged: int = 0
    deleted: int = 0
    refused: int = 0
    failed: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.refused == 0

    def line(self, dry_run: bool = False) -> str:
        verb = "would be " if dry_run else ""
        return (
            f"{self.transferred} {verb}transferred, {self.unchanged} unchanged, "
            f"{self.deleted} {verb}deleted, {self.refused} refused, {self.failed} failed; "
            f"{self.bytes:,} bytes in {self.seconds:.2f} s"
        )


class Events(Protocol):
    """What a sync tells its caller while it runs (the CLI prints it)."""

    def problem(self, kind: str, name: str, reason: str) -> None: ...
    def planned(self, action: str, name: str) -> None: ...
    def progress(self, done: int, total: int, nbytes: int) -> None: ...


def describe(exc: BaseException) -> str:
    """One line for a failed object."""
    if isinstance(exc, IsADirectoryError):
        return "clashes with a local folder of the same name"
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return "clashes with a local file where its folder should be"
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code')}: {err.get('Message') or f'HTTP {status}'}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def folder_clashes(rels: set[str]) -> set[str]:
    """Keys that are also the folder of other keys ("a" next to "a/b"): both cannot exist."""
    folders = {rel[:i] for rel in rels for i, c in enumerate(rel) if c == "/"}
    return rels & folders


class ObjectFile:
    """One attempt at downloading an object: the bytes go to a temp file and an MD5, and
    finish() checks length and (single-part) MD5 before the file takes its final name."""

    def __init__(self, path: Path) -> None:
        self.atomic = AtomicFile(path)
        self.md5 = hashlib.md5()
        self.received = 0

    def write(self, data: bytes) -> None:
        self.atomic.file.write(data)
        self.md5.update(data)
        self.received += len(data)

    def finish(self, response: Response) -> tuple[Entry, int]:
        etag = etags.normalize(response.etag)
        if response.size >= 0 and self.received != response.size:
            raise TransientError(f"got {self.received} of {response.size} bytes")
        if not etags.is_multipart(etag) and self.md5.hexdigest() != etag:
            raise TransientError("content does not match its ETag")
        st = self.atomic.commit(response.last_modified)
        return Entry(etag, st.st_size, st.st_mtime_ns), self.received

    def discard(self) -> None:
        self.atomic.discard()


class Syncer:
    """One run of `glue sync`: plan, then transfer and delete on a shared client."""

    def __init__(
        self,
        url: S3Url,
        root: Path,
        client: S3Client,
        downloader: Downloader,
        options: Options,
        events: Events,
    ) -> None:
        self.url = url
        self.root = root
        self.client = client
        self.downloader = downloader
        self.options = options
        self.events = events
        self.summary = Summary()
        self.state = State(root)
        self.made_dirs: set[Path] = set()

    def key_name(self, rel: str) -> str:
        return f"s3://{self.url.bucket}/{self.url.folder}{rel}"

    def file_name(self, rel: str) -> str:
        return str(self.root / rel)

    # -- downloads -----------------------------------------------------------------------

    def open_download(self, rel: str) -> ObjectFile:
        """Where the download of `rel` goes; its folder is made on first use."""
        path = self.root / rel
        if path.parent not in self.made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made_dirs.add(path.parent)
        return ObjectFile(path)

    def plan_download(
        self, remote: list[Remote], local: dict[str, LocalFile], old: dict[str, Entry]
    ) -> tuple[list[str], list[str]]:
        """Which keys to fetch and which local files to delete; unchanged ones go to the state."""
        wanted: dict[str, Remote] = {}
        for obj in remote:
            rel = obj.key[len(self.url.folder) :]
            if is_dir_marker(rel) or not self.options.filters.allows(rel):
                continue
            reason = refusal(rel)
            if reason:
                self.summary.refused += 1
                self.events.problem("refused", self.key_name(rel), reason)
                continue
            wanted[rel] = obj
        for rel in sorted(folder_clashes(set(wanted))):
            del wanted[rel]
            self.summary.failed += 1
            self.events.problem(
                "failed", self.key_name(rel), "key clashes with a folder of other keys"
            )
        fetch = []
        for rel, obj in wanted.items():
            have, entry = local.get(rel), old.get(rel)
            if entry and entry.matches(have) and (entry.etag, entry.size) == (obj.etag, obj.size):
                self.state.entries[rel] = entry
            elif (
                have
                and have.size == obj.size
                and etags.file_matches(self.root / rel, obj.etag, obj.size)
            ):
                # No (valid) state for this file, but its content proves it is current.
                self.state.entries[rel] = Entry(obj.etag, have.size, have.mtime_ns)
            else:
                fetch.append(rel)
                continue
            self.summary.unchanged += 1
        delete = []
        if self.options.delete:
            delete = sorted(
                rel
                for rel in local
                if rel not in wanted and self.options.filters.allows(rel) and not refusal(rel)
            )
        return fetch, delete

    # -- uploads -------------------------------------------------------------------------

    def put(self, rel: str) -> tuple[Entry, int]:
        """Upload one file; small ones in one PUT with Content-MD5, big ones in parts."""
        path = self.root / rel
        key = self.url.folder + rel
        st = path.stat()  # before reading: a change while uploading shows up next time
        content_type = mimetypes.guess_type(rel)[0] or "binary/octet-stream"
        if st.st_size < MULTIPART_THRESHOLD:
            data = path.read_bytes()
            resp = self.client.put_object(
                Bucket=self.url.bucket,
                Key=key,
                Body=data,
                ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),
                ContentType=content_type,
            )
        else:
            resp = self.put_parts(path, key, content_type)
        etag = etags.normalize(resp["ETag"])
        return Entry(etag, st.st_size, st.st_mtime_ns), st.st_size

    def put_parts(self, path: Path, key: str, content_type: str) -> dict:
        """A multipart upload in PART_SIZE parts, one after the other (the pool already runs
        one file per worker); aborted on failure so no orphaned parts stay on the server."""
        bucket = self.url.bucket
        upload = self.client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            with path.open("rb") as f:
                while data := f.read(PART_SIZE):
                    number = len(parts) + 1
                    resp = self.client.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                        ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),
                    )
                    parts.append({"ETag": resp["ETag"], "PartNumber": number})
            return self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    def plan_upload(
        self, listing: list[Remote], local: dict[str, LocalFile], old: dict[str, Entry]
    ) -> tuple[list[str], list[str]]:
        """Which files to upload and which keys to delete; unchanged ones go to the state."""
        remote: dict[str, Remote] = {}
        for obj in listing:
            rel = obj.key[len(self.url.folder) :]
            if not is_dir_marker(rel):
                remote[rel] = obj
        put = []
        for rel, have in sorted(local.items()):
            if not self.options.filters.allows(rel):
                continue
            reason = refusal(rel)
            if reason:
                self.summary.refused += 1
                self.events.problem("refused", self.file_name(rel), reason)
                continue
            obj, entry = remote.get(rel), old.get(rel)
            if obj is None or obj.size != have.size:
                put.append(rel)
            elif entry and entry.matches(have):
                if entry.etag != obj.etag:
                    put.append(rel)
                    continue
                self.state.entries[rel] = entry
                self.summary.unchanged += 1
            elif etags.file_matches(self.root / rel, obj.etag, obj.size):
                self.state.entries[rel] = Entry(obj.etag, have.size, have.mtime_ns)
                self.summary.unchanged += 1
            else:
                put.append(rel)
        delete = []
        if self.options.delete:
            delete = sorted(
                rel for rel in remote if rel not in local and self.options.filters.allows(rel)
            )
        return put, delete

    def delete_remote(self, rel: str) -> tuple[None, int]:
        self.client.delete_object(Bucket=self.url.bucket, Key=self.url.folder + rel)
        return None, 0

    def delete_local(self, rel: str) -> tuple[None, int]:
        (self.root / rel).unlink(missing_ok=True)
        return None, 0

    # -- running -------------------------------------------------------------------------

    def in_threads(self, work: Callable[[str], Done], rels: list[str]) -> Iterator[Outcome[Done]]:
        """Run `work` on every item in `concurrency` threads, each item retried on its own;
        yield the outcomes as they come.

        Workers take the next item themselves and hand results back through a queue: a lock
        and a queue put per item. (A Future per item, waited on from this thread, cost a third
        of the CPU of a sync of small files.)
        """
        results: queue.SimpleQueue = queue.SimpleQueue()
        todo = iter(rels)
        take = threading.Lock()
        stop = threading.Event()

        def worker() -> None:
            while not stop.is_set():
                with take:
                    rel = next(todo, None)
                if rel is None:
                    return
                try:
                    results.put((rel, with_retries(functools.partial(work, rel)), None))
                except Exception as exc:
                    results.put((rel, None, exc))

        count = min(self.options.concurrency, len(rels))
        threads = [threading.Thread(target=worker, name="glue-sync") for _ in range(count)]
        for thread in threads:
            thread.start()
        try:
            for _ in rels:
                yield results.get()
        finally:
            stop.set()  # on Ctrl-C: workers finish the object in hand and take no more
            for thread in threads:
                thread.join()

    def record(
        self,
        outcomes: Iterator[Outcome[Done]],
        total: int,
        name: Callable[[str], str],
        deleting: bool,
    ) -> None:
        """Count and report each outcome and keep the state, all in this thread, so the
        summary, the state and the output need no locks."""
        with contextlib.closing(outcomes):
            for done, (rel, result, exc) in enumerate(outcomes, 1):
                if exc is not None:
                    self.state.entries.pop(rel, None)
                    self.summary.failed += 1
                    self.events.problem("failed", name(rel), describe(exc))
                    continue
                entry, nbytes = result
                if deleting:
                    self.summary.deleted += 1
                    self.state.entries.pop(rel, None)
                else:
                    self.summary.transferred += 1
                    self.summary.bytes += nbytes
                    self.state.entries[rel] = entry
                self.events.progress(done, total, self.summary.bytes)

    def run(self, download: bool) -> Summary:
        started = time.monotonic()
        # List first: a missing bucket or a wrong key fails before anything local changes.
        remote = list(list_remote(self.client, self.url))
        if self.options.dry_run:
            self.apply(download, remote)
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            with folder_lock(self.root):
                self.apply(download, remote)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def apply(self, download: bool, remote: list[Remote]) -> None:
        """Compare both sides, then copy and delete (or, for a dry run, say what would be)."""
        dry = self.options.dry_run
        local = scan(self.root, remove_temps=not dry).files if self.root.is_dir() else {}
        # The new state starts empty and gets an entry per path known to be in sync.
        known = State.load(self.root).entries
        plan = self.plan_download if download else self.plan_upload
        transfer, delete = plan(remote, local, known)
        names = (self.key_name, self.file_name)
        src_name, dst_name = names if download else names[::-1]
        if dry:
            for rel in transfer:
                self.events.planned("download" if download else "upload", src_name(rel))
            for rel in delete:
                self.events.planned("delete", dst_name(rel))
            self.summary.transferred, self.summary.deleted = len(transfer), len(delete)
            return
        try:
            # Deletes go first: they free names a download may need (file "a", folder "a/").
            remove = self.delete_local if download else self.delete_remote
            self.record(self.in_threads(remove, delete), len(delete), dst_name, deleting=True)
            if download:
                keys = ((rel, self.url.folder + rel) for rel in transfer)
                copies = self.downloader.run(keys, self.open_download)
            else:
                copies = self.in_threads(self.put, transfer)
            self.record(copies, len(transfer), src_name, deleting=False)
        finally:
            if self.state.entries != known:  # a no-op sync writes nothing
                self.state.save()


def sync(
    src: str,
    dst: str,
    options: Options,
    events: Events,
    settings: S3Settings | None = None,
) -> Summary:
    """Sync SRC to DST, one of them `s3://bucket/prefix` and the other a local folder."""
    if is_s3_url(src) == is_s3_url(dst):
        raise GlueError(
            f"one of SRC and DST must be an s3://bucket/prefix URL and the other a local folder "
            f"(got {src!r} and {dst!r})"
        )
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise GlueError(
            f"--concurrency must be from 1 to {MAX_CONCURRENCY}, not {options.concurrency}"
        )
    download = is_s3_url(src)
    url = parse_s3_url(src if download else dst)
    root = Path(dst if download else src)
    if not download and not root.is_dir():
        raise GlueError(f"local folder {root} does not exist")
    if root.exists() and not root.is_dir():
        raise GlueError(f"{root} exists and is not a folder")
    # One client for every worker, with exactly one pooled connection per worker.
    settings = dataclasses.replace(
        settings or S3Settings(), max_pool_connections=options.concurrency
    )
    session = make_session(settings)
    client = make_client(settings, session, transfer_methods=False)
    downloader = Downloader(
        client,
        url.bucket,
        tls_verify(settings, session),
        options.concurrency,
        settings.connect_timeout,
        settings.read_timeout,
    )
    return Syncer(url, root, client, downloader, options, events).run(download)
