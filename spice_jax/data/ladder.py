"""A CPU-scale world with a difficulty ladder: documents whose results sit at depths 1..D.

A document is a *chain*: a start quantity q0 and D operations ("+ y", "- y", "* y", operands
in [OP_LO, OP_HI]); it states the value after every step, so it holds one result per depth
(depth = number of operations, 1..D, D = `max_depth`, default 6). A good Challenger question
restates the start and the first k steps and asks for the value after step k: answerable from
the question alone, with exact ground truth (same principle as `data.world`).

  doc = ladder.generate("spice", n=400, seed=0)[0]                 # LadderDoc
  doc.text   # "Ana has 5 pens. Step 1: add 7. Step 2: take away 3. ... After step 1: 12. ..."
  r = doc.results()[2]  # depth 3: Result(question, value, steps ("5 + 7 = 12", ...))
  ladder.depth_of(doc.text, "9") == 2

Every value after every step stays in [VAL_LO, VAL_HI] = [1, 99] and the D values of a
document are distinct (so a gold value names one depth), numbers the world's tokenizer splits
into single digits like any other (`models.train_tokenizer`).

Splits (the same protocol as `data.world`). A depth-k problem is the chain's first k steps,
so every deeper problem extends the depth-1 problem (q0, op1, y1): a document's *root*
decides its split (`split_of`, a stable hash) and its warm-start role (`warm_role`), which
makes warm / spice / eval disjoint at every depth (a depth-k problem of one split never
appears in another). The eval roots are halved by a third hash into "dev" (every design
choice) and "test" (only to report); `heldout_documents` gives one fixed document per root
(its later steps drawn from the root alone, names/items from the seed), so each held-out set
has the same number of distinct problems at every depth. `train_renamed_documents`: the SPICE
corpus's chains under another name or item (fitting, not generalisation).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from typing import Sequence

from spice_jax.data.world import ITEMS, NAMES, Result, challenger_target, solution

__all__ = ["LadderDoc", "Result", "challenger_target", "solution", "generate", "split_of",
           "warm_role", "all_roots", "heldout_roots", "heldout_part", "heldout_documents",
           "train_renamed_documents", "eval_items", "depth_of", "true_answer", "gold_is_true",
           "question_depth"]

SPLITS = ("warm", "spice", "eval")
HELD_OUT = ("dev", "test", "train_renamed")
UNSEEN = ("dev", "test")
OPS = ("+", "-", "*")
Q0_LO, Q0_HI = 2, 39      # start quantity
OP_LO, OP_HI = 2, 9       # operands
VAL_LO, VAL_HI = 1, 99    # every value after a step
MAX_DEPTH = 6
SHARES = (0.50, 0.25)     # warm, spice; the rest (25 %) is eval

_STEP_TEXT = {"+": "add {y}.", "-": "take away {y}.", "*": "multiply by {y}."}


def _apply(x: int, op: str, y: int) -> int:
  return x + y if op == "+" else x - y if op == "-" else x * y


def _ok(v: int) -> bool:
  return VAL_LO <= v <= VAL_HI


def _hash01(key: str) -> float:
  return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") / 2**32


Root = tuple[int, str, int]   # (q0, op1, y1): the depth-1 problem


@dataclasses.dataclass(frozen=True)
class LadderDoc:
  """One document: start q0, the chain `ops`/`operands` (D each), a name and an item."""
  doc_id: str
  q0: int
  ops: tuple[str, ...]
  operands: tuple[int, ...]
  name: str
  item: str

  def __post_init__(self):
    if len(self.ops) != len(self.operands) or not self.ops:
      raise ValueError(f"LadderDoc {self.doc_id}: {len(self.ops)} ops, "
                       f"{len(self.operands)} operands (need equal, >= 1)")

  @property
  def depth(self) -> int:
    """D: the number of steps (and of stated results)."""
    return len(self.ops)

  @property
  def root(self) -> Root:
    return (self.q0, self.ops[0], self.operands[0])

  def values(self) -> tuple[int, ...]:
    """[D] the value after each step."""
    out, x = [], self.q0
    for op, y in zip(self.ops, self.operands):
      x = _apply(x, op, y)
      out.append(x)
    return tuple(out)

  def premise(self, k: int) -> str:
    """The start and the first k steps (k in 1..D)."""
    steps = [f"Step {i + 1}: " + _STEP_TEXT[op].format(y=y)
             for i, (op, y) in enumerate(zip(self.ops[:k], self.operands[:k]))]
    return " ".join([f"{self.name} has {self.q0} {self.item}."] + steps)

  def results(self) -> tuple[Result, ...]:
    """[D] the result at depth k = 1..D: question, value, the k "x op y = z" steps."""
    out, steps, x = [], [], self.q0
    for k, (op, y) in enumerate(zip(self.ops, self.operands), start=1):
      z = _apply(x, op, y)
      steps.append(f"{x} {op} {y} = {z}")
      q = f"{self.premise(k)} How many {self.item} does {self.name} have after step {k}?"
      out.append(Result(q, z, tuple(steps)))
      x = z
    return tuple(out)

  @property
  def text(self) -> str:
    stated = " ".join(f"After step {k}: {v}." for k, v in enumerate(self.values(), start=1))
    return f"{self.premise(self.depth)} {stated}"


# ------------------------------------------------------------------------ splits

def split_of(root: Root) -> str:
  """The split of a root (q0, op1, y1): 50 % warm, 25 % spice, 25 % eval (stable hash)."""
  u = _hash01(f"ladder/{root[0]}/{root[1]}/{root[2]}")
  return "warm" if u < SHARES[0] else "spice" if u < SHARES[0] + SHARES[1] else "eval"


def warm_role(root: Root) -> str:
  """"challenger" or "reasoner" (a second hash, half and half): a Challenger example's
  problems (at every depth) are never taught to the Reasoner (see `world.warm_role`)."""
  return "challenger" if _hash01(f"ladder-role/{root[0]}/{root[1]}/{root[2]}") < 0.5 \
      else "reasoner"


def all_roots(split: str) -> list[Root]:
  """Every valid root of `split` (value after step 1 in [VAL_LO, VAL_HI]), fixed order."""
  if split not in SPLITS:
    raise ValueError(f"split {split!r}: one of {SPLITS}")
  return [(q, op, y) for q in range(Q0_LO, Q0_HI + 1) for op in OPS
          for y in range(OP_LO, OP_HI + 1)
          if _ok(_apply(q, op, y)) and _apply(q, op, y) != q and split_of((q, op, y)) == split]


def heldout_roots(part: str) -> list[Root]:
  """The eval roots of held-out set `part` ("dev" | "test"): ordered by a third hash, the
  first half (rounded up) dev, the rest test."""
  if part not in UNSEEN:
    raise ValueError(f"held-out part {part!r}: one of {UNSEEN}")
  ranked = sorted(all_roots("eval"),
                  key=lambda r: hashlib.sha256(f"ladder-part/{r[0]}/{r[1]}/{r[2]}".encode())
                  .digest())
  half = (len(ranked) + 1) // 2
  return sorted(ranked[:half] if part == "dev" else ranked[half:])


def heldout_part(root: Root) -> str | None:
  """"dev" or "test" for an eval root, None for a root some role trains on."""
  for part in UNSEEN:
    if tuple(root) in set(heldout_roots(part)):
      return part
  return None


# ------------------------------------------------------------------------ generation

def _extend(root: Root, depth: int, rng: random.Random) -> tuple[tuple[str, ...],
                                                                  tuple[int, ...]]:
  """A chain of `depth` steps starting with `root` whose values stay in range and are all
  distinct and different from q0 (rejection sampling over the next step; restarts if stuck)."""
  q0, op1, y1 = root
  for _ in range(1000):
    ops, ys, seen, x = [op1], [y1], {q0, _apply(q0, op1, y1)}, _apply(q0, op1, y1)
    while len(ops) < depth:
      nxt = [(op, y) for op in OPS for y in range(OP_LO, OP_HI + 1)
             if _ok(_apply(x, op, y)) and _apply(x, op, y) not in seen]
      if not nxt:
        break
      op, y = rng.choice(nxt)
      x = _apply(x, op, y)
      ops.append(op)
      ys.append(y)
      seen.add(x)
    if len(ops) == depth:
      return tuple(ops), tuple(ys)
  raise RuntimeError(f"no chain of depth {depth} from root {root}")


def _check_depth(max_depth: int) -> int:
  if not 1 <= int(max_depth) <= 12:
    raise ValueError(f"max_depth {max_depth}: expected 1..12")
  return int(max_depth)


def generate(split: str, n: int, seed: int = 0, max_depth: int = MAX_DEPTH) -> list[LadderDoc]:
  """`n` documents of `split` with `max_depth` steps each (roots without repetition while
  they last, later steps drawn with `seed`). Deterministic in (split, n, seed, max_depth)."""
  D = _check_depth(max_depth)
  roots = all_roots(split)
  rng = random.Random(f"ladder/{split}/{seed}")
  order = list(range(len(roots)))
  rng.shuffle(order)
  docs = []
  for k in range(n):
    root = roots[order[k % len(order)]]
    ops, ys = _extend(root, D, rng)
    docs.append(LadderDoc(f"ladder-{split}-{seed}-{k:05d}", root[0], ops, ys,
                          rng.choice(NAMES), rng.choice(ITEMS)))
  return docs


def heldout_documents(part: str, seed: int = 0, max_depth: int = MAX_DEPTH) -> list[LadderDoc]:
  """One document per root of held-out set `part`: its chain fixed by the root alone (the
  same problems for every seed), its order, name and item drawn with `seed`."""
  D = _check_depth(max_depth)
  roots = heldout_roots(part)
  rng = random.Random(f"ladder/{part}/{seed}")
  rng.shuffle(roots)
  out = []
  for k, root in enumerate(roots):
    ops, ys = _extend(root, D, random.Random(f"ladder-chain/{root}/{D}"))
    out.append(LadderDoc(f"ladder-{part}-{seed}-{k:05d}", root[0], ops, ys,
                         rng.choice(NAMES), rng.choice(ITEMS)))
  return out


def train_renamed_documents(corpus: Sequence[LadderDoc], n: int, seed: int) -> list[LadderDoc]:
  """The SPICE corpus's chains under another name and/or item (never a text of `corpus`)."""
  texts = {d.text for d in corpus}
  chains = sorted({(d.q0, d.ops, d.operands) for d in corpus})
  rng = random.Random(f"ladder-renamed/{seed}")
  rng.shuffle(chains)
  out = []
  for k in range(len(chains) * 8):
    if len(out) == n:
      break
    q0, ops, ys = chains[k % len(chains)]
    d = LadderDoc(f"ladder-train_renamed-{seed}-{len(out):05d}", q0, ops, ys,
                  rng.choice(NAMES), rng.choice(ITEMS))
    if d.text not in texts:
      out.append(d)
      texts.add(d.text)
  return out


