"""Reading hand-edited YAML settings with errors that name the file, line and field.

The catalogue and the scoring configuration are edited by shop owners and
marketers: every problem is reported as ``path:line: dotted.field: message`` so
the fix is obvious, and YAML 1.1's surprising booleans (``NO`` for Norway,
``yes``, ``on``) stay text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that reads only true/false as booleans and refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping; a key given twice is an error (YAML would keep the last silently)."""
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"{key!r} is given twice (first on line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


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
        loader = StrictLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{where}: invalid YAML: {problem}") from exc
    return data, root


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
        child: Any = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line
