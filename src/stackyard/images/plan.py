"""What a build will make (pure): each selected image rendered, referenced and keyed.

Keys chain from the root image through every parent, so they are all known before anything is
built, and a change anywhere changes the key of that image and of all its descendants only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackyard.errors import TemplateError
from stackyard.images.cache import folder_digest, image_key, options_fingerprint
from stackyard.images.graph import order
from stackyard.images.model import BuildOptions, Catalog, ImageSpec
from stackyard.images.render import Renderer, template_variables


@dataclass(frozen=True, slots=True)
class PlannedImage:
    spec: ImageSpec
    reference: str
    parent_reference: str
    key: str
    dockerfile: str | None  # None when the template did not render
    error: str | None = None


def plan_images(
    catalog: Catalog,
    options: BuildOptions,
    names: Sequence[str],
    root_reference: str,
    root_key: str,
    renderer: Renderer,
) -> dict[str, PlannedImage]:
    """Plan `names` (each with its parent among them or the root), parents first. A template
    error is kept on its image, not raised, so independent branches still build."""
    fingerprint = options_fingerprint(options)
    planned: dict[str, PlannedImage] = {}
    for name in order(catalog.images, names):
        spec = catalog.images[name]
        if spec.parent is None:
            parent_ref, parent_key = root_reference, root_key
        else:
            parent = planned[spec.parent]
            parent_ref, parent_key = parent.reference, parent.key
        dockerfile: str | None
        try:
            dockerfile = renderer.render(
                spec, template_variables(options, catalog, spec, parent_ref)
            )
            error = None
        except TemplateError as exc:
            dockerfile, error = None, str(exc)
        planned[name] = PlannedImage(
            spec=spec,
            reference=f"{options.repository(name)}:{options.tag}",
            parent_reference=parent_ref,
            key=image_key(
                dockerfile or error or "", folder_digest(spec.folder), parent_key, fingerprint
            ),
            dockerfile=dockerfile,
            error=error,
        )
    return planned
