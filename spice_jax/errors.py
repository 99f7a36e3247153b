"""The one base class of every error spice_jax raises on purpose.

`except spice_jax.errors.SpiceError` catches any of them (a bad config, corpus, model file,
prompt, ...); each subclass also derives from the builtin it refines (ValueError,
RuntimeError), so existing `except ValueError` handlers keep working.
"""


class SpiceError(Exception):
  """Base class of spice_jax's own errors."""


class ConfigError(SpiceError, ValueError):
  """A config that cannot run; the message names the field (`config.spice.group_size: ...`)."""
