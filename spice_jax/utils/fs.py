"""One path abstraction for everything a run reads or writes besides orbax: `etils.epath`.

`etils.epath.Path` is what orbax and TFDS use: local paths and URIs (`gs://`, `s3://`, ...)
behave alike, so `--workdir=gs://bucket/run` works. Object stores cannot append to or
rename a file atomically, so the two write patterns of a run are helpers here:

  * `append_lines`: a real append on a local disk; elsewhere the file is read and written
    back whole (object stores replace an object atomically on close), O(file) per call.
  * `write_text_atomic`: temp file + rename on a local disk; elsewhere a single write.
"""

from __future__ import annotations

import os
from typing import Iterable, Union

from etils import epath

PathLike = Union[str, os.PathLike]


def path(p: PathLike) -> epath.Path:
  """`p` (a local path or a URI such as gs://b/x) as an `epath.Path`."""
  return epath.Path(p)


def is_local(p: PathLike) -> bool:
  """True for a path on the local filesystem (no `scheme://` prefix)."""
  return "://" not in os.fspath(p)


def join(p: PathLike, *parts: str) -> str:
  """`p / parts` as a string that keeps a URI's `scheme://`."""
  return os.fspath(path(p).joinpath(*parts))


def read_lines(p: PathLike) -> list[str]:
  """The lines of a text file ([] if it does not exist), line endings kept."""
  f = path(p)
  if not f.exists():
    return []
  return f.read_text().splitlines(keepends=True)


def write_text_atomic(p: PathLike, text: str) -> None:
  f = path(p)
  f.parent.mkdir(parents=True, exist_ok=True)
  if is_local(p):
    tmp = f.parent / (f.name + ".tmp")
    tmp.write_text(text)
    os.replace(os.fspath(tmp), os.fspath(f))
  else:
    f.write_text(text)


def append_lines(p: PathLike, lines: Iterable[str]) -> None:
  """Appends `lines` (each ending in a newline) to the text file `p`."""
  lines = list(lines)
  if is_local(p):
    with open(p, "a") as f:
      f.writelines(lines)
      f.flush()
    return
  path(p).write_text("".join(read_lines(p)) + "".join(lines))
