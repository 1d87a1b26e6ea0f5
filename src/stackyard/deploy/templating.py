"""Jinja2 for service definitions and config templates (pure).

Undefined names are errors, reported with the file and key they came from. Compiled templates
are cached by their text: the same definition is rendered for every host. A config template
may `{% include %}` another template of its service's folder.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2

from stackyard.errors import TemplateError


def rabbitmq_password_hash(password: str, user: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256 form: base64(salt + sha256(salt + password)).
    The salt is derived from user and password, so the rendered file (and its digest) only
    changes when the password does."""
    salt = hashlib.sha256(f"{user}:{password}".encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _environment(loader: jinja2.BaseLoader | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["rabbitmq_password_hash"] = rabbitmq_password_hash
    return env


_ENV = _environment()
# One environment per service folder, loading that folder's templates (for includes).
_FOLDERS: dict[str, jinja2.Environment] = {}


@lru_cache(maxsize=4096)
def _template(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


@lru_cache(maxsize=1024)
def _expression(text: str) -> Any:
    return _ENV.compile_expression(text)


def render(text: str, context: dict[str, Any], where: str) -> str:
    if "{" not in text:
        return text
    try:
        return _template(text).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: line {exc.lineno}: {exc.message}") from None
    except (jinja2.UndefinedError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{where}: {exc}") from None


def render_file(
    folder: str, templates: Mapping[str, str], name: str, context: dict[str, Any]
) -> str:
    """The template `name` of a service folder, whose other templates it may include."""
    env = _FOLDERS.get(folder)
    if env is None:
        env = _FOLDERS[folder] = _environment(jinja2.DictLoader(dict(templates)))
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"{folder}/{exc.name or name}: line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{folder}/{name}: includes {exc.name!r}, not in {folder}") from None
    except (jinja2.UndefinedError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{folder}/{name}: {exc}") from None


def evaluate(expression: str, context: dict[str, Any], where: str) -> bool:
    try:
        return bool(_expression(expression)(**context))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: {exc.message}") from None
    except (jinja2.UndefinedError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{where}: {exc}") from None
