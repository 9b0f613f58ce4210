"""Old spellings of config keys, read as they meant: every config a run, a record or a user wrote before a
key moved or was renamed loads as it did. One place, applied to the raw tree before it is typed
(:func:`migrate`); new keys need no entry here (a key added later takes its default, and its declaration
keeps old run keys: :mod:`viewadapt.declare`)."""

from __future__ import annotations

# Keys that moved, (section, key) old -> new: Dd's settings gathered into the dd section.
MOVED = {("model", "dd_hidden"): ("dd", "hidden"), ("model", "dd_input"): ("dd", "input"),
         ("train", "dd_lr"): ("dd", "lr"), ("train", "dd_steps"): ("dd", "steps"),
         ("train", "dd_warmup"): ("dd", "warmup")}


def moved_keys(tree: dict) -> dict:
    """``tree`` with keys that moved (:data:`MOVED`) at their new place; a new key set too wins."""
    for (section, key), (new_section, new_key) in MOVED.items():
        old = tree.get(section)
        if isinstance(old, dict) and key in old:
            value = old.pop(key)
            moved = tree.setdefault(new_section, {})
            if isinstance(moved, dict):
                moved.setdefault(new_key, value)
    return tree


def shared_spelling(tree: dict) -> dict:
    """``model.shared: true`` without ``model.asymmetry`` spells asymmetry none over the level the default
    was when shared was the only switch (full): the mappings read it so, and such a run resolves, and keys,
    as it always has."""
    model = tree.get("model")
    if isinstance(model, dict) and model.get("shared") is True and "asymmetry" not in model:
        model["asymmetry"] = "full"
    return tree


def migrate(tree: dict, user: bool = True) -> dict:
    """Every old spelling of ``tree`` read as it meant. ``user``: a config typed by a user (a file and
    overrides); a config a run resolved and stored carries its asymmetry already."""
    tree = moved_keys(tree)
    return shared_spelling(tree) if user else tree
