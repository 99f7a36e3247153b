"""A named registry of functions (advantage estimators, reward variants, ...)."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
  """`@registry.register("name")` adds a function; `registry.get("name")` finds it.

  `error` is the exception type raised for an unknown or twice-registered name; `what`
  names the kind of thing in messages ("advantage estimator", "challenger reward").
  """

  def __init__(self, what: str, error: type[Exception]):
    self.what, self.error = what, error
    self._fns: dict[str, F] = {}

  def register(self, name: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
      if name in self._fns and self._fns[name] is not fn:
        raise self.error(f"{self.what} {name!r} registered twice")
      self._fns[name] = fn
      return fn
    return deco

  def get(self, name: str) -> F:
    if name not in self._fns:
      raise self.error(f"{self.what} {name!r} unknown; known: {self.names()}")
    return self._fns[name]

  def names(self) -> list[str]:
    return sorted(self._fns)

  def remove(self, name: str) -> None:
    self._fns.pop(name, None)
