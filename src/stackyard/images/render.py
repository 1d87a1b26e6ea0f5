"""Render image Dockerfile templates with Jinja2 (pure).

Each image template exposes named blocks (`<image>_header`, `<image>_packages`,
`<image>_footer`, with `-` in the image name written `_`). An operator override file replaces
or extends any of them with `{{ super() }}`, for every image at once, without copying a
template: it is rendered as a child of each image template (`parent_template`).

Every image then ends with `finish.j2`, which no template or override can leave out: it gives
the image's user the folders its configuration goes into, strips setuid and setgid bits (no
process in a container may gain privilege) and sets the user from `image.yaml`. Before it, an
image whose `image.yaml` declares `oslo_config` gets a step, as root, that lists the options
of those files into the image (`config_options.j2`, running `config_options.py`).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from pathlib import Path

import jinja2

from stackyard.errors import ConfigError, TemplateError
from stackyard.images.model import BuildOptions, Catalog, ImageSpec

OVERRIDE = "<override>"
FINISH = "finish.j2"
CONFIG_OPTIONS = "config_options.j2"
CONFIG_OPTIONS_PROGRAM = "config_options.py"
_EXTENDS = re.compile(r"{%-?\s*extends\s")


class Renderer:
    def __init__(self, catalog: Catalog, override: Path | None = None) -> None:
        self.catalog = catalog
        self.override = override
        self._override_source = _read_override(override) if override else None
        self.env = jinja2.Environment(
            loader=jinja2.FunctionLoader(self._load),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )

    def _load(self, name: str) -> tuple[str, str, None] | None:
        if name == OVERRIDE and self._override_source is not None and self.override:
            return self._override_source, str(self.override), None
        path = self.catalog.root / name
        if not path.is_file():
            return None
        return path.read_text(), str(path), None

    def render(self, spec: ImageSpec, variables: Mapping[str, object]) -> str:
        """The Dockerfile text of one image; TemplateError names file and line on failure."""
        own = f"{spec.name}/Dockerfile.j2"
        name = OVERRIDE if self._override_source is not None else own
        try:
            text = self.env.get_template(name).render({**variables, "parent_template": own})
            if spec.oslo_config:
                step = self.env.get_template(CONFIG_OPTIONS)
                program = {"program": self._program()}
                text = text.rstrip("\n") + "\n\n" + step.render({**variables, **program})
            return text.rstrip("\n") + "\n\n" + self.env.get_template(FINISH).render(variables)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{_location(exc, own)}: {exc.message or exc}") from None

    def _program(self) -> str:
        path = self.catalog.root / CONFIG_OPTIONS_PROGRAM
        try:
            return path.read_text()
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read ({exc.strerror or exc})") from None


def template_variables(
    options: BuildOptions, catalog: Catalog, spec: ImageSpec, parent_image: str
) -> dict[str, object]:
    """Everything an image template may use."""
    return {
        "image_name": spec.name,
        "parent_image": parent_image,
        "base_distro": options.base_distro,
        "base_arch": options.base_arch,
        "suite": options.suite,
        "openstack_release": options.openstack_release,
        "install_type": options.install_type,
        "namespace": options.namespace,
        "tag": options.tag,
        "ca_bundle": options.ca_bundle is not None,
        "image_user": spec.user,
        "config_paths": list(spec.config_paths),
        # config_options.py's arguments: FILE=installed or FILE=namespace,namespace...
        "oslo_config": [
            f"{path}={'installed' if names is None else ','.join(names)}"
            for path, names in spec.oslo_config
        ],
        "users": {
            u.name: {"uid": u.uid, "gid": u.gid, "home": u.home or f"/var/lib/{u.name}"}
            for u in catalog.users.values()
        },
    }


def _read_override(path: Path) -> str:
    try:
        source = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read template override ({exc.strerror})") from None
    if not _EXTENDS.search(source):
        # On the first line, so line numbers in error messages stay those of the file.
        source = "{% extends parent_template %}" + source
    return source


def _location(exc: BaseException, fallback: str) -> str:
    """file:line of the innermost template frame of a rendering error."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2") or "override" in frame.filename:
            return f"{frame.filename}:{frame.lineno}"
    return fallback
