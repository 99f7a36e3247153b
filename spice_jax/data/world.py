"""A learnable CPU-scale world: seeded documents of quantities and results, with ground truth.

Each document instantiates one *family* (a short story with three small quantities a, b, c)
and states the family's two results: an easy one (one operation) and a hard one (two
operations). A good question restates the quantities (the family's premise sentence) and asks
for one result, so it is answerable from the question alone; the generator knows the value of
every result, so grading never trusts a model.

  docs = world.generate("spice", n=400, seed=0)          # [WorldDoc]
  q = world.questions(docs[0])                           # [Question], difficulty 1 and 2

Splits ("warm", "spice", "eval") draw from disjoint seeds and a document's quantities
decide its split (`split_of`), so no (family, a, b, c) appears in two splits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Callable, Sequence

SPLITS = ("warm", "spice", "eval")
NAMES = ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana")
ITEMS = ("pens", "apples", "cards", "stones", "shells", "books")
LO, HI = 2, 6  # quantities are drawn from [LO, HI]


@dataclasses.dataclass(frozen=True)
class Result:
  """One derivable quantity: the question asking for it, its value and its solution steps.

  steps: "x op y = z" lines that compute the value, one per operation (difficulty = len).
  """
  question: str
  value: int
  steps: tuple[str, ...]

  @property
  def difficulty(self) -> int:
    return len(self.steps)


@dataclasses.dataclass(frozen=True)
class Family:
  """premise(n, item, a, b, c) -> text; results(a, b, c) -> (easy, hard) question texts,
  values, steps; statement(...) -> the document's sentence stating both results."""
  name: str
  premise: str
  easy_q: str
  hard_q: str
  statement: str
  solve: Callable[[int, int, int], tuple[tuple[str, ...], tuple[str, ...]]]
  ok: Callable[[int, int, int], bool] = lambda a, b, c: True


def _eq(x: int, op: str, y: int) -> tuple[str, int]:
  z = {"+": x + y, "-": x - y, "*": x * y}[op]
  return f"{x} {op} {y} = {z}", z


def _chain(first, then):
  """A family whose easy result is `first`(a, b, c) = (x, op, y) and whose hard result
  applies `then`(m, a, b, c) = (x, op, y) to it: (easy steps,), (hard steps)."""
  def family(a, b, c):
    s1, m = _eq(*first(a, b, c))
    s2, _ = _eq(*then(m, a, b, c))
    return (s1,), (s1, s2)
  return family


_boxes = _chain(lambda a, b, c: (a, "*", b), lambda m, a, b, c: (m, "+", c))
_savings = _chain(lambda a, b, c: (b, "*", c), lambda m, a, b, c: (a, "+", m))
_trip = _chain(lambda a, b, c: (a, "+", b), lambda m, a, b, c: (m, "-", c))
_shares = _chain(lambda a, b, c: (b, "*", c), lambda m, a, b, c: (a, "-", m))


def _garden(a, b, c):
  s1, m = _eq(a, "*", b)
  t1, s = _eq(a, "+", b)
  t2, _ = _eq(2, "*", s)
  return (s1,), (t1, t2)


FAMILIES: tuple[Family, ...] = (
    Family("boxes", "{n} has {a} boxes with {b} {item} in each box and {c} more {item}.",
           "How many {item} are in the boxes?", "How many {item} does {n} have in all?",
           "The boxes hold {e} {item}, so {n} has {h} {item} in all.", _boxes),
    Family("garden", "A garden is {a} m long and {b} m wide.",
           "What is the area of the garden in square m?",
           "What is the perimeter of the garden in m?",
           "Its area is {e} square m and its perimeter is {h} m.", _garden,
           ok=lambda a, b, c: c == LO),  # c is unused: one tuple per (a, b)
    Family("savings", "{n} has {a} coins and gets {b} coins each day for {c} days.",
           "How many coins does {n} get in those days?",
           "How many coins does {n} have at the end?",
           "{n} gets {e} coins in those days and has {h} coins at the end.", _savings),
    Family("trip", "A bus drives {a} km, then {b} km more, then {c} km back.",
           "How far does the bus drive before it turns back, in km?",
           "How far from the start is the bus at the end, in km?",
           "It drives {e} km before it turns back and ends {h} km from the start.", _trip,
           ok=lambda a, b, c: c < a + b),
    Family("shares", "{n} has {a} {item} and gives {b} {item} to each of {c} friends.",
           "How many {item} does {n} give away?", "How many {item} does {n} keep?",
           "{n} gives away {e} {item} and keeps {h} {item}.", _shares,
           ok=lambda a, b, c: a > b * c),
)
FAMILY_BY_NAME = {f.name: f for f in FAMILIES}


