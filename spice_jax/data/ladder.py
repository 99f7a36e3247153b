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

Version 3 (issue 26, "Amendment 1" in experiments/README.md). The start is in [Q0_LO, Q0_HI]
= [2, 19] and every value after a step in [VAL_LO, VAL_HI] = [1, 20]; the D values of a
document are distinct and differ from q0 (so a gold value names one depth, and q0 names
none). One step is an arithmetic *fact* (x, op, y) with its result in range: there are 266
(`all_facts`), few enough that the warm start teaches every one of them to the Reasoner. A
2-layer model memorises facts rather than learning the operation (v2: 5-10 % on depth-1
problems with a start no example stated), so here depth 1 is *seen* arithmetic and the unseen
problems are compositions, depths 2..D.

Splits (the same protocol as `data.world`). A depth-k problem (k >= 2) is the chain's first k
steps, so it extends the depth-2 problem, the document's *prefix* (q0, op1, y1, op2, y2):
the prefix decides the split (`split_of`, a stable hash: 3,024 prefixes, about 50 % warm,
25 % spice, 25 % eval) and the warm-start role (`warm_role`), which makes warm / spice / eval
disjoint at every depth >= 2. Depth-1 problems are facts, shared by every split. The eval
prefixes are halved by a second hash into "dev" (every design choice) and "test" (only to
report) (`heldout_part`); each set takes the first HELDOUT_DOCS = 100 of its half in a third
hash's order (`heldout_prefixes`), one document per prefix with its later steps drawn from the
prefix alone (`heldout_documents`): 100 distinct problems at every depth 2..D per set (500
unseen tasks at D = 6, 0.2 points each) plus depth 1, seen facts. `eval_items` names every
task `<set>_d<k>`; `sets_of` pools depths 2..D into `<set>` (the unseen headline) and depth 1
into `<set>_facts`. `train_renamed_documents`: the SPICE corpus's chains under another name or
item (fitting, not generalisation).

