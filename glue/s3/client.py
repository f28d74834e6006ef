"""S3 access shared by every part of glue: `s3://` URLs, one client factory, readable errors.

The users' store is Ceph's RADOS Gateway, which differs from AWS in ways that break boto3's
defaults: it wants path-style addressing, and since boto3 1.36 uploads over HTTPS fail with
HTTP 411 unless checksums are sent only when an operation requires them. The factory here sets
those defaults once, while still honouring the standard AWS settings (environment variables,
profiles, AWS_CA_BUNDLE, AWS_ENDPOINT_URL) so nothing Ceph-specific leaks into callers.
"""

from __future__ import annotations

import email.utils
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions
import botocore.httpsession
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.config import Config

from glue.errors import GlueError

# botocore builds client classes at run time, so there is no importable class to annotate with.
S3Client = Any

# Bucket names as RGW accepts them by default (DNS-like, 3 to 63 characters).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$", re.IGNORECASE)
CHECKSUM_MODES = ("when_required", "when_supported")
RETRY_MODES = ("standard", "adaptive", "legacy")
DEFAULT_REGION = "us-east-1"
DEFAULT_MAX_ATTEMPTS = 5


class S3Error(GlueError):
    """An S3 failure a user can act on: a bad URL, a missing bucket, wrong credentials."""


@dataclass(frozen=True)
class S3Url:
    """A parsed `s3://bucket/prefix`; prefix is everything after the bucket, possibly empty."""

    bucket: str
    prefix: str

    @property
    def folder(self) -> str:
        """The prefix as a folder ("a/b" -> "a/b/"), the way `aws s3 sync` reads its argument."""
        return self.prefix if not self.prefix or self.prefix.endswith("/") else self.prefix + "/"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def is_s3_url(text: str) -> bool:
    """True when `text` names S3 rather than a local path (lets CLIs accept either order)."""
    return text.lower().startswith("s3://")