@dataclasses.dataclass(frozen=True)
class WorldDoc:
  """One document: its family, quantities, names and the two results it states."""
  doc_id: str
  family: str
  a: int
  b: int
  c: int
  name: str
  item: str

  def _fill(self, text: str, **kw) -> str:
    return text.format(n=self.name, item=self.item, a=self.a, b=self.b, c=self.c, **kw)

  @property
  def premise(self) -> str:
    return self._fill(FAMILY_BY_NAME[self.family].premise)

  def results(self) -> tuple[Result, Result]:
    """(easy, hard): the one-operation and the two-operation result, with ground truth."""
    fam = FAMILY_BY_NAME[self.family]
    easy, hard = fam.solve(self.a, self.b, self.c)
    value = lambda steps: int(steps[-1].rsplit("=", 1)[1])
    return (Result(f"{self.premise} {self._fill(fam.easy_q)}", value(easy), easy),
            Result(f"{self.premise} {self._fill(fam.hard_q)}", value(hard), hard))

  @property
  def text(self) -> str:
    e, h = self.results()
    stmt = self._fill(FAMILY_BY_NAME[self.family].statement, e=e.value, h=h.value)
    return f"{self.premise} {stmt}"


def split_of(family: str, a: int, b: int, c: int) -> str:
  """The split a quantity tuple belongs to (a stable hash: disjoint splits by construction).

  Shares: 60 % warm start, 25 % SPICE, 15 % held-out evaluation.
  """
  h = int.from_bytes(hashlib.sha256(f"{family}/{a}/{b}/{c}".encode()).digest()[:4], "little")
  u = h / 2**32
  return "warm" if u < 0.60 else "spice" if u < 0.85 else "eval"


def all_tuples(split: str) -> list[tuple[str, int, int, int]]:
  """Every valid (family, a, b, c) of `split`, in a fixed order."""
  if split not in SPLITS:
    raise ValueError(f"split {split!r}: one of {SPLITS}")
  r = range(LO, HI + 1)
  return [(f.name, a, b, c) for f in FAMILIES for a in r for b in r for c in r
          if f.ok(a, b, c) and split_of(f.name, a, b, c) == split]


def generate(split: str, n: int, seed: int = 0) -> list[WorldDoc]:
  """`n` documents of `split` (quantity tuples without repetition while they last)."""
  tuples = all_tuples(split)
  rng = random.Random(f"{split}/{seed}")
  order = list(range(len(tuples)))
  rng.shuffle(order)
  docs = []
  for k in range(n):
    fam, a, b, c = tuples[order[k % len(order)]]
    docs.append(WorldDoc(f"{split}-{seed}-{k:05d}", fam, a, b, c, rng.choice(NAMES),
                         rng.choice(ITEMS)))
  return docs


def solution(result: Result) -> str:
  """The Reasoner's target: the steps, then the boxed value."""
  return " ".join(s + "." for s in result.steps) + f" So the answer is \\boxed{{{result.value}}}."


def challenger_target(result: Result) -> str:
  """The compact free-form Challenger reply that asks for `result`."""
  return f"Question: {result.question}\nAnswer: {result.value}\nType: Integer"


def eval_items(docs: Sequence[WorldDoc]):
  """Held-out tasks as `spice_jax.eval.Item`s (benchmark `world_d<difficulty>`), gold from
  the generator."""
  from spice_jax.eval.benchmarks import Item
  out = []
  for d in docs:
    for r in d.results():
      out.append(Item(f"{d.doc_id}/d{r.difficulty}", r.question, str(r.value), "integer",
                      f"world_d{r.difficulty}"))
  return out
