"""The error for a setting the code cannot use.

A misspelt `--config.model.name=unte`, `--config.model.compute_dtype=fp16`
or a batch that does not split over the devices is bad input, not a bug:
the entry points print its message, which names the setting and the fix, as
one `Error:` line. It subclasses ValueError, so callers that catch
ValueError keep working.
"""

from collections.abc import Collection


class ConfigError(ValueError):
  """A setting holds a value the code cannot use (the message says why)."""


def check_choice(setting: str, value, choices: Collection) -> None:
  """Raises ConfigError naming `setting`, `value` and the choices unless
  `value` is one of `choices`."""
  if value not in choices:
    raise ConfigError(
        f"Unknown {setting} {value!r}. Fix: use one of {sorted(choices)}."
    )
