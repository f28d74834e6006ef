"""A small client of the registry's HTTP API v2 (the distribution registry, Debian's
docker-registry): catalog, tags, manifests, image configs and deletes by digest.

Every failure a user can fix (unreachable, wrong login, unknown repository or tag) becomes a
RegistryError with one line naming it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import requests

from glue.registry.access import Access, RegistryError

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
INDEX_TYPES = MANIFEST_TYPES[2:]
PAGE = 100
TIMEOUT = 30


class Client:
    """One HTTPS session with the registry's CA and login."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.base = f"https://{access.address}"
        self.session = requests.Session()
        # The fleet's CA, or the system's when the registry has a public certificate. Given
        # per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self.verify: str | bool = str(access.ca) if access.ca else True
        if access.username is not None:
            self.session.auth = (access.username, access.password or "")

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(
                method, urljoin(self.base, path), timeout=TIMEOUT, verify=self.verify, **kwargs
            )
        except requests.exceptions.SSLError as exc:
            raise RegistryError(
                f"registry {self.access.address}: TLS failed (is --ca the registry's CA?): "
                f"{exc.__class__.__name__}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(
                f"registry {self.access.address} is unreachable: {exc.__class__.__name__}"
            ) from None
        if response.status_code == 401:
            who = self.access.username or "anonymous"
            raise RegistryError(f"registry {self.access.address} refused the login of {who}")
        if response.status_code == 404:
            raise RegistryError(f"{what}: not found in registry {self.access.address}")
        if response.status_code == 405 and method == "DELETE":
            raise RegistryError(
                f"registry {self.access.address} does not allow deletes "
                "(storage.delete.enabled is off)"
            )
        if response.status_code >= 400:
            raise RegistryError(
                f"{what}: registry {self.access.address} answered {response.status_code}: "
                f"{response.text.strip()[:200]}"
            )
        return response

    def _paged(self, path: str, key: str, what: str) -> list[str]:
        """Every item of a paginated list; the registry links the next page."""
        items: list[str] = []
        url: str | None = f"{path}?n={PAGE}"
        while url:
            response = self._request("GET", url, what)
            items += response.json().get(key) or []
            url = response.links.get("next", {}).get("url")
        return items

    def ping(self) -> None:
        self._request("GET", "/v2/", "the API")

    def repositories(self) -> list[str]:
        return self._paged("/v2/_catalog", "repositories", "the catalog")

    def tags(self, repository: str) -> list[str]:
        return self._paged(f"/v2/{repository}/tags/list", "tags", f"repository {repository}")

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest) of a tag or digest; an index resolves to its first image."""
        what = f"{repository}:{reference}" if ":" not in reference else f"{repository}@{reference}"
        response = self._request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            what,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        digest = response.headers.get("Docker-Content-Digest", "")
        body = response.json()
        if body.get("mediaType") in INDEX_TYPES and body.get("manifests"):
            _, body = self.manifest(repository, body["manifests"][0]["digest"])
        return digest, body

    def blob_json(self, repository: str, digest: str) -> dict[str, Any]:
        return self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", f"{repository}@{digest}"
        ).json()

    def delete_manifest(self, repository: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{repository}/manifests/{digest}", f"{repository}@{digest}")
