"""Errors a user can cause and fix; the command line prints them as one line, no traceback."""


class ViewAdaptError(Exception):
    """A problem with the user's input (config, data, checkpoint) whose message names the fix."""


class ConfigError(ViewAdaptError):
    """A config value is missing, unknown, of the wrong type or out of range."""


class DataError(ViewAdaptError):
    """A dataset folder, layout or image cannot be used."""


class CheckpointError(ViewAdaptError):
    """A checkpoint is missing, corrupt, or was written by an incompatible version or config."""


def user_message(exc: ViewAdaptError) -> str:
    """The message to print. An error raised in a DataLoader worker comes back wrapped in the worker's
    traceback text; its last line is the original message, which is all a user needs."""
    text = str(exc).strip()
    if "Original Traceback" not in text:
        return text
    last = text.splitlines()[-1]
    return last.split(": ", 1)[1] if last.startswith("viewadapt.errors.") else last
