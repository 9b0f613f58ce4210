"""Reading YAML the way a user means it: numbers as YAML 1.2 reads them, and no key given twice.

PyYAML follows YAML 1.1, where ``3e-4`` and ``1e6`` (no dot) are text, so a learning rate written the
way people write it was refused as "expected a number"; and a mapping that names a key twice keeps the
last value without a word, so a config with two ``train:`` blocks silently lost the first. Every YAML
viewadapt reads (config files, overrides, the config inside a weights file) goes through
:func:`load_yaml`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# YAML 1.2's float (core schema): digits with an optional dot, an exponent without one, and the named
# values; PyYAML's own pattern needs a dot before an exponent.
_FLOAT = re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X)


class DuplicateKey(yaml.YAMLError):
    """A mapping names the same key twice."""


class _Loader(yaml.SafeLoader):
    """The safe loader (no Python objects) with YAML 1.2 floats, refusing a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise DuplicateKey(f"the key '{key}' is given twice (lines {seen[key].start_mark.line + 1} and "
                                   f"{line}): merge the two into one")
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# the int resolver must win for plain integers ("10"), which _FLOAT also matches: resolvers are tried in
# order per first character, and an implicit resolver added here goes after PyYAML's own int one
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def load_yaml(text: str) -> Any:
    """``text`` parsed with :class:`_Loader`; errors are PyYAML's (:class:`DuplicateKey` among them)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
