"""glue.s3.etag: recognising an object's content in a local file from its ETag."""

from __future__ import annotations

import hashlib

from glue.s3.etag import MiB, candidate_part_sizes, file_matches, multipart_etag, normalize


def s3_multipart_etag(data: bytes, part: int) -> str:
    """The ETag S3 gives a multipart upload, computed independently of glue.s3.etag."""
    parts = [data[i : i + part] for i in range(0, len(data), part)]
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def test_normalize_strips_quotes_and_case() -> None:
    assert normalize('"ABCdef-2"') == "abcdef-2"


def test_single_part_etag_is_the_md5(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    assert file_matches(path, f'"{hashlib.md5(b"hello").hexdigest()}"', 5)
    assert not file_matches(path, hashlib.md5(b"hellO").hexdigest(), 5)
    assert not file_matches(path, hashlib.md5(b"hello").hexdigest(), 6)


def test_multipart_etags_with_common_and_derived_part_sizes(tmp_path) -> None:
    data = bytes(range(256)) * (4096 * 13)  # 13 MiB
    path = tmp_path / "big"
    path.write_bytes(data)
    for part in (5 * MiB, 8 * MiB, 7 * MiB):
        etag = s3_multipart_etag(data, part)
        assert multipart_etag(path, part) == etag
        assert file_matches(path, etag, len(data)), part
    assert not file_matches(path, s3_multipart_etag(data[:-1] + b"x", 5 * MiB), len(data))


def test_candidate_part_sizes_fit_the_part_count() -> None:
    size = 20 * MiB
    for part in candidate_part_sizes(size, 3):
        assert -(-size // part) == 3
    assert 8 * MiB in candidate_part_sizes(size, 3)
