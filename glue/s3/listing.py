"""List the objects under an S3 folder: the one listing that sync and runs both start from."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import botocore.exceptions

from glue.s3 import etag as etags
from glue.s3.client import S3Client, S3Url, explain
from glue.s3.retries import is_transient, with_retries


@dataclasses.dataclass(frozen=True)
class Remote:
    key: str
    etag: str
    size: int


def list_remote(client: S3Client, url: S3Url) -> Iterator[Remote]:
    """Every object under the URL's folder, page by page, each page retried on its own.

    A failure to connect at all is not retried beyond botocore's attempts: it means a wrong or
    dead endpoint, which the user should hear about at once.
    """
    params = {"Bucket": url.bucket, "Prefix": url.folder}
    while True:
        try:
            page = with_retries(
                lambda: client.list_objects_v2(**params),
                retry=lambda e: (
                    is_transient(e)
                    and not isinstance(e, botocore.exceptions.EndpointConnectionError)
                ),
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise explain(exc, client, url.bucket) from None
        for obj in page.get("Contents", ()):
            yield Remote(obj["Key"], etags.normalize(obj["ETag"]), obj["Size"])
        if not page.get("IsTruncated"):
            return
        params["ContinuationToken"] = page["NextContinuationToken"]
