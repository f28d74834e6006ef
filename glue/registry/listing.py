"""One row per tag: digest, size, created date, labels, layers and history.

The API has neither dates nor sizes per tag: the size is the manifest's layers plus its
config, the date and labels come from the image's config blob (one request per tag).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from glue.registry.access import RegistryError
from glue.registry.client import Client

# REPOSITORY[:TAG] or REPOSITORY@DIGEST, with Docker's rules for both parts.
_REPOSITORY = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REF = re.compile(
    rf"^(?P<repo>{_REPOSITORY})(?::(?P<tag>{_TAG})|@(?P<digest>sha256:[0-9a-f]{{64}}))?$"
)
TAG_PATTERN = re.compile(rf"^{_TAG}$")
REPOSITORY_PATTERN = re.compile(rf"^{_REPOSITORY}$")


@dataclass
class Image:
    repository: str
    tag: str
    digest: str
    size: int
    created: str | None
    labels: dict[str, str] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def reference(self, registry: str) -> str:
        return f"{registry}/{self.repository}:{self.tag}"


def parse_reference(ref: str, registry: str | None = None) -> tuple[str, str]:
    """(repository, tag or digest) of REF; a leading `registry/` is dropped when it matches."""
    if registry and ref.startswith(registry + "/"):
        ref = ref[len(registry) + 1 :]
    match = _REF.match(ref)
    if not match:
        raise RegistryError(
            f"{ref!r} is not a valid image reference (REPOSITORY:TAG, lower-case repository; "
            "a tag is letters, digits, '_', '.' and '-', at most 128)"
        )
    return match["repo"], match["digest"] or match["tag"] or "latest"


def describe(client: Client, repository: str, tag: str) -> Image:
    digest, manifest = client.manifest(repository, tag)
    config = manifest.get("config", {})
    layers = manifest.get("layers", [])
    blob = client.blob_json(repository, config["digest"]) if config.get("digest") else {}
    return Image(
        repository=repository,
        tag=tag,
        digest=digest,
        size=config.get("size", 0) + sum(layer.get("size", 0) for layer in layers),
        created=blob.get("created"),
        labels=(blob.get("config") or {}).get("Labels") or {},
        layers=layers,
        history=blob.get("history") or [],
    )


def list_images(client: Client, pattern: str = "*") -> list[Image]:
    """Every tag of every repository whose `repo` or `repo:tag` matches the glob."""
    images = []
    for repository in client.repositories():
        for tag in client.tags(repository):
            if fnmatch.fnmatch(repository, pattern) or fnmatch.fnmatch(
                f"{repository}:{tag}", pattern
            ):
                images.append(describe(client, repository, tag))
    return images


def tags_sharing(client: Client, repository: str, digest: str) -> list[str]:
    """The tags of `repository` whose manifest is `digest`."""
    return [tag for tag in client.tags(repository) if client.manifest(repository, tag)[0] == digest]


def remove(client: Client, repository: str, tag: str, all_tags: bool) -> list[str]:
    """Delete a tag's manifest; returns the tags that went with it. The API deletes by
    digest, so every tag sharing it goes too: refused unless all_tags says so."""
    digest, _ = client.manifest(repository, tag)
    sharing = tags_sharing(client, repository, digest)
    others = [t for t in sharing if t != tag]
    if others and not all_tags:
        raise RegistryError(
            f"{repository}:{tag} shares its digest with {', '.join(others)}: deleting it deletes "
            "them too; pass --all-tags to delete them all"
        )
    client.delete_manifest(repository, digest)
    return sharing