def eval_items(docs: Sequence[LadderDoc], held_out: str):
  """Graded `spice_jax.eval.Item`s, one per document and depth, benchmark
  `<held_out>_d<depth>` (e.g. `dev_d3`), so `eval.heldout._by_set` reports per-depth and
  per-set accuracy."""
  from spice_jax.eval.benchmarks import Item
  if held_out not in HELD_OUT:
    raise ValueError(f"held_out {held_out!r}: one of {HELD_OUT}")
  return [Item(f"{d.doc_id}/d{r.difficulty}", r.question, str(r.value), "integer",
               f"{held_out}_d{r.difficulty}") for d in docs for r in d.results()]


# ------------------------------------------------------------------------ grading

_STATED = re.compile(r"After step (\d+): (-?\d+)\.")


def _as_int(value) -> int | None:
  s = str(value).strip()
  return int(s) if re.fullmatch(r"-?\d+", s) else None


def depth_of(doc: LadderDoc | str, value) -> int | None:
  """The depth k of the result of `doc` (a LadderDoc or its text) whose value is `value`
  (an int or an integer string, e.g. a Challenger's gold), None when no stated result has
  that value. A document's values are distinct, so at most one depth matches."""
  v = _as_int(value)
  if v is None:
    return None
  if isinstance(doc, LadderDoc):
    stated = list(enumerate(doc.values(), start=1))
  else:
    stated = [(int(k), int(x)) for k, x in _STATED.findall(doc)]
  hits = [k for k, x in stated if x == v]
  return hits[0] if len(hits) == 1 else None


