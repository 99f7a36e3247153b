"""One path abstraction for everything a run reads or writes besides orbax: `etils.epath`.

`etils.epath.Path` is what orbax and TFDS use: local paths and URIs (`gs://`, `s3://`, ...)
behave alike, so `--workdir=gs://bucket/run` works. Object stores cannot append to or
rename a file atomically, so the two write patterns of a run are helpers here:

  * `append_lines`: a real append on a local disk; elsewhere each call writes one new
    segment object `<file>.d/<seq>.jsonl` (its own lines only: writes per call do not grow
    with the record). `read_lines` returns the file then its segments, in order, as one
    stream; `parts` lists them (for a rewrite such as a resume's truncation).
  * `write_text_atomic`: temp file + rename on a local disk; elsewhere a single write.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Union

from etils import epath

PathLike = Union[str, os.PathLike]


def cache_root() -> str:
  """Where spice_jax keeps what it can rebuild (compiled programs, tokenizers read from GGUF
  files, the planner's log): $SPICE_JAX_CACHE, else $XDG_CACHE_HOME/spice_jax (default
  ~/.cache/spice_jax)."""
  if os.environ.get("SPICE_JAX_CACHE"):
    return os.path.abspath(os.path.expanduser(os.environ["SPICE_JAX_CACHE"]))
  root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(root, "spice_jax")


def path(p: PathLike) -> epath.Path:
  """`p` (a local path or a URI such as gs://b/x) as an `epath.Path`."""
  return epath.Path(p)


def is_local(p: PathLike) -> bool:
  """True for a path on the local filesystem (no `scheme://` prefix)."""
  return "://" not in os.fspath(p)


def absolute(p: PathLike) -> str:
  """A local path made absolute (`~` expanded), as orbax wants; a URI as given."""
  p = os.fspath(p)
  return os.path.abspath(os.path.expanduser(p)) if is_local(p) else p


def join(p: PathLike, *parts: str) -> str:
  """`p / parts` as a string that keeps a URI's `scheme://`."""
  return os.fspath(path(p).joinpath(*parts))


SEGMENTS = ".d"                       # `<file>.d/`: the appended segments of `<file>`
_SEGMENT = re.compile(r"^(\d{8,})\.jsonl$")
_next_segment: dict[str, int] = {}    # segment directory -> next sequence number


def segments(p: PathLike) -> list[str]:
  """The appended segments of `p` (a URI's `append_lines` writes), in write order."""
  d = path(os.fspath(p) + SEGMENTS)
  if not d.is_dir():
    return []
  names = sorted((int(m.group(1)), m.group(0)) for m in
                 (_SEGMENT.match(c.name) for c in d.iterdir()) if m)
  return [join(d, name) for _, name in names]


def parts(p: PathLike) -> list[str]:
  """The objects holding the stream `p`: the file itself (when it exists), then segments."""
  return ([os.fspath(p)] if path(p).is_file() else []) + segments(p)


def object_lines(p: PathLike) -> list[str]:
  """The lines of the one file or object `p` ([] if missing), each ending in a newline (a
  killed writer's torn last line stays one, malformed, line)."""
  f = path(p)
  if not f.is_file():
    return []
  text = f.read_text()
  return (text if not text or text.endswith("\n") else text + "\n").splitlines(keepends=True)


def read_lines(p: PathLike) -> list[str]:
  """The lines of the stream `p` (the file, then its segments; [] if none), endings kept."""
  return [line for part in parts(p) for line in object_lines(part)]


def remove(p: PathLike) -> None:
  """Deletes one file or object (missing is fine)."""
  f = path(p)
  if f.exists():
    f.unlink()


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
  """Appends `lines` (each ending in a newline) to the stream `p`: the file itself on a
  local disk, a new segment object elsewhere (O(len(lines)) bytes either way)."""
  lines = list(lines)
  if is_local(p):
    with open(p, "a") as f:
      f.writelines(lines)
      f.flush()
    return
  if not lines:
    return
  d = os.fspath(p) + SEGMENTS
  if d not in _next_segment:     # listed once per process; then counted here
    done = segments(p)
    _next_segment[d] = int(os.path.basename(done[-1]).split(".")[0]) + 1 if done else 0
  seq = _next_segment[d]
  path(d).mkdir(parents=True, exist_ok=True)
  path(join(d, f"{seq:08d}.jsonl")).write_text("".join(lines))
  _next_segment[d] = seq + 1
