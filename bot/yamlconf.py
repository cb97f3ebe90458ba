"""Reading hand-edited YAML settings with errors that name the file, line and field.

The catalogue and the scoring configuration are edited by shop owners and
marketers: every problem is reported as ``path:line: dotted.field: message`` so
the fix is obvious, and YAML 1.1's surprising booleans (``NO`` for Norway,
``yes``, ``on``) stay text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader (YAML 1.1 scalars) that refuses a key written twice in one mapping.

    The document is read top to bottom, so the mistake reported is the first in
    the file. Merge keys (``<<: *base``) are expanded first: repeating a merged
    key is refused too. A reader words the two refusals for its audience by
    overriding :attr:`duplicate_key` (given ``key`` and the ``line`` of the
    first) and :attr:`unhashable_key`.
    """

    duplicate_key = "{key!r} is given twice (first on line {line})"
    unhashable_key = "found unhashable key"

    def construct_document(self, node: yaml.Node) -> Any:
        """The document's data, each value built where it is written."""
        self.deep_construct = True
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose keys are plain values, each given once."""
        self.flatten_mapping(node)
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, self.unhashable_key, key_node.start_mark
                )
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, self.duplicate_key.format(key=key, line=first), key_node.start_mark
                )
            seen[key] = key_node
            self.construct_object(value_node, deep=deep)
        return super().construct_mapping(node, deep=deep)


class StrictLoader(UniqueKeyLoader):
    """:class:`UniqueKeyLoader` that reads only true/false as booleans (``NO`` is Norway).

    Every key of a settings file is a name: an empty key, or a number or date
    written as a key, is an error on its line (the settings models would
    otherwise fail on it without saying where).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose keys are all text, each given once."""
        mapping = super().construct_mapping(node, deep=deep)
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                problem = (
                    "a key is missing before ':'"
                    if key is None
                    else f"{key!r} is not a name: write keys as text (in quotes if need be)"
                )
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        return mapping


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_document(path: Path, error: type[ValueError], what: str) -> tuple[Any, yaml.Node | None]:
    """The data of the YAML file at ``path`` and its node tree (for line numbers).

    Unreadable files and YAML syntax errors raise ``error`` with the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return parse_document(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        where = f"{path}:{line}" if line is not None else str(path)
        raise error(f"{where}: invalid YAML: {problem}") from exc


def parse_document(
    text: str, loader: type[yaml.SafeLoader] = StrictLoader
) -> tuple[Any, yaml.Node | None]:
    """The data of the one YAML document in ``text`` and its node tree (for line numbers).

    Raises ``yaml.YAMLError``; :func:`yaml_problem` says where and what. The
    same text is parsed once per process (PyYAML's parser is pure Python, and
    the catalogue, scoring, handoff and flow files are read by every component
    that starts): each call gets its own copy of the data; the node tree is
    shared and only read.
    """
    key = (loader, text)
    parsed = _PARSED.get(key)
    if parsed is None:
        reader = loader(text)
        try:
            root = reader.get_single_node()
            data = reader.construct_document(root) if root is not None else None
        finally:
            reader.dispose()
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.clear()
        parsed = _PARSED[key] = (data, root)
    return copy.deepcopy(parsed[0]), parsed[1]


# Texts parsed in this process (by loader), and how many are kept before starting over.
_PARSED: dict[tuple[type[yaml.SafeLoader], str], tuple[Any, yaml.Node | None]] = {}
_PARSED_KEPT = 64


def yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The 1-based line of a YAML error (``None`` if it has none) and what is wrong."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return (mark.line + 1 if mark is not None else None), problem


def describe(
    path: Path, root: yaml.Node | None, problems: Sequence[tuple[Location, str]], what: str
) -> str:
    """One line per problem: ``path:line: field: message``."""
    lines = [
        f"{path}:{line_of(root, location)}: {dotted(location)}: {message}"
        for location, message in problems
    ]
    return f"invalid {what}:\n" + "\n".join(lines) if len(lines) > 1 else lines[0]


def dotted(location: Location) -> str:
    """Render ("products", 2, "price") as products[2].price."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "__root__":
            text += f".{part}" if text else part
    return text or "(top level)"


def line_of(root: yaml.Node | None, location: Location) -> int:
    """1-based line of the deepest YAML node along ``location`` (1 if none is found)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        entry = _entry(node, part)
        if entry is None:
            break
        _, node = entry
        line = node.start_mark.line + 1
    return line


def key_line(root: yaml.Node | None, location: Location) -> int:
    """1-based line where the last part of ``location`` is written: its key, or its list item.

    Unlike :func:`line_of`, a key whose value starts on the next line is found
    on its own line. A part that is not there is reported on the line of the
    deepest node found on the way, where it would belong (1 if none is found).
    """
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        entry = _entry(node, part)
        if entry is None:
            return line
        written, node = entry
        line = node.start_mark.line + 1
    return written.start_mark.line + 1 if location else line


def _entry(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """Where ``part`` of ``node`` is written (a key, an item) and its value node."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return key, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item = node.value[part]
        return item, item
    return None
