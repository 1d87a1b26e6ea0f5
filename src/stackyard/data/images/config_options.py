"""List the options an image's oslo.config files accept (run in the image at build time).

    python3 config_options.py OUTPUT FILE=NAMESPACES...

images/render.py runs this (Python's standard library only) as a build step of every image
whose image.yaml declares `oslo_config`. NAMESPACES is `installed` (every namespace in the
image's `oslo.config.opts` entry points) or a comma-separated list. For each FILE,
oslo-config-generator lists the options of those namespaces, and OUTPUT gets
{FILE: {section: [option, ...]}} with every name oslo.config reads from a file: each option's
dest and its deprecated names and groups. Files that OUTPUT already lists (from a parent
image) and that are not named again are kept. A deploy checks operator overrides against it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

ENTRY_POINTS = "oslo.config.opts"
INSTALLED = "installed"


def installed() -> list[str]:
    return sorted({e.name for e in importlib.metadata.entry_points(group=ENTRY_POINTS)})


def generate(namespaces: list[str]) -> dict[str, Any]:
    """oslo-config-generator's JSON document for the namespaces."""
    with tempfile.TemporaryDirectory() as folder:
        output = os.path.join(folder, "options.json")
        argv = ["oslo-config-generator", "--format", "json", "--output-file", output]
        for namespace in namespaces:
            argv += ["--namespace", namespace]
        run = subprocess.run(argv, capture_output=True, text=True)
        # stevedore says "Could not load" every namespace even when all of them loaded (a
        # namespace that does not load fails the run): that line is shown only on failure.
        for line in run.stderr.splitlines():
            if run.returncode or "Could not load" not in line:
                print(line, file=sys.stderr)
        if run.returncode:
            raise subprocess.CalledProcessError(run.returncode, argv)
        with open(output, encoding="utf-8") as handle:
            document: dict[str, Any] = json.load(handle)
            return document


def known_options(generated: dict[str, Any]) -> dict[str, list[str]]:
    """section -> sorted option names, from a generator document. A file key is an option's
    dest (its name with `-` as `_`); a deprecated name or group still works, and a deprecated
    name the generator left out is the option's own (which oslo.config reads as its dest)."""
    sections: dict[str, set[str]] = {"DEFAULT": set()}
    for group, data in generated["options"].items():
        names = sections.setdefault(group, set())
        for option in data["opts"]:
            names.add(option["dest"])
            for old in option.get("deprecated_opts") or []:
                name = old.get("name") or option["name"]
                old_names = sections.setdefault(old.get("group") or group, set())
                old_names.add(option["dest"] if name == option["name"] else name)
    return {section: sorted(names) for section, names in sorted(sections.items())}


def options_of(namespaces: list[str], skip_broken: bool) -> dict[str, list[str]]:
    """The options of all namespaces; with skip_broken, a namespace whose code does not load
    is left out (and said) rather than failing the build."""
    try:
        return known_options(generate(namespaces))
    except subprocess.CalledProcessError:
        if not skip_broken or len(namespaces) == 1:
            raise
    merged: dict[str, set[str]] = {}
    for namespace in namespaces:
        try:
            found = known_options(generate([namespace]))
        except subprocess.CalledProcessError:
            print(f"config options: {namespace} does not load; its options are left out")
            continue
        for section, names in found.items():
            merged.setdefault(section, set()).update(names)
    return {section: sorted(names) for section, names in sorted(merged.items())}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    output, registered = argv[0], installed()
    document: dict[str, dict[str, list[str]]] = {}
    if os.path.exists(output):
        with open(output, encoding="utf-8") as handle:
            document = json.load(handle)
    for argument in argv[1:]:
        path, _, names = argument.partition("=")
        namespaces = registered if names == INSTALLED else names.split(",")
        missing = sorted(set(namespaces) - set(registered))
        if not namespaces or missing:
            print(
                f"config options: {path}: {', '.join(missing) or 'no namespace'} not in the "
                f"{ENTRY_POINTS} entry points; installed: {', '.join(registered) or 'none'}",
                file=sys.stderr,
            )
            return 1
        document[path] = options_of(namespaces, skip_broken=names == INSTALLED)
        count = sum(len(listed) for listed in document[path].values())
        print(
            f"config options: {path}: {len(document[path])} sections, {count} names from "
            f"{len(namespaces)} namespaces"
        )
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(document, handle, sort_keys=True, separators=(",", ":"))
        handle.write("\n")
    os.chmod(output, 0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
