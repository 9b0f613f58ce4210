"""Name -> thing registries: backbones, datasets, matchers, domain terms, experiments.

A registry is where a name is looked up and also the one place that says what the valid names are:
a lookup of an unknown name and a config check of one both give a message that lists them.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from viewadapt.errors import ConfigError

T = TypeVar("T")


class Registry(dict, Generic[T]):
    """A dict of named entries whose failed lookups name the valid ones."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, name: str) -> T:
        raise ConfigError(f"unknown {self.kind} '{name}': choose one of {', '.join(self)}")

    def check(self, name: str, key: str) -> None:
        """Fail on a name the config gives under ``key`` that is not registered."""
        if name not in self:
            raise ConfigError(f"{key} '{name}' is unknown: choose one of {', '.join(self)}")

    def register(self, name: str) -> Callable[[T], T]:
        """Class or function decorator: ``@REGISTRY.register("name")``."""

        def add(entry: T) -> T:
            if name in self:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self[name] = entry
            return entry

        return add
