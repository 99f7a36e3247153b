"""A learnable CPU-scale world: seeded documents of quantities and results, with ground truth.

Each document instantiates one *family* (a short story with three small quantities a, b, c)
and states the family's two results: an easy one (one operation) and a hard one (two
operations). A good question restates the quantities (the family's premise sentence) and asks
for one result, so it is answerable from the question alone; the generator knows the value of
every result, so grading never trusts a model.

  docs = world.generate("spice", n=400, seed=0)          # [WorldDoc]
  q = world.questions(docs[0])                           # [Question], difficulty 1 and 2

Splits ("warm", "spice", "eval") draw from disjoint seeds and a document's quantities
decide its split (`split_of`), so no (family, a, b, c) appears in two splits. The "eval"
quantities (no role ever sees them) are halved into two held-out sets of *unseen problems*
(`heldout_part`): "dev", for every design choice, tuning and debugging, and "test", touched
only to report (the headline). A third set, "train_renamed" (`train_renamed_documents`),
is the SPICE corpus's own problems with another name or item: it measures fitting of the
training problems, not generalisation.

  dev = world.heldout_documents("dev", seed=0)    # one document per dev quantity tuple
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import string
from typing import Callable, Sequence

SPLITS = ("warm", "spice", "eval")
NAMES = ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana")
ITEMS = ("pens", "apples", "cards", "stones", "shells", "books")
LO, HI = 2, 9  # quantities are drawn from [LO, HI] (1557 tuples: 909 warm, 411 spice, 237 eval)


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


def _value(steps: tuple[str, ...]) -> int:
  """The value the last "x op y = z" step computes."""
  return int(steps[-1].rsplit("=", 1)[1])


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
    return (Result(f"{self.premise} {self._fill(fam.easy_q)}", _value(easy), easy),
            Result(f"{self.premise} {self._fill(fam.hard_q)}", _value(hard), hard))

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


def warm_role(family: str, a: int, b: int, c: int) -> str:
  """Which role's warm-start examples a warm tuple feeds: "challenger" or "reasoner" (a
  second stable hash, half and half). A Challenger example's results are then never taught
  to the Reasoner, so the warm start can only fit them by reading the document; with shared
  tuples a small model learns to recompute (or recall) the result instead of copying it,
  and about half of its golds on new documents come out wrong."""
  h = int.from_bytes(hashlib.sha256(f"role/{family}/{a}/{b}/{c}".encode()).digest()[:4],
                     "little")
  return "challenger" if h < 2**31 else "reasoner"


def all_tuples(split: str) -> list[tuple[str, int, int, int]]:
  """Every valid (family, a, b, c) of `split`, in a fixed order."""
  if split not in SPLITS:
    raise ValueError(f"split {split!r}: one of {SPLITS}")
  r = range(LO, HI + 1)
  return [(f.name, a, b, c) for f in FAMILIES for a in r for b in r for c in r
          if f.ok(a, b, c) and split_of(f.name, a, b, c) == split]


HELD_OUT = ("dev", "test", "train_renamed")
UNSEEN = ("dev", "test")


def _rank_key(kind: str, t: tuple[str, int, int, int]) -> bytes:
  return hashlib.sha256(f"{kind}/{t[0]}/{t[1]}/{t[2]}/{t[3]}".encode()).digest()


def heldout_tuples(part: str) -> list[tuple[str, int, int, int]]:
  """The "eval" tuples of held-out set `part` ("dev" or "test"): the eval tuples ordered by a
  third stable hash, the first half (rounded up) dev, the rest test. Disjoint halves of sizes
  differing by at most one; every tuple is in exactly one."""
  if part not in UNSEEN:
    raise ValueError(f"held-out part {part!r}: one of {UNSEEN}")
  ranked = sorted(all_tuples("eval"), key=lambda t: _rank_key("part", t))
  half = (len(ranked) + 1) // 2
  return sorted(ranked[:half] if part == "dev" else ranked[half:])


def heldout_part(family: str, a: int, b: int, c: int) -> str | None:
  """"dev" or "test" for an eval tuple, None for a tuple some role trains on."""
  t = (family, a, b, c)
  for part in UNSEEN:
    if t in set(heldout_tuples(part)):
      return part
  return None


def heldout_documents(part: str, seed: int = 0) -> list[WorldDoc]:
  """One document per tuple of held-out set `part` ("dev" | "test"), in a seeded order with
  seeded names and items: problems whose quantities neither role has seen."""
  tuples = heldout_tuples(part)
  rng = random.Random(f"{part}/{seed}")
  rng.shuffle(tuples)
  return [WorldDoc(f"{part}-{seed}-{k:05d}", fam, a, b, c, rng.choice(NAMES), rng.choice(ITEMS))
          for k, (fam, a, b, c) in enumerate(tuples)]


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


def train_renamed_documents(corpus: Sequence[WorldDoc], n: int, seed: int) -> list[WorldDoc]:
  """The SPICE corpus's problems renamed: the quantity tuples of `corpus` in documents with
  another name and/or item (drawn with `seed`), never a text of `corpus`. Their questions
  state every number, so accuracy here measures fitting of the training problems (the
  Reasoner trains on these very quantities), not generalisation to unseen problems."""
  texts = {d.text for d in corpus}
  tuples = sorted({(d.family, d.a, d.b, d.c) for d in corpus})
  rng = random.Random(f"train_renamed/{seed}")
  rng.shuffle(tuples)
  out = []
  for k in range(len(tuples) * 8):
    if len(out) == n:
      break
    fam, a, b, c = tuples[k % len(tuples)]
    d = WorldDoc(f"train_renamed-{seed}-{len(out):05d}", fam, a, b, c, rng.choice(NAMES),
                 rng.choice(ITEMS))
    if d.text not in texts:
      out.append(d)
      texts.add(d.text)
  return out


def eval_items(docs: Sequence[WorldDoc], held_out: str):
  """Held-out tasks as `spice_jax.eval.Item`s (benchmark `<held_out>_d<difficulty>`, e.g.
  `test_d2`), gold from the generator. held_out: "dev" / "test" (`heldout_documents`:
  unseen quantities) or "train_renamed" (`train_renamed_documents`)."""
  from spice_jax.eval.benchmarks import Item
  if held_out not in HELD_OUT:
    raise ValueError(f"held_out {held_out!r}: one of {HELD_OUT}")
  out = []
  for d in docs:
    for r in d.results():
      out.append(Item(f"{d.doc_id}/d{r.difficulty}", r.question, str(r.value), "integer",
                      f"{held_out}_d{r.difficulty}"))
  return out


def _question_regex(family: Family, question: str) -> "re.Pattern":
  """A regex matching `premise + " " + question` of `family` with any names, items and
  numbers; an item or quantity used twice must repeat its first value."""
  text = f"{family.premise} {question}"
  out, seen = [], set()
  for literal, field, _, _ in string.Formatter().parse(text):
    out.append(re.escape(literal))
    if field is None:
      continue
    if field in seen:  # a name may change (the question still has one answer); an item not
      out.append(f"(?P={field})" if field != "n" else "[A-Za-z]+")
    else:
      seen.add(field)
      number = field in ("a", "b", "c")
      out.append(f"(?P<{field}>-?\\d+)" if number else f"(?P<{field}>[A-Za-z]+)")
  return re.compile("".join(out))


_QUESTION_REGEXES = [(f, k, _question_regex(f, q)) for f in FAMILIES
                     for k, q in enumerate((f.easy_q, f.hard_q))]


def true_answer(question: str) -> int | None:
  """The true value of a world question as posed (its own quantities, whatever document it
  came from), or None when the text is not one of the families' questions. Grades a
  Challenger's gold without trusting the model."""
  q = " ".join(question.split())
  for fam, k, rx in _QUESTION_REGEXES:
    m = rx.fullmatch(q)
    if m:
      v = {x: int(m.group(x)) if x in m.groupdict() else LO for x in "abc"}
      return _value(fam.solve(v["a"], v["b"], v["c"])[k])
  return None


def gold_is_true(question: str, gold: str) -> bool | None:
  """Whether a Challenger's gold answer is the true value of its question (None: the
  question is not one of the world's, so it cannot be graded)."""
  v = true_answer(question)
  return None if v is None else str(gold).strip() == str(v)
