"""Form files are self-contained: a `$ref` may point inside its own file or to another form file of the
same version, never elsewhere.

The `jsonschema` library would otherwise fetch a remote `$ref` (http://…) or open a local one
(file://…) while validating a submission, so a form file could make the server connect out or read
its own disk. When a version loads, every reference to another form file of the version is copied
in under `$defs`, so each stored schema refers only to itself; validators are then built with a
registry that holds nothing and retrieves nothing.
"""

from __future__ import annotations

import copy
import json
import posixpath
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from referencing import Registry
from referencing.exceptions import NoSuchResource

# Keywords whose string value is a reference the validator would follow.
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_DATA_KEYWORDS = ("enum", "const", "default", "examples")  # values there are data, not schemas
_BASE = "urn:dhr-form:"


def _refuse(uri: str) -> Any:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class


# A registry for every form validator: nothing in it, and nothing is ever fetched into it.
NOTHING_OUTSIDE: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]  # an attrs class


def _base(path: str, schema: Any) -> str:
    """The URI a file's relative references resolve against: its own `$id` when it names this
    file's name (the DHR forms carry one), else the file's path in the version."""
    given = schema.get("$id") if isinstance(schema, dict) else None
    if isinstance(given, str) and posixpath.basename(urlsplit(given).path) == posixpath.basename(path):
        return given
    return _BASE + path


def _pointer(parts: list[str]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _references(node: Any, at: list[str]) -> list[tuple[list[str], str, str]]:
    """Every reference in a schema: (JSON path of the keyword, keyword, value)."""
    found: list[tuple[list[str], str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in REFERENCE_KEYWORDS and isinstance(value, str):
                found.append(([*at, key], key, value))
            elif key not in _DATA_KEYWORDS:
                found.extend(_references(value, [*at, key]))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_references(value, [*at, str(index)]))
    return found


def _nested_ids(node: Any, at: list[str]) -> list[list[str]]:
    """`$id`s below the top level (each would move the base of the references under it)."""
    found: list[list[str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$id" and at:
                found.append([*at, key])
            elif key not in _DATA_KEYWORDS:
                found.extend(_nested_ids(value, [*at, key]))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_nested_ids(value, [*at, str(index)]))
    return found


def _set(node: Any, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[path[-1]] = value


def json_files(files: dict[str, str]) -> dict[str, Any]:
    """The JSON files among a version's `files` (path -> text), parsed; unreadable ones are skipped
    (validation reports them where a task names them)."""
    parsed: dict[str, Any] = {}
    for path, text in sorted(files.items()):
        if path.endswith(".json"):
            try:
                parsed[path] = json.loads(text)
            except json.JSONDecodeError:
                continue
    return parsed


class _Inliner:
    """Copies the form files a schema refers to into its `$defs`, rewriting every reference."""

    def __init__(self, files: dict[str, str]) -> None:
        self.by_uri: dict[str, str] = {}  # base URI -> path of a form file of the version
        self.schemas = json_files(files)
        for path, schema in self.schemas.items():
            self.by_uri[_base(path, schema)] = path
            self.by_uri[_BASE + path] = path

    def run(self, path: str, schema: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Return a self-contained copy of `schema` and the problems found: (JSON path, message)."""
        root = copy.deepcopy(schema)
        problems = [(_pointer(at), "'$id' may only be given at the top level of a form file")
                    for at in _nested_ids(root, [])]
        embedded: dict[str, str] = {}  # path of a copied-in file -> its key in the root's $defs
        pending: list[tuple[str, Any, list[str]]] = [(path, root, [])]  # (file, schema, where it sits in the root)
        while pending:
            file, node, prefix = pending.pop()
            base = _base(file, self.schemas.get(file, node) if file != path else schema)
            for at, keyword, value in _references(node, []):
                if keyword != "$ref":
                    problems.append((_pointer(prefix + at), f"'{keyword}' is not supported in form files; use '$ref'"))
                    continue
                target, fragment = urldefrag(urljoin(base, value))
                target_file = self.by_uri.get(target)
                if target_file is None:
                    problems.append((_pointer(prefix + at),
                                     f"'$ref' may only point inside this file or to another form file of this "
                                     f"version; '{value}' is outside"))
                    continue
                if target_file == path:
                    into: list[str] = []
                elif target_file == file:
                    into = prefix
                else:
                    if target_file not in embedded:
                        key = "form:" + target_file.replace("/", ":")
                        embedded[target_file] = key
                        copied = copy.deepcopy(self.schemas[target_file])
                        copied.pop("$id", None)
                        copied.pop("$schema", None)
                        root.setdefault("$defs", {})[key] = copied
                        pending.append((target_file, copied, ["$defs", key]))
                    into = ["$defs", embedded[target_file]]
                local = "#" + (_pointer(into) if into else "") + (fragment if fragment.startswith("/") else "")
                if fragment and not fragment.startswith("/"):
                    problems.append((_pointer(prefix + at), f"'$ref' fragment '#{fragment}' must be a JSON pointer"))
                    continue
                _set(node, at, local)
        return root, problems


def self_contained(files: dict[str, str], path: str,
                   schema: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return form `path`'s schema with the other form files it refers to copied in, and the
    references that point outside the version: (JSON path, message)."""
    if not _references(schema, []):  # most forms: nothing to do
        return schema, [(_pointer(at), "'$id' may only be given at the top level of a form file")
                        for at in _nested_ids(schema, [])]
    return _Inliner(files).run(path, schema)
