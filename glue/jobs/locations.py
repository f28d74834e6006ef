"""Where scenarios come from and results go: a local folder or an S3 prefix, behind one API.

Both kinds list scenario keys (paths relative to the location), fetch one key to a file, and
write files under a relative path. Writes overwrite in place at deterministic paths, so a job
that runs twice (at-least-once delivery) still leaves exactly one result; local writes go
through a temporary file and a rename, so a reader never sees half a file.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol

import botocore.exceptions

from glue.atomic import atomic_write
from glue.errors import GlueError
from glue.jobs.nofollow import regular_files
from glue.s3.client import S3Settings, S3Url, explain, is_s3_url, make_client, parse_s3_url
from glue.s3.keys import is_dir_marker, refusal
from glue.s3.listing import list_remote

RESULTS_FOLDER = "results"
DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects call takes
# Up to this size a file goes in one request (boto3's own threshold for multipart transfers).
SINGLE_REQUEST_MAX = 8 * 1024 * 1024
COPY_CHUNK = 1 << 20


class Listing(NamedTuple):
    keys: list[str]
    # (key, why): keys that could name a place outside the location ('..', absolute, ...).
    refused: list[tuple[str, str]]


class Location(Protocol):
    url: str
    # Content ids are read from each file (costly: a local folder's sha256), rather than
    # coming with the listing (S3's size and ETag).
    reads_content: bool

    def scenarios(self, pattern: str, exclude: str | None = None) -> Listing: ...

    def content_ids(self, keys: list[str]) -> dict[str, str]:
        """`size:digest` of each listed key: what a scenario's duration history is kept under,
        so a changed scenario starts without one."""
        ...

    def content_of(self, fetched: Path) -> str | None:
        """The content id of a scenario from its fetched copy, where the id is a digest of the
        bytes (a local folder's); None where it comes only from the listing (S3's ETag)."""
        ...

    def fetch(self, key: str, dest: Path) -> None: ...

    def upload_dir(self, src: Path, rel: str) -> list[str]:
        """Upload the regular files under src; returns what was skipped and why (links,
        devices, FIFOs, sockets: a job's folder is never read through a link)."""
        ...

    def write_bytes(self, rel: str, data: bytes) -> None: ...

    def read_bytes(self, rel: str) -> bytes | None:
        """The file's bytes, or None when there is no such file (a summary not written yet)."""
        ...

    def remove_tree(self, rel: str) -> None:
        """Remove everything under rel (nothing there is fine)."""
        ...

    def place(self, src: str, dst: str, names: tuple[str, ...]) -> None:
        """Make each dst/<name> (a folder or a file) a copy of src/<name>: what dst/<name>
        held before goes, also when src has no such name."""
        ...


def _checked(rel: str, url: str) -> str:
    why = refusal(rel) if rel else "empty key"
    if why:
        raise GlueError(f"refusing key {rel!r} under {url}: {why}")
    return rel


def _sha256_id(path: str) -> str:
    """`size:sha256` of a file, read with plain system calls: four times faster than file
    objects, which counts for a run of 100,000 small scenarios."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return f"{size}:{digest.hexdigest()}"


class LocalFolder:
    """A folder on this host (or on a file system every worker mounts at the same path)."""

    reads_content = True

    def __init__(self, path: str) -> None:
        self.root = Path(path).expanduser().resolve()
        self.url = str(self.root)

    def scenarios(self, pattern: str, exclude: str | None = None) -> Listing:
        if not self.root.is_dir():
            raise GlueError(f"scenario folder {self.url} does not exist")
        skip = Path(exclude).resolve() if exclude and not is_s3_url(exclude) else None
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            # Hidden folders and the results folder (when it sits inside) hold no scenarios.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and here / d != skip)
            # Plain strings per file: pathlib costs more than the rest for 100,000 files.
            rel = os.path.relpath(dirpath, self.root)
            prefix = "" if rel == "." else rel + "/"
            for name in filenames:
                key = prefix + name
                if not name.startswith(".") and fnmatch.fnmatch(key, pattern):
                    keys.append(key)
        return Listing(sorted(keys), [])

    def content_ids(self, keys: list[str]) -> dict[str, str]:
        ids = {}
        for key in keys:
            try:
                ids[key] = _sha256_id(os.path.join(self.url, _checked(key, self.url)))
            except OSError:
                continue  # gone since the listing: its job will say so
        return ids

    def content_of(self, fetched: Path) -> str | None:
        return _sha256_id(str(fetched))

    def _path(self, rel: str) -> Path:
        return self.root / _checked(rel, self.url)

    def fetch(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except OSError as exc:
            raise GlueError(f"cannot read scenario {key} from {self.url}: {exc.strerror}") from None

    def write_bytes(self, rel: str, data: bytes) -> None:
        target = self._path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as out:
            out.write(data)

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            return self._path(rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise GlueError(f"cannot read {rel} from {self.url}: {exc.strerror}") from None

    def remove_tree(self, rel: str) -> None:
        path = self._path(rel)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    def place(self, src: str, dst: str, names: tuple[str, ...]) -> None:
        for name in names:
            self.remove_tree(f"{dst}/{name}")
            source = self._path(f"{src}/{name}")
            if source.is_dir():
                self.upload_dir(source, f"{dst}/{name}")
            elif (data := self.read_bytes(f"{src}/{name}")) is not None:
                self.write_bytes(f"{dst}/{name}", data)

    def upload_dir(self, src: Path, rel: str) -> list[str]:
        skipped: list[str] = []
        for sub, f in regular_files(src, skipped):
            with f:
                target = self._path(f"{rel}/{sub}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(target) as out:
                    shutil.copyfileobj(f, out)
        return skipped


def shared_client(endpoint_url: str | None):
    """This process's client for `endpoint_url` and the AWS settings now in the environment.

    Making a client costs 70-120 ms of CPU (botocore loads and parses the S3 model), more than
    a small job spends fetching its scenario and uploading its results; a slot makes one as
    it starts and keeps it, so each job starts with it made."""
    aws_env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    return _client_for(endpoint_url, aws_env)


@functools.cache
def _client_for(endpoint_url: str | None, aws_env: tuple[tuple[str, str], ...]):
    return make_client(S3Settings(endpoint_url=endpoint_url))


# A forked process makes its own: its parent's connections are not its to share.
os.register_at_fork(after_in_child=_client_for.cache_clear)


class S3Prefix:
    """A prefix in an S3 bucket (Ceph RGW in the lab); the client is made on first use."""

    reads_content = False

    def __init__(self, url: str, endpoint_url: str | None = None) -> None:
        self._parsed = parse_s3_url(url)
        self.url = str(self._parsed)
        self._endpoint_url = endpoint_url
        self._client = None
        self._listed: dict[str, str] = {}  # key -> size:ETag, from the last listing

    @property
    def client(self):
        if self._client is None:
            self._client = shared_client(self._endpoint_url)
        return self._client

    def _key(self, rel: str) -> str:
        return self._parsed.folder + _checked(rel, self.url)

    def scenarios(self, pattern: str, exclude: str | None = None) -> Listing:
        folder = self._parsed.folder
        skip = None
        if exclude and is_s3_url(exclude):
            other = parse_s3_url(exclude)
            if other.bucket == self._parsed.bucket:
                skip = other.folder
        keys, refused = [], []
        for obj in list_remote(self.client, self._parsed):
            rel = obj.key[len(folder) :]
            if is_dir_marker(rel) or (skip and obj.key.startswith(skip)):
                continue
            why = refusal(rel)
            if why:
                refused.append((obj.key, why))
            elif not PurePosixPath(rel).name.startswith(".") and fnmatch.fnmatch(rel, pattern):
                keys.append(rel)
                self._listed[rel] = f"{obj.size}:{obj.etag}"
        return Listing(sorted(keys), refused)

    def content_ids(self, keys: list[str]) -> dict[str, str]:
        return {key: self._listed[key] for key in keys if key in self._listed}

    def content_of(self, fetched: Path) -> str | None:
        return None

    def fetch(self, key: str, dest: Path) -> None:
        """One GET for a small file. boto3's download_file starts a pool of threads for each
        file (and asks for the size first where responses are checksummed): it is kept for a
        large file, whose ranged parts it fetches side by side and retries one by one."""
        bucket, name = self._parsed.bucket, self._key(key)
        try:
            response = self.client.get_object(Bucket=bucket, Key=name)
            with response["Body"] as body:
                if response["ContentLength"] <= SINGLE_REQUEST_MAX:
                    with dest.open("wb") as out:
                        shutil.copyfileobj(body, out, COPY_CHUNK)
                    return
            self.client.download_file(bucket, name, str(dest))
        except GlueError:
            raise
        except Exception as exc:
            raise explain(exc, self.client, bucket) from None

    def write_bytes(self, rel: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self._parsed.bucket, Key=self._key(rel), Body=data)
        except GlueError:
            raise
        except Exception as exc:
            raise explain(exc, self.client, self._parsed.bucket) from None

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self._parsed.bucket, Key=self._key(rel))
            return response["Body"].read()
        except GlueError:
            raise
        except botocore.exceptions.ClientError as exc:
            # A missing key, not a missing bucket: explain() would call a bare 404 the latter.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise explain(exc, self.client, self._parsed.bucket) from None
        except Exception as exc:
            raise explain(exc, self.client, self._parsed.bucket) from None

    def _under(self, rel: str) -> list[str]:
        """The keys of every object under rel/."""
        url = S3Url(self._parsed.bucket, self._key(rel) + "/")
        return [obj.key for obj in list_remote(self.client, url)]

    def remove_tree(self, rel: str) -> None:
        try:
            self._delete(self._under(rel))
        except GlueError:
            raise
        except Exception as exc:
            raise explain(exc, self.client, self._parsed.bucket) from None

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start : start + DELETE_BATCH]]
            self.client.delete_objects(
                Bucket=self._parsed.bucket, Delete={"Objects": batch, "Quiet": True}
            )

    def place(self, src: str, dst: str, names: tuple[str, ...]) -> None:
        """One listing finds what src has and what dst holds (src is usually under dst: an
        attempt's prefix under its scenario's), then copies within the bucket and deletes
        only what no copy replaces."""
        source, target = self._key(src), self._key(dst)
        keys = self._under(dst)
        if not source.startswith(target + "/"):
            keys += self._under(src)

        def inside(base: str) -> list[str]:
            files = {f"{base}/{name}" for name in names}
            folders = tuple(f"{file}/" for file in files)
            return [key for key in keys if key in files or key.startswith(folders)]

        copies = {target + key[len(source) :]: key for key in inside(source)}
        stale = [key for key in inside(target) if key not in copies]
        bucket = self._parsed.bucket
        try:
            self._delete(stale)
            for key, copied in copies.items():
                self.client.copy_object(
                    Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": copied}
                )
        except GlueError:
            raise
        except Exception as exc:
            raise explain(exc, self.client, bucket) from None

    def upload_dir(self, src: Path, rel: str) -> list[str]:
        skipped: list[str] = []
        for sub, f in regular_files(src, skipped):
            with f:
                key = self._key(f"{rel}/{sub}")
                try:
                    # One PUT for a small file; upload_fileobj would start a pool of threads.
                    if os.fstat(f.fileno()).st_size <= SINGLE_REQUEST_MAX:
                        self.client.put_object(Bucket=self._parsed.bucket, Key=key, Body=f)
                    else:
                        self.client.upload_fileobj(f, self._parsed.bucket, key)
                except GlueError:
                    raise
                except Exception as exc:
                    raise explain(exc, self.client, self._parsed.bucket) from None
        return skipped


def open_location(url: str, s3_endpoint_url: str | None = None) -> Location:
    if is_s3_url(url):
        return S3Prefix(url, s3_endpoint_url)
    return LocalFolder(url)


def results_beside(source: str) -> str:
    """The default results location: a `results` sibling of the scenario folder or prefix."""
    if is_s3_url(source):
        parsed = parse_s3_url(source)
        parent = parsed.prefix.rstrip("/").rpartition("/")[0]
        return f"s3://{parsed.bucket}/{parent + '/' if parent else ''}{RESULTS_FOLDER}"
    return str(Path(source).expanduser().resolve().parent / RESULTS_FOLDER)
