"""Launching a ready-made image (``/v2/image/<image reference>``) without a build.

Courses and institutions often publish one maintained image (``quay.io/jupyter/scipy-notebook:2024-05-27``)
and want a link that opens it, as BinderHub users asked for (#1298). Only references the
operator allow-listed (``[binder] ready_images``, glob patterns) are accepted, since the image
runs as is: nothing of it was built by Bindery. The provider exists only when the list is set.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from bindery.errors import SpecError
from bindery.sources.base import DEFAULT_LINK_REF, LaunchProvider, LinkSpec, Ref

#: Docker's reference grammar, simplified: [registry[:port]/]path[:tag][@digest].
_REFERENCE = re.compile(
    r"^(?:[a-z0-9.-]+(?::\d{1,5})?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def check_reference(text: str) -> str:
    """``text`` when it is an image reference with a tag or digest; SpecError otherwise."""
    ref = text.strip()
    if not _REFERENCE.match(ref) or ".." in ref:
        raise SpecError(f"'{ref[:120]}' is not a container image reference (like "
                        "quay.io/jupyter/scipy-notebook:2024-05-27).")
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in ref:
        raise SpecError(f"'{ref}' names no tag or digest; a launch link must pin one "
                        "(':latest' would change under the link).")
    return ref


@dataclass(frozen=True)
class ReadyImageLinks(LaunchProvider):
    """``image/<URL-encoded image reference>``."""

    has_ref: bool = False
    url_encode: bool = True

    def parse(self, spec: str) -> LinkSpec:
        ref = check_reference(unquote(spec.strip("/")))
        encoded = quote(ref, safe="")
        return LinkSpec(encoded, encoded, f"image:{ref}", DEFAULT_LINK_REF, ref)

    def spec_for(self, repository: str, ref: str) -> str:
        return quote(repository.strip(), safe="")


READY_IMAGE_PROVIDER = ReadyImageLinks(
    "image", "Container image", "Ready-made image reference",
    "quay.io/jupyter/scipy-notebook:2024-05-27", order=95, validate_regex=".+")


@dataclass(frozen=True)
class ReadyImages:
    """The operator's allow-list of image references (glob patterns)."""

    patterns: tuple[str, ...]

    def check(self, reference: str) -> None:
        """SpecError unless ``reference`` matches a pattern."""
        if not any(fnmatch.fnmatchcase(reference, p) for p in self.patterns):
            raise SpecError(
                f"The image {reference} is not one this service launches as is; ready-made images "
                f"must match [binder] ready_images ({', '.join(self.patterns)})."
            )

    @staticmethod
    def ref_for(reference: str) -> Ref:
        """The pin of a ready-made image is its reference (tags should be immutable ones)."""
        return Ref(source="image", url=reference, resolved=reference, display_name=reference)
