"""The S3 side: client settings and errors (client), one listing (listing), key safety
(keys), the local folder's state (local), ETags (etag), retries, libcurl downloads
(download) and `glue sync` itself (sync). Depends only on the shared modules."""