def parse_s3_url(text: str) -> S3Url:
    """Parse `s3://bucket[/prefix]`, refusing anything that would mean a different place."""
    if not is_s3_url(text):
        raise S3Error(f"bad S3 URL {text!r}: expected s3://bucket/prefix")
    rest = text[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise S3Error(
            f"bad S3 URL {text!r}: bucket name {bucket!r} must be 3-63 letters, digits, "
            "'.', '-' or '_'"
        )
    if any(ord(c) < 32 for c in prefix):
        raise S3Error(f"bad S3 URL {text!r}: the prefix contains control characters")
    return S3Url(bucket=bucket, prefix=prefix)


@dataclass(frozen=True)
class S3Settings:
    """How to reach S3. None means "the standard AWS setting, else the Ceph-safe default"."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    # A CA bundle path for HTTPS; None lets botocore read AWS_CA_BUNDLE / the profile.
    ca_bundle: str | None = None
    verify_tls: bool = True
    access_key: str | None = None
    secret_key: str | None = None
    addressing_style: str = "path"
    checksums: str | None = None
    retry_mode: str | None = None
    max_attempts: int | None = None
    max_pool_connections: int = 10
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


def _configured(session: botocore.session.Session, env: str, key: str) -> str | None:
    """A value the user set in the environment or the profile, or None when left unset."""
    return os.environ.get(env) or session.get_scoped_config().get(key)


def parse_timestamp(value: str) -> datetime:
    """botocore's timestamp parser, minus its cost: botocore hands every timestamp to dateutil,
    which is about 60% of the time spent reading a 1,000-key listing. S3 sends ISO 8601 in
    listings and RFC 1123 in headers, both of which the standard library parses quickly."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return botocore.utils.parse_timestamp(value)


class _S3OnlyLoader(botocore.loaders.Loader):
    """botocore's model loader, minus one check: before loading a model it lists every AWS
    service's model folder (about 400) to confirm the service exists, some 30 ms per client.
    These sessions only ever make S3 clients."""

    def list_available_services(self, type_name: str) -> list[str]:
        return ["s3"]


def make_session(settings: S3Settings) -> botocore.session.Session:
    """A botocore session for the profile in `settings` (or AWS_PROFILE / the default one)."""
    session = botocore.session.Session(profile=settings.profile)
    default_loader = session.get_component("data_loader")
    loader = _S3OnlyLoader(
        extra_search_paths=default_loader.search_paths, include_default_search_paths=False
    )
    session.register_component("data_loader", loader)
    try:
        session.get_scoped_config()  # an unknown profile fails here, not mid-sync
    except botocore.exceptions.ProfileNotFound as exc:
        raise S3Error(f"AWS profile not found: {exc.kwargs.get('profile')}") from None
    if settings.access_key and settings.secret_key:
        session.set_credentials(settings.access_key, settings.secret_key)
    parsers = session.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


def tls_verify(settings: S3Settings, session: botocore.session.Session) -> bool | str:
    """What HTTPS is verified with: False, or a CA bundle path, resolved as botocore does it
    (explicit setting, then AWS_CA_BUNDLE or the profile's ca_bundle, then its default)."""
    if not settings.verify_tls:
        return False
    return (
        settings.ca_bundle
        or session.get_config_variable("ca_bundle")
        or botocore.httpsession.get_cert_path(True)
    )


def make_client(
    settings: S3Settings | None = None,
    session: botocore.session.Session | None = None,
    *,
    transfer_methods: bool = True,
) -> S3Client:
    """One S3 client with Ceph-safe defaults; it is thread-safe, so share it among workers.

    Size max_pool_connections to the number of threads that use the client, or threads wait
    for a free connection and botocore logs "Connection pool is full". transfer_methods adds
    boto3's upload_file / download_file; without them the client is botocore's alone, and
    importing boto3 and s3transfer (about 40 ms) is skipped.
    """
    settings = settings or S3Settings()
    session = session or make_session(settings)
    checksums = settings.checksums or "when_required"
    if settings.checksums is None:
        checksums = (
            _configured(session, "AWS_REQUEST_CHECKSUM_CALCULATION", "request_checksum_calculation")
            or checksums
        )
    if checksums.lower() not in CHECKSUM_MODES:
        raise S3Error(f"bad checksum mode {checksums!r}: use one of {', '.join(CHECKSUM_MODES)}")
    retry_mode = (
        settings.retry_mode or _configured(session, "AWS_RETRY_MODE", "retry_mode") or "standard"
    )
    if retry_mode not in RETRY_MODES:
        raise S3Error(f"bad retry mode {retry_mode!r}: use one of {', '.join(RETRY_MODES)}")
    attempts = settings.max_attempts or int(
        _configured(session, "AWS_MAX_ATTEMPTS", "max_attempts") or DEFAULT_MAX_ATTEMPTS
    )
    config = Config(
        s3={"addressing_style": settings.addressing_style},
        request_checksum_calculation=checksums.lower(),
        response_checksum_validation=checksums.lower(),
        retries={"mode": retry_mode, "total_max_attempts": attempts},
        max_pool_connections=max(1, settings.max_pool_connections),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        tcp_keepalive=True,
    )
    region = settings.region or session.get_config_variable("region") or DEFAULT_REGION
    create = session.create_client
    if transfer_methods:
        import boto3  # here, so that callers without transfer_methods never import it

        create = boto3.Session(botocore_session=session).client
    try:
        return create(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=region,
            verify=tls_verify(settings, session),
            config=config,
        )
    except ValueError as exc:  # botocore's message for a malformed endpoint URL
        raise S3Error(f"bad endpoint URL {settings.endpoint_url!r}: {exc}") from None


def endpoint_of(client: S3Client) -> str:
    """The URL a client talks to, for error messages."""
    return client.meta.endpoint_url


def explain(exc: Exception, client: S3Client, bucket: str | None = None) -> S3Error:
    """Turn a botocore failure into an S3Error whose one line says what to fix."""
    where = endpoint_of(client)
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket",) or (code == "404" and bucket):
            return S3Error(f"bucket {bucket!r} does not exist at {where}")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AccessDenied"):
            return S3Error(
                f"access denied by {where} ({code}): check the access key and secret "
                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile)"
            )
        return S3Error(f"S3 request to {where} failed: {code or status}: {exc}")
    if isinstance(exc, botocore.exceptions.SSLError):
        return S3Error(
            f"TLS verification of {where} failed: pass its CA with --ca-bundle or AWS_CA_BUNDLE"
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return S3Error(
            "no S3 credentials: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile"
        )
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionClosedError,
    ):
        return S3Error(f"cannot reach the S3 endpoint {where}: {exc}")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return S3Error(f"S3 at {where}: {exc}")
    return S3Error(f"S3 at {where}: {type(exc).__name__}: {exc}")
