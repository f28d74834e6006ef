"""Fixtures for the integration tests; shared ones live in tests/support."""

from tests.support.rgw import rgw, rgw_s3  # noqa: F401
