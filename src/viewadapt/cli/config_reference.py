"""The configuration reference (docs/config.md), written from the config dataclasses themselves: every
key, its type, its default and the comment the code gives it, so the reference cannot drift from the
code (a test compares the committed file with this output). Regenerate with
``python -m viewadapt.cli.config_reference > docs/config.md``."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import re
import tokenize
import typing

from viewadapt.config import PAPER_METHOD, RECOMMENDED_METHOD, Config
from viewadapt.declare import UNSET, declared


@functools.cache
def _field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in ``cls``'s source: the comment lines just above it and the one after it."""
    source = inspect.getsource(cls)
    by_line = {tok.start[0]: tok.string.lstrip("# ").strip()
               for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, str] = {}
    above: list[str] = []
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text.startswith("#"):
            above.append(by_line[number])
            continue
        name = text.split(":", 1)[0].strip()
        if name in names and name not in comments:
            comments[name] = " ".join(above + ([by_line[number]] if number in by_line else []))
        above = []
    return comments


def _comment(cls: type, name: str) -> str:
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass) and name in {f.name for f in dataclasses.fields(klass)}:
            text = _field_comments(klass).get(name, "")
            if text:
                return text
    return ""


def _type_name(kind: object) -> str:
    origin = typing.get_origin(kind)
    if origin is list:
        return f"list of {_type_name(typing.get_args(kind)[0])}"
    return getattr(kind, "__name__", str(kind))


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if value else '""'
    return str(value)


def _choice(name: str, value: object) -> str:
    """A value the key accepts; a registered class with the first sentence of its docstring (an entry
    with a ``description``, that), so a new one is documented the moment it is registered."""
    doc = inspect.getdoc(value) if inspect.isclass(value) else getattr(value, "description", None)
    if not doc:
        return f"`{name}`"
    first = re.split(r"\.\s+(?=[A-Z])", " ".join(doc.split("\n\n")[0].split()))[0]  # not at "Eq. 3"
    return f"`{name}` ({first.rstrip('.')})"


def _declaration(f: dataclasses.Field) -> str:
    """What a key's declaration adds to its comment: the values it accepts (a registry's entries with what
    each does), its range, whether it changes results, the version it appeared in."""
    d, parts = declared(f), []
    choices = d.choices
    if choices is not None:
        named = choices.items() if isinstance(choices, dict) else ((n, None) for n in d.names())
        parts.append(f"One of: {', '.join(_choice(k, v) for k, v in named)}.")
    if d.range_text():
        parts.append(f"Range: {d.range_text()}.")
    if not d.results:
        parts.append("Changes no result (not part of a run's key).")
    if d.when is not None:
        parts.append(f"Changes results only where `{d.when[0]}` is `{d.when[1]}` (part of a run's key there only).")
    if d.since:
        was = d.was if d.was is not UNSET else (f.default_factory() if f.default_factory is not dataclasses.MISSING
                                                  else f.default)
        parts.append(f"Since {d.since} (runs before it: `{_value(was)}`).")
    return " ".join(parts)


def _rows(section: object, prefix: str) -> tuple[list[str], list[tuple[str, object]]]:
    """The rows of one section's table, and its subsections."""
    cls = type(section)
    hints = typing.get_type_hints(cls)
    rows, subsections = [], []
    for f in dataclasses.fields(cls):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            subsections.append((f"{prefix}{f.name}", value))
            continue
        text = _comment(cls, f.name).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        extra = _declaration(f).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        if extra:
            text = (text.rstrip(".") + ". " if text else "") + extra
        rows.append(f"| `{prefix}{f.name}` | {_type_name(hints[f.name])} | `{_value(value)}` | {text} |")
    return rows, subsections


def config_reference() -> str:
    """docs/config.md: one table per config section, in the order the config nests them."""
    out = ["# Configuration reference", "",
           "Every key of a run's config, with its type, its default and what it does. Set them in a YAML file "
           "(`-c file.yaml`) or on the command line (`key.path=value`, values parsed as YAML); a run writes its "
           "resolved config to `config.yaml`. Written from the code by "
           "`python -m viewadapt.cli.config_reference > docs/config.md`; a test fails when this file is stale.",
           "", "The defaults are the recommended method (`viewadapt train` without `-c`: "
           f"`{' '.join(RECOMMENDED_METHOD)}`); `-c paper` is the paper's (`{' '.join(PAPER_METHOD)}`, "
           "Lite0 / Lite1 at 128 x 64, the cosine schedule in stage (a)).", ""]
    pending: list[tuple[str, object]] = [("", Config())]
    while pending:
        name, section = pending.pop(0)
        rows, subsections = _rows(section, f"{name}." if name else "")
        doc = inspect.getdoc(type(section)) if name else ""
        out += [f"## `{name}`" if name else "## top level", ""]
        if doc and not doc.startswith(type(section).__name__ + "("):
            out += [" ".join(doc.split()), ""]
        out += ["| key | type | default | what it does |", "|---|---|---|---|", *rows, ""]
        pending = subsections + pending
    return "\n".join(out)


if __name__ == "__main__":
    print(config_reference(), end="")
