"""Config keys declared once.

:func:`setting` is a dataclass field whose metadata says what the key accepts: its choices (a registry,
an enum, or a tuple of names defined once where the names are used), its range, a parser for keys with a
grammar of their own; whether its value changes what a run trains or scores (a run's key, which files its
records, leaves out the keys that do not); and the version the key appeared in with the value runs had
before it (a key still at that value is left out of run keys too, so the records written before the key
existed keep their keys without a hand-kept list). Validation (:func:`check_declared`), the run key
(:func:`result_tree`) and docs/config.md all read these declarations. Checks that relate several keys
stay named functions where the config is validated.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Iterable

from viewadapt.errors import ConfigError
from viewadapt.registry import Registry

UNSET = object()  # a declaration's ``was`` not given: the key's own default


@dataclass(frozen=True)
class Declared:
    """What a key accepts and what it means for a run's results (a field's ``metadata["declared"]``)."""

    choices: Any = None  # Registry, Enum class, or tuple of names
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # (low, ...: the bound itself excluded
    high_open: bool = False
    also: tuple = ()  # values accepted outside the range (-1: "all of them")
    what: str = ""  # what the value is, for the message ("a probability")
    parse: Callable[[Any, str], None] | None = None  # a grammar of its own (choices then document its forms)
    results: bool = True  # the value changes what the run trains or scores
    since: str = ""  # the version the key appeared in ("": the first)
    was: Any = UNSET  # what runs did before the key existed (a value of it); default: the key's default
    # (sibling key, value): the key changes results only while the key beside it in its section has that
    # value (a rule's own settings); otherwise it is left out of run keys, and while it counts it is always
    # in them, whatever ``since`` says, so a change of its default later cannot give two runs one key
    when: tuple[str, Any] | None = None

    def names(self) -> list[str]:
        """The choices' names, in their declared order."""
        c = self.choices
        if c is None:
            return []
        if isinstance(c, type) and issubclass(c, enum.Enum):
            return [m.value for m in c]
        return list(c)

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {_num(self.low)}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {_num(self.high)}"
        else:
            return ""
        return text + "".join(f" or {_num(a)}" for a in self.also)

    def check(self, value: Any, key: str) -> None:
        """Raise :class:`ConfigError` naming ``key`` and what it accepts if ``value`` is not accepted."""
        if self.parse is not None:  # a grammar of its own: the choices (partial:K) only document it
            self.parse(value, key)
        elif isinstance(self.choices, Registry):
            self.choices.check(value, key)
        elif self.choices is not None and value not in self.names():
            raise ConfigError(f"{key} '{value}' is not one of: {', '.join(self.names())}")
        if (self.low is None and self.high is None) or value in self.also:
            return
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if below or above:
            if self.what:
                raise ConfigError(f"{key} is {self.what}: give a value {self.range_text()}, not {_num(value)}")
            raise ConfigError(f"{key} must be {self.range_text()}, not {_num(value)}")


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, **declared: Any) -> Any:
    """A dataclass field with its :class:`Declared` metadata: ``setting(10, low=1)``,
    ``setting("step", choices=Schedule)``, ``setting(-1, low=2, also=(-1,), since="0.1.0")``."""
    meta = {"declared": Declared(**declared)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def declared(f: dataclasses.Field) -> Declared:
    """A field's declaration (an undeclared field accepts any value of its type and changes results)."""
    return f.metadata.get("declared", Declared())


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]


def check_declared(obj: Any, prefix: str = "") -> None:
    """Every declared field of ``obj`` and of the sections it holds, checked against its declaration."""
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_declared(value, f"{key}.")
        else:
            declared(f).check(value, key)


def counts(obj: Any, d: Declared) -> bool | None:
    """Whether a key declared ``when`` changes results in ``obj`` (its section); None: no ``when``."""
    if d.when is None:
        return None
    sibling, wanted = d.when
    value = getattr(obj, sibling)
    return (value.value if isinstance(value, enum.Enum) else value) == wanted


def result_tree(obj: Any) -> dict:
    """``obj`` as a dict (sections nested) less the keys whose value changes no result (``results=False``,
    or a ``when`` not met), and less the keys added after the first version that still hold the value runs
    had before them (unless their ``when`` is met: a rule's settings always count where the rule runs)."""
    tree = {}
    for f in dataclasses.fields(obj):
        value, d = getattr(obj, f.name), declared(f)
        when = counts(obj, d)
        if not d.results or when is False:
            continue
        if when is None and d.since and value == (d.was if d.was is not UNSET else _default(f)):
            continue  # added later and as runs before it had it (a section: every key of it)
        if dataclasses.is_dataclass(value):
            tree[f.name] = result_tree(value)
        else:
            tree[f.name] = _plain(value)
    return tree


def _plain(value: Any) -> Any:
    """A value as asdict gives it (lists copied), so trees compare and hash as the config's dict does."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def declarations(cls: type, prefix: str = "") -> Iterable[tuple[str, dataclasses.Field, Declared]]:
    """Every key of a config section class (``data.height`` ...), with its field and declaration."""
    for f in dataclasses.fields(cls):
        yield f"{prefix}{f.name}", f, declared(f)