_Q_START = re.compile(r"(?P<n>[A-Za-z]+) has (?P<q0>\d+) (?P<item>[A-Za-z]+)\.")
_Q_STEP = {"+": r"add (?P<y>\d+)\.", "-": r"take away (?P<y>\d+)\.",
           "*": r"multiply by (?P<y>\d+)\."}


def _parse_question(question: str) -> tuple[int, list[tuple[str, int]], int] | None:
  """(q0, [(op, y)] steps, asked step) of a ladder question as written, or None."""
  q = " ".join(question.split())
  m = _Q_START.match(q)
  if not m:
    return None
  n, item, pos, steps = m.group("n"), m.group("item"), m.end(), []
  while True:
    for op, pat in _Q_STEP.items():
      sm = re.compile(rf" Step {len(steps) + 1}: " + pat).match(q, pos)
      if sm:
        steps.append((op, int(sm.group("y"))))
        pos = sm.end()
        break
    else:
      break
  tail = re.compile(rf" How many {re.escape(item)} does {re.escape(n)} have after step "
                    r"(\d+)\?").fullmatch(q, pos)
  if not tail or not steps:
    return None
  return int(m.group("q0")), steps, int(tail.group(1))


def question_depth(question: str) -> int | None:
  """The number of steps a ladder question asks through, or None if it is not one."""
  p = _parse_question(question)
  return p[2] if p and p[2] == len(p[1]) else None


def true_answer(question: str) -> int | None:
  """The true value of a ladder question as posed (its own numbers, whatever document it
  came from), or None when the text is not a ladder question (asks for a step it does not
  state)."""
  p = _parse_question(question)
  if p is None or p[2] != len(p[1]):
    return None
  x = p[0]
  for op, y in p[1]:
    x = _apply(x, op, y)
  return x


def gold_is_true(question: str, gold) -> bool | None:
  """Whether `gold` is the true value of a ladder `question` (None: not gradable)."""
  v = true_answer(question)
  return None if v is None else str(gold).strip() == str(v)
