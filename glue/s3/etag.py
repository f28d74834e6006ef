"""S3 ETags of local files, so an object and a file can be compared without downloading.

A single-part upload's ETag is the MD5 of the content. A multipart upload's ETag is the MD5 of
the parts' binary MD5s followed by "-<number of parts>", so it depends on the part size the
uploader chose; a match under a plausible part size proves equality, a miss proves nothing
(the caller then transfers the object, which is always safe).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MiB = 1024 * 1024
CHUNK = 1 * MiB
# Part sizes used by common uploaders: boto3/aws-cli and glue (8 MiB), s3cmd (15), rclone (5).
COMMON_PART_SIZES = (8 * MiB, 5 * MiB, 15 * MiB, 16 * MiB)


def normalize(etag: str) -> str:
    """An ETag as S3 listings and headers give it, without quotes, in lower case."""
    return etag.strip().strip('"').lower()


def is_multipart(etag: str) -> bool:
    return "-" in etag


def md5_file(path: Path) -> str:
    """The single-part ETag of a file."""
    h = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag a multipart upload of `path` with parts of `part_size` bytes would get."""
    digests = []
    with path.open("rb") as f:
        while part := f.read(part_size):
            digests.append(hashlib.md5(part).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def candidate_part_sizes(size: int, parts: int) -> list[int]:
    """Part sizes that could have split `size` bytes into `parts` parts, likeliest first."""
    sizes = [p for p in COMMON_PART_SIZES if -(-size // p) == parts]
    # An uploader that picks the part size from the total usually rounds up to whole MiB.
    if parts > 1:
        even = -(-size // parts)
        for guess in (-(-even // MiB) * MiB, even):
            if -(-size // guess) == parts and guess not in sizes:
                sizes.append(guess)
    return sizes


def file_matches(path: Path, etag: str, size: int) -> bool:
    """True when the local file certainly has the content of an object with this ETag and size."""
    if path.stat().st_size != size:
        return False
    etag = normalize(etag)
    if not is_multipart(etag):
        return md5_file(path) == etag
    parts = int(etag.rsplit("-", 1)[1]) if etag.rsplit("-", 1)[1].isdigit() else 0
    return any(multipart_etag(path, p) == etag for p in candidate_part_sizes(size, parts))