Values are numbers the world's tokenizer splits into single digits like any other
(`models.train_tokenizer`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from typing import Sequence

from spice_jax.data.world import ITEMS, NAMES, Result, challenger_target, solution

__all__ = ["LadderDoc", "Result", "challenger_target", "solution", "generate", "all_facts",
           "fact_result", "all_prefixes", "split_of", "warm_role", "heldout_part",
           "heldout_prefixes", "heldout_documents", "train_renamed_documents", "eval_items",
           "sets_of", "depth_of", "is_stated_result", "true_answer", "gold_is_true",
           "question_depth"]

SPLITS = ("warm", "spice", "eval")
HELD_OUT = ("dev", "test", "train_renamed")
UNSEEN = ("dev", "test")
OPS = ("+", "-", "*")
Q0_LO, Q0_HI = 2, 19      # start quantity
OP_LO, OP_HI = 2, 9       # operands
VAL_LO, VAL_HI = 1, 20    # every value after a step (and the x of every fact)
MAX_DEPTH = 6
SHARES = (0.50, 0.25)     # warm, spice; the rest (25 %) is eval
HELDOUT_DOCS = 100        # documents (= eval prefixes) per held-out set
# What each pooled set of `sets_of` measures (the report's set descriptions).
SETS = {"test": "unseen problems (depths 2..D of chains no role has seen), reported only: "
                "the headline",
        "dev": "unseen problems (depths 2..D of chains no role has seen), used for every "
               "design choice",
        "test_facts": "seen arithmetic facts (depth 1 of the test documents; the warm start "
                      "teaches every fact)",
        "dev_facts": "seen arithmetic facts (depth 1 of the dev documents)",
        "train_renamed": "the SPICE corpus's own chains renamed, depths 2..D (fitting, not "
                         "transfer)"}

_STEP_TEXT = {"+": "add {y}.", "-": "take away {y}.", "*": "multiply by {y}."}

Fact = tuple[int, str, int]                   # (x, op, y): one step, result in range
Prefix = tuple[int, str, int, str, int]       # (q0, op1, y1, op2, y2): the depth-2 problem


def _apply(x: int, op: str, y: int) -> int:
  return x + y if op == "+" else x - y if op == "-" else x * y


def _ok(v: int) -> bool:
  return VAL_LO <= v <= VAL_HI


def _hash01(key: str) -> float:
  return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") / 2**32


def _key(prefix: Prefix) -> str:
  return "/".join(map(str, prefix))


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
  def prefix(self) -> Prefix:
    """(q0, op1, y1, op2, y2): the depth-2 problem, which decides the split (D >= 2)."""
    if self.depth < 2:
      raise ValueError(f"LadderDoc {self.doc_id}: depth {self.depth} has no depth-2 prefix")
    return (self.q0, self.ops[0], self.operands[0], self.ops[1], self.operands[1])

  def values(self) -> tuple[int, ...]:
    """[D] the value after each step."""
    out, x = [], self.q0
    for op, y in zip(self.ops, self.operands):
      x = _apply(x, op, y)
      out.append(x)
    return tuple(out)

  def facts(self) -> tuple[Fact, ...]:
    """[D] the fact (x, op, y) each step applies."""
    xs = (self.q0,) + self.values()[:-1]
    return tuple(zip(xs, self.ops, self.operands))

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


# ------------------------------------------------------------------------ facts

def _next_steps(x: int) -> list[tuple[str, int]]:
  """[(op, y)] every step from value x whose result is in range (fixed order)."""
  return [(op, y) for op in OPS for y in range(OP_LO, OP_HI + 1) if _ok(_apply(x, op, y))]


def all_facts() -> list[Fact]:
  """Every arithmetic fact (x, op, y): x in [VAL_LO, VAL_HI], y in [OP_LO, OP_HI], result in
  [VAL_LO, VAL_HI] (266 at the defaults; never x itself, as y >= 2). Every step of every
  document is one of them; fixed order."""
  return [(x, op, y) for x in range(VAL_LO, VAL_HI + 1) for op, y in _next_steps(x)]


def fact_result(fact: Fact, name: str, item: str) -> Result:
  """The depth-1 problem of `fact` under `name` and `item` ("Ana has 5 pens. Step 1: add 7.
  How many pens does Ana have after step 1?"), as any document states it."""
  x, op, y = fact
  return LadderDoc("fact", x, (op,), (y,), name, item).results()[0]


# ------------------------------------------------------------------------ splits

def all_prefixes(split: str | None = None) -> list[Prefix]:
  """Every valid prefix (q0, op1, y1, op2, y2) of `split` (None: of every split): q0 in
  [Q0_LO, Q0_HI], both steps facts, q0 and the two values distinct. Fixed order."""
  if split is not None and split not in SPLITS:
    raise ValueError(f"split {split!r}: one of {SPLITS}")
  out = []
  for q0 in range(Q0_LO, Q0_HI + 1):
    for op1, y1 in _next_steps(q0):
      v1 = _apply(q0, op1, y1)
      out += [(q0, op1, y1, op2, y2) for op2, y2 in _next_steps(v1)
              if _apply(v1, op2, y2) not in (q0, v1)]
  return [p for p in out if split is None or split_of(p) == split]


def split_of(prefix: Prefix) -> str:
  """The split of a prefix: 50 % warm, 25 % spice, 25 % eval (stable hash)."""
  u = _hash01(f"ladder3/{_key(prefix)}")
  return "warm" if u < SHARES[0] else "spice" if u < SHARES[0] + SHARES[1] else "eval"


def warm_role(prefix: Prefix) -> str:
  """"challenger" or "reasoner" (a second hash, half and half): a Challenger-role warm
  document's problems at depths >= 2 are never taught to the Reasoner (see
  `world.warm_role`); depth 1 (facts) the Reasoner learns from every fact instead."""
  return "challenger" if _hash01(f"ladder3-role/{_key(prefix)}") < 0.5 else "reasoner"


def heldout_part(prefix: Prefix) -> str | None:
  """"dev" or "test", the half of the eval prefixes `prefix` is in (a third hash); None for
  a prefix some role trains on."""
  if split_of(tuple(prefix)) != "eval":
    return None
  return "dev" if _hash01(f"ladder3-part/{_key(prefix)}") < 0.5 else "test"


def heldout_prefixes(part: str, n: int = HELDOUT_DOCS) -> list[Prefix]:
  """The `n` prefixes of held-out set `part` ("dev" | "test"): the first n of its half of the
  eval prefixes in a fourth hash's order, sorted. The other eval prefixes are held out too
  (no role sees them) but not evaluated."""
  if part not in UNSEEN:
    raise ValueError(f"held-out part {part!r}: one of {UNSEEN}")
  half = [p for p in all_prefixes("eval") if heldout_part(p) == part]
  if not 1 <= int(n) <= len(half):
    raise ValueError(f"held-out set {part!r}: {n} documents asked, {len(half)} prefixes")
  half.sort(key=lambda p: hashlib.sha256(f"ladder3-pick/{_key(p)}".encode()).digest())
  return sorted(half[:int(n)])


# ------------------------------------------------------------------------ generation

def _extend(prefix: Prefix, depth: int, rng: random.Random) -> tuple[tuple[str, ...],
                                                                      tuple[int, ...]]:
  """A chain of `depth` steps starting with `prefix` whose values stay in range and are all
  distinct and different from q0: each next step drawn uniformly from those that can still
  reach `depth` (a depth-first search in `rng`'s order, backtracking from dead ends)."""
  q0, op1, y1, op2, y2 = prefix
  v1 = _apply(q0, op1, y1)
  v2 = _apply(v1, op2, y2)

  def grow(steps: list, seen: set, x: int):
    if len(steps) == depth:
      return steps
    nxt = [(op, y) for op, y in _next_steps(x) if _apply(x, op, y) not in seen]
    rng.shuffle(nxt)
    for op, y in nxt:
      z = _apply(x, op, y)
      done = grow(steps + [(op, y)], seen | {z}, z)
      if done:
        return done
    return None

  chain = grow([(op1, y1), (op2, y2)], {q0, v1, v2}, v2) if depth >= 2 else None
  if chain is None:
    raise RuntimeError(f"no chain of depth {depth} from prefix {prefix}")
  return tuple(op for op, _ in chain), tuple(y for _, y in chain)


def _check_depth(max_depth: int) -> int:
  if not 2 <= int(max_depth) <= 12:
    raise ValueError(f"max_depth {max_depth}: expected 2..12 (the split is by the depth-2 "
                     "prefix)")
  return int(max_depth)


def generate(split: str, n: int, seed: int = 0, max_depth: int = MAX_DEPTH) -> list[LadderDoc]:
  """`n` documents of `split` with `max_depth` steps each (prefixes without repetition while
  they last, later steps drawn with `seed`). Deterministic in (split, n, seed, max_depth)."""
  D = _check_depth(max_depth)
  prefixes = all_prefixes(split)
  rng = random.Random(f"ladder3/{split}/{seed}")
  order = list(range(len(prefixes)))
  rng.shuffle(order)
  docs = []
  for k in range(n):
    prefix = prefixes[order[k % len(order)]]
    ops, ys = _extend(prefix, D, rng)
    docs.append(LadderDoc(f"ladder-{split}-{seed}-{k:05d}", prefix[0], ops, ys,
                          rng.choice(NAMES), rng.choice(ITEMS)))
  return docs


def heldout_documents(part: str, seed: int = 0, max_depth: int = MAX_DEPTH,
                      n: int = HELDOUT_DOCS) -> list[LadderDoc]:
  """One document per prefix of held-out set `part` (`heldout_prefixes`): its chain fixed by
  the prefix alone (the same problems for every seed), its order, name and item drawn with
  `seed`."""
  D = _check_depth(max_depth)
  prefixes = heldout_prefixes(part, n)
  rng = random.Random(f"ladder3/{part}/{seed}")
  rng.shuffle(prefixes)
  out = []
  for k, prefix in enumerate(prefixes):
    ops, ys = _extend(prefix, D, random.Random(f"ladder3-chain/{_key(prefix)}/{D}"))
    out.append(LadderDoc(f"ladder-{part}-{seed}-{k:05d}", prefix[0], ops, ys,
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
  `<held_out>_d<depth>` (e.g. `dev_d3`); pooled by `sets_of` (`eval.heldout.accuracy`'s
  `sets_of`): depths 2..D into `<held_out>`, depth 1 into `<held_out>_facts`."""
  from spice_jax.eval.benchmarks import Item
  if held_out not in HELD_OUT:
    raise ValueError(f"held_out {held_out!r}: one of {HELD_OUT}")
  return [Item(f"{d.doc_id}/d{r.difficulty}", r.question, str(r.value), "integer",
               f"{held_out}_d{r.difficulty}") for d in docs for r in d.results()]


_BENCHMARK = re.compile(r"^(?P<set>.+)_d(?P<k>\d+)$")


def sets_of(benchmark: str) -> tuple[str, ...]:
  """The pooled sets of a ladder benchmark `<set>_d<k>`: ("<set>_facts",) for k = 1 (a seen
  arithmetic fact), ("<set>",) for k >= 2 (a composition: for dev and test, unseen). Any
  other name pools as `eval.heldout` does by default (its prefix before the last "_")."""
  m = _BENCHMARK.match(benchmark)
  if m is None:
    return (benchmark.rsplit("_", 1)[0],)
  return (f"{m.group('set')}_facts",) if int(m.group("k")) == 1 else (m.group("set"),)


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


def is_stated_result(document: str, gold) -> bool:
  """Whether `gold` is one of the results `document` states ("After step k: v."), not the
  start, an operand or a made-up number: the world's validity rule
  (`spice.gold_must_be_stated = "ladder"`, `spice.tasks.stated_gold`)."""
  return depth_of(document, gold) is not None


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
