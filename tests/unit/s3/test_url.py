"""glue.s3.client: `s3://` URLs and the client's Ceph-safe defaults."""

from __future__ import annotations

import pytest

from glue.s3.client import S3Error, S3Settings, S3Url, make_client, parse_s3_url


@pytest.mark.parametrize(
    ("text", "bucket", "prefix", "folder"),
    [
        ("s3://scenarios", "scenarios", "", ""),
        ("s3://scenarios/", "scenarios", "", ""),
        ("s3://scenarios/team/a", "scenarios", "team/a", "team/a/"),
        ("s3://scenarios/team/a/", "scenarios", "team/a/", "team/a/"),
        ("S3://my.bucket-1/x y", "my.bucket-1", "x y", "x y/"),
    ],
)
def test_good_urls(text: str, bucket: str, prefix: str, folder: str) -> None:
    url = parse_s3_url(text)
    assert url == S3Url(bucket, prefix)
    assert url.folder == folder


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("/local/path", "expected s3://bucket/prefix"),
        ("http://bucket/x", "expected s3://bucket/prefix"),
        ("s3://", "bucket name ''"),
        ("s3:///x", "bucket name ''"),
        ("s3://ab/x", "bucket name 'ab'"),
        ("s3://bad!name/x", "bucket name 'bad!name'"),
        ("s3://a..b/x", "bucket name 'a..b'"),
        ("s3://bucket/x\ny", "control characters"),
    ],
)
def test_bad_urls_are_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(S3Error, match="bad S3 URL") as err:
        parse_s3_url(text)
    assert problem in str(err.value)


def test_client_defaults_suit_ceph(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    client = make_client(S3Settings(endpoint_url="http://127.0.0.1:9", max_pool_connections=24))
    meta = client.meta
    assert meta.config.s3 == {"addressing_style": "path"}
    assert meta.config.request_checksum_calculation == "when_required"
    assert meta.config.response_checksum_validation == "when_required"
    assert meta.config.max_pool_connections == 24
    assert meta.config.retries["mode"] == "standard"
    assert meta.region_name == "us-east-1"


def test_standard_aws_settings_win_over_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    meta = make_client().meta
    assert meta.config.request_checksum_calculation == "when_supported"
    assert meta.config.retries == {"mode": "adaptive", "total_max_attempts": 9}
    assert meta.endpoint_url == "http://127.0.0.1:9999"
    assert meta.region_name == "eu-west-3"
    explicit = make_client(S3Settings(checksums="when_required", endpoint_url="http://h:1")).meta
    assert explicit.config.request_checksum_calculation == "when_required"
    assert explicit.endpoint_url == "http://h:1"
