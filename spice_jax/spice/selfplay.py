"""One SPICE iteration (SPEC §1–§5): documents in, trajectories + metrics + audit out.

The iteration is a pipeline over explicit records: every document is a `DocPlay`; its
Challenger samples are `Attempt`s; each kept valid task is a `TaskPlay` holding its K
Reasoner `Answer`s. Host work (rendering, parsing, verification) fills the records; rewards
and advantages come from one jitted function (`spice.credit`); metrics and audit records are
built from the records by `spice.report`.

A reward variant that needs the grounded pass rate (`rewards.needs_grounded`: the
"grounding_regret" reward) adds one pass: every kept valid task is also answered K times
with its document in the Reasoner's prompt (`TaskPlay.grounded_answers`), judged against the
same gold. Those answers only score the task; they never become training rows.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import time
from typing import Any, Mapping, Sequence

import numpy as np

from spice_jax.errors import ConfigError, SpiceError
from spice_jax.sampling import stats as engine_stats
from spice_jax.spice import answers as answers_lib
from spice_jax.spice import credit as credit_lib
from spice_jax.spice import prompts as prompts_lib
from spice_jax.spice import report
from spice_jax.spice import rewards as rewards_lib
from spice_jax.spice import tasks as tasks_lib
from spice_jax.spice import verify as verify_lib
from spice_jax.spice.batch import Trajectory
from spice_jax.spice.config import SpiceConfig


@dataclasses.dataclass
class Actor:
  """Something that writes text: a sampler, the params to use, and the tokenizer/layout."""
  sampler: Any
  tokenizer: Any
  layout: str                        # chat layout: "chat" | "qwen3" | "plain"
  stop_ids: tuple[int, ...]
  params: Any = None                 # fixed params (frozen roles); None = the policy's


@dataclasses.dataclass
class Sample:
  """One sampled completion. tokens: [n] ids; logprobs: [n] f32, the sampler's log-probs under
  the distribution the tokens were drawn from (temperature / top-p; greedy: the model's)."""
  tokens: list[int]
  logprobs: np.ndarray
  text: str
  finish: str
  length: int = -1                   # len(tokens); kept by `for_metrics`, which drops them

  def __post_init__(self):
    if self.length < 0:
      self.length = len(self.tokens)


@dataclasses.dataclass
class Attempt:
  """One Challenger output for a document, with its parsed task and (if kept) its credit."""
  prompt: list[int]
  sample: Sample
  task: tasks_lib.Task
  reward: float = 0.0
  advantage: float = 0.0


@dataclasses.dataclass
class Answer:
  """One Reasoner answer to a task, its verdict and (in the training group) its credit."""
  sample: Sample
  correct: bool = False
  reason: str = ""
  reward: float = 0.0
  advantage: float = 0.0


@dataclasses.dataclass
class TaskPlay:
  """A kept valid task: the Reasoner prompt, its K answers, the gold they were judged by;
  with the grounded pass, also K answers given the document (never trained on)."""
  attempt: Attempt
  prompt: list[int]
  answers: list[Answer] = dataclasses.field(default_factory=list)
  gold: str = ""
  trains: bool = False               # the document's Reasoner training group
  grounded_answers: list[Answer] = dataclasses.field(default_factory=list)

  @property
  def pass_rate(self) -> float:
    return float(np.mean([a.correct for a in self.answers])) if self.answers else 0.0

  @property
  def grounded_pass_rate(self) -> float | None:
    """Pass rate with the document in the prompt; None when the pass did not run."""
    if not self.grounded_answers:
      return None
    return float(np.mean([a.correct for a in self.grounded_answers]))


@dataclasses.dataclass
class DocPlay:
  """Everything one document went through in an iteration.

  `index` is the document's place in this process's batch (its groups are `index` and
  B + `index`); `gid` its place in the global batch, which with the iteration seed fixes
  every random choice made for it (`rng`) and every sampled row's seed (`row_seed`), so
  nothing depends on how documents are spread over processes or sampler calls.
  """
  index: int
  doc: dict | None
  fmt: str
  gid: int = 0
  seed: int = 0
  answer_type: str | None = None     # format selection's best_answer_type
  selection: str | None = None       # the format-selection output (None: not asked)
  attempts: list[Attempt] = dataclasses.field(default_factory=list)
  kept: list[Attempt] = dataclasses.field(default_factory=list)
  tasks: list[TaskPlay] = dataclasses.field(default_factory=list)

  @property
  def has_valid(self) -> bool:
    return any(a.task.valid for a in self.attempts)

  def __post_init__(self):
    self.rng = np.random.default_rng([self.seed, self.gid])

  def row_seed(self, role: str, n: int) -> int:
    """The seed of this document's n-th sampled row of `role` (format/challenger/reasoner)."""
    return int(np.random.SeedSequence([self.seed, ROLES[role], self.gid, n])
               .generate_state(1)[0])


@dataclasses.dataclass
class IterationResult:
  trajectories: list[Trajectory]
  metrics: dict[str, float]
  audit: list[dict]
  plays: list[DocPlay] = dataclasses.field(default_factory=list)
  counters: collections.Counter = dataclasses.field(default_factory=collections.Counter)


ROLES = {"format": 0, "challenger": 1, "reasoner": 2, "reasoner_grounded": 3}


def keep_preserving_ratio(n_valid: int, n_invalid: int, G: int) -> tuple[int, int]:
  """(valid, invalid) counts to keep out of the attempts so that valid:invalid ≈ the
  attempts' ratio (round to nearest), with at least one valid when any exists (SPEC §2.5)."""
  n = n_valid + n_invalid
  if n == 0:
    return 0, 0
  keep = min(G, n)
  if n_valid == 0:
    return 0, keep
  kv = int(np.floor(keep * n_valid / n + 0.5))
  kv = min(max(kv, 1), n_valid)
  ki = keep - kv
  if ki > n_invalid:  # not enough invalid ones to fill: take more valid
    kv, ki = keep - n_invalid, n_invalid
  return kv, ki


def for_metrics(plays: Sequence[DocPlay]) -> list[DocPlay]:
  """Copies of `plays` holding only what `SelfPlay.metrics` reads: no document, prompt, text,
  token or log-prob (a sample keeps its length and finish). What host-local processes send
  each other, so that every process computes the same metrics and guardrail decisions."""
  def sample(s: Sample) -> Sample:
    return Sample([], None, "", s.finish, s.length)

  def answer(a: Answer) -> Answer:
    return dataclasses.replace(a, sample=sample(a.sample))

  out = []
  for p in plays:
    copies: dict[int, Attempt] = {}

    def attempt(a: Attempt) -> Attempt:   # one copy per attempt: tasks and `kept` share it
      if id(a) not in copies:
        task = dataclasses.replace(a.task, question="", answer="", options=(), fields=None)
        copies[id(a)] = dataclasses.replace(a, prompt=[], sample=sample(a.sample), task=task)
      return copies[id(a)]

    light = dataclasses.replace(
        p, doc=None, selection=None, attempts=[attempt(a) for a in p.attempts],
        kept=[attempt(a) for a in p.kept],
        tasks=[dataclasses.replace(t, attempt=attempt(t.attempt), prompt=[], gold="",
                                   answers=[answer(a) for a in t.answers],
                                   grounded_answers=[answer(a) for a in t.grounded_answers])
               for t in p.tasks])
    light.rng = None                      # its choices are made; the state is 1 kB pickled
    out.append(light)
  return out


def merge_parts(parts: Sequence[tuple[Sequence[Trajectory], Sequence[DocPlay], Mapping]]
                ) -> tuple[list[Trajectory], list[DocPlay], collections.Counter]:
  """One iteration's (training rows, plays, counters) from each process's part, in process
  order: rows in `SelfPlay.trajectories`' order (every Challenger row, then every Reasoner
  row), plays in global document order, counters summed (wall times: the slowest process;
  each process's own host counters also kept under `_p<i>`)."""
  rows = [t for r, _, _ in parts for t in r if t.role == "challenger"]
  rows += [t for r, _, _ in parts for t in r if t.role != "challenger"]
  plays = [p for _, ps, _ in parts for p in ps]
  counters: collections.Counter = collections.Counter()
  for i, (_, _, c) in enumerate(parts):
    counters.update({k: v for k, v in c.items() if not k.startswith("time/")})
    for k, v in c.items():
      if k.startswith("time/"):
        counters[k] = max(counters[k], v)
    counters[f"host/answers_verified_p{i}"] = c.get("host/answers_verified", 0)
    counters[f"host/outputs_parsed_p{i}"] = c.get("host/outputs_parsed", 0)
  return rows, plays, counters


class SelfPlay:
  """Runs iterations for one configuration (`SpiceConfig`, or the run's `spice` section)."""

  def __init__(self, cfg, *, policy: Actor, challenger: Actor, pool: verify_lib.VerifierPool,
               grounded: bool = True, sampler_batch: int = 256, estimator: str = "dr_grpo",
               num_docs: int | None = None):
    self.cfg = SpiceConfig.from_config(cfg)
    self.policy = policy
    self.challenger = challenger
    self.pool = pool
    self.grounded = grounded
    self.sampler_batch = int(sampler_batch)
    self.num_docs = num_docs       # the global batch's B (None: the documents given)
    self.spec = credit_lib.CreditSpec(
        self.cfg.challenger_reward, tuple(sorted(self.cfg.reward_kwargs.items())),
        float(self.cfg.invalid_reward), estimator)
    self.template_dir = self.cfg.template_dir or None
    self.versions = prompts_lib.template_versions(template_dir=self.template_dir)
    # The grounded pass runs only for a reward that reads its pass rate.
    self.grounded_pass = rewards_lib.needs_grounded(self.cfg.challenger_reward)
    if self.grounded_pass and not grounded:
      raise ConfigError(f"config.spice.challenger_reward: {self.cfg.challenger_reward!r} "
                        "answers each task with its document; it needs a corpus "
                        "(ungrounded self-play has none)")

  @property
  def train_challenger(self) -> bool:
    return self.cfg.train_challenger

  # ------------------------------------------------------------------ sampling
  def _sample(self, actor: Actor, params, prompts: Sequence[list[int]],
              row_seeds: Sequence[int], *, max_new: int, temperature: float, counters: dict,
              role: str, on_row=None) -> list[Sample]:
    """Runs the sampler in chunks of `sampler_batch`; one `Sample` per prompt.

    on_row(n, sample): called for prompt n as soon as its row is done (the continuous
    engine reports rows while the others still decode)."""
    params = actor.params if actor.params is not None else params
    rows: list[Sample | None] = [None] * len(prompts)
    t0 = time.perf_counter()
    for start in range(0, len(prompts), self.sampler_batch):
      def done(r, toks, model_logp, finish, start=start):
        toks = [int(t) for t in toks]
        # Greedy: the model's log-probs; else replaced below by those of the sampling
        # distribution, which is what the learner computes (rl/loss.py).
        rows[start + r] = Sample(toks, np.asarray(model_logp, np.float32),
                                 actor.tokenizer.decode(toks), finish)
        if on_row is not None:
          on_row(start + r, rows[start + r])
      out = actor.sampler(params, prompts[start:start + self.sampler_batch],
                          max_new_tokens=max_new, temperature=temperature,
                          top_p=float(self.cfg.top_p), stop_ids=actor.stop_ids, on_finish=done,
                          follow_ups=False, row_seeds=row_seeds[start:start + self.sampler_batch])
      engine_stats.accumulate(counters, role, getattr(actor.sampler, "last_timing", None))
      if temperature > 0 and getattr(out, "logprobs", None) is not None:
        for r in range(min(len(prompts) - start, self.sampler_batch)):
          row = rows[start + r]
          row.logprobs = np.asarray(out.logprobs[r, :len(row.tokens)], np.float32)
    counters[f"time/sample_{role}"] += time.perf_counter() - t0
    counters[f"tokens/{role}"] += sum(len(r.tokens) for r in rows)
    return rows

  def _render(self, actor: Actor, messages) -> list[int]:
    return prompts_lib.render(actor.tokenizer, messages, actor.layout,
                              template_dir=self.template_dir)

  # ------------------------------------------------------------------ formats
  def select_formats(self, params, plays: list[DocPlay], counters) -> None:
    """Sets each play's format (and answer type) per `format_selection` (SPEC §2.2)."""
    mode, formats = self.cfg.format_selection, self.cfg.formats
    if mode == "fixed" or len(formats) == 1:
      for p in plays:
        p.fmt = formats[0]
      return
    if mode == "random" or not self.grounded:
      for p in plays:
        p.fmt = str(p.rng.choice(formats))
      return
    actor = self.challenger
    prompts = [self._render(actor, prompts_lib.format_selection_messages(
        p.doc["text"], template_dir=self.template_dir)) for p in plays]
    rows = self._sample(actor, params, prompts, [p.row_seed("format", 0) for p in plays],
                        max_new=self.cfg.format_selection_max_tokens,
                        temperature=self.cfg.challenger_temperature, counters=counters,
                        role="format")
    for p, row in zip(plays, rows):
      choice = tasks_lib.parse_format_selection(row.text)
      p.selection = row.text
      fields = tasks_lib.format_selection_fields(row.text) or {}
      p.answer_type = prompts_lib.answer_type_hint(fields.get("best_answer_type"))
      if choice not in formats:
        counters["format_selection_failed"] += 1
        choice = str(p.rng.choice(formats))
      p.fmt = choice

  # ------------------------------------------------------------------ challenger
  def challenger_prompt(self, doc: dict | None, fmt: str,
                        answer_type: str | None = None) -> list[int]:
    msgs = prompts_lib.challenger_messages(
        doc["text"] if (doc is not None and self.grounded) else None, fmt,
        style=self.cfg.challenger_style, template_dir=self.template_dir,
        answer_type=answer_type)
    return self._render(self.challenger, msgs)

  def _parse(self, texts: list[str], fmts: list[str]) -> list[tasks_lib.Task]:
    if self.cfg.challenger_style == "compact":
      return tasks_lib.parse_batch(texts, "compact", pool=self.pool, expect=fmts)
    return tasks_lib.parse_batch(texts, fmts, pool=self.pool)

  def challenger_rounds(self, params, plays: list[DocPlay], counters) -> None:
    """Samples per document in rounds until >= 1 valid task or the attempt cap (SPEC §2.5)."""
    cfg = self.cfg
    G = cfg.group_size
    cap = max(cfg.max_challenger_attempts, G)
    prompts = {p.index: self.challenger_prompt(p.doc, p.fmt, p.answer_type) for p in plays}
    active = list(plays)
    first = True
    while active:
      owners, seeds = [], []
      for p in active:
        n = min(max(G, cfg.round_size) if first else cfg.round_size, cap - len(p.attempts))
        owners += [p] * n
        seeds += [p.row_seed("challenger", len(p.attempts) + j) for j in range(n)]
      rows = self._sample(self.challenger, params, [prompts[p.index] for p in owners], seeds,
                          max_new=cfg.challenger_max_tokens,
                          temperature=cfg.challenger_temperature, counters=counters,
                          role="challenger")
      t0 = time.perf_counter()
      parsed = self._parse([r.text for r in rows], [p.fmt for p in owners])
      # SPEC §10: a question that copies the document's statement of its result is invalid.
      parsed = [t if p.doc is None else tasks_lib.leaks_document(t, p.doc["text"])
                for p, t in zip(owners, parsed)]
      if cfg.answer_in_document:
        parsed = [t if p.doc is None else tasks_lib.grounded(t, p.doc["text"])
                  for p, t in zip(owners, parsed)]
      if cfg.gold_must_be_stated:       # a world's rule: the gold is one of its stated results
        stated = tasks_lib.stated_checker(cfg.gold_must_be_stated)
        parsed = [t if p.doc is None else tasks_lib.stated_gold(t, p.doc["text"], stated)
                  for p, t in zip(owners, parsed)]
      counters["time/parse"] += time.perf_counter() - t0
      counters["host/outputs_parsed"] += len(rows)
      for p, row, task in zip(owners, rows, parsed):
        p.attempts.append(Attempt(prompts[p.index], row, task))
      first = False
      active = [p for p in active if not p.has_valid and len(p.attempts) < cap]

  def challenge(self, params, docs: Sequence[dict | None], *, seed: int, counters,
                doc_offset: int = 0) -> list[DocPlay]:
    """Format selection and Challenger rounds for `docs` (the Challenger half of SPEC §2).
    `doc_offset`: the global index of docs[0] (host-local self-play)."""
    plays = [DocPlay(i, d, self.cfg.formats[0], gid=doc_offset + i, seed=seed)
             for i, d in enumerate(docs)]
    self.select_formats(params, plays, counters)
    self.challenger_rounds(params, plays, counters)
    return plays

  def keep(self, plays: list[DocPlay]) -> None:
    """Keeps G attempts per document, preserving the valid:invalid ratio (SPEC §2.5)."""
    for p in plays:
      v = [a for a in p.attempts if a.task.valid]
      iv = [a for a in p.attempts if not a.task.valid]
      kv, ki = keep_preserving_ratio(len(v), len(iv), self.cfg.group_size)
      pick_v = [v[i] for i in sorted(p.rng.choice(len(v), kv, replace=False))] if kv else []
      pick_i = [iv[i] for i in sorted(p.rng.choice(len(iv), ki, replace=False))] if ki else []
      p.kept = pick_v + pick_i

  # ------------------------------------------------------------------ reasoner
  def answer(self, params, plays: list[DocPlay], counters) -> None:
    """K Reasoner answers to every kept valid task, in as few sampler calls as possible;
    with the grounded pass, then K more per task with the document in the prompt.

    A task goes to the verifier (a background thread driving the worker pool) as soon as
    its K answers are done, so verification overlaps the rest of the generation; only what
    is left when the last row finishes is exposed (`time/verify_exposed`).
    """
    K = self.cfg.num_answers
    for p in plays:
      p.tasks = [TaskPlay(a, self._render(self.policy, prompts_lib.reasoner_messages(
          a.task.question, a.task.kind, template_dir=self.template_dir)))
          for a in p.kept if a.task.valid]
    tasks = [t for p in plays for t in p.tasks]
    if not tasks:
      return

    def seeds(role):
      return [p.row_seed(role, n) for p in plays for n in range(len(p.tasks) * K)]
    jobs = []
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="verify") as verifier:
      self._answer_pass(params, tasks, [t.prompt for t in tasks], seeds("reasoner"),
                        verifier, jobs, counters, grounded=False)
      if self.grounded_pass:
        self._answer_pass(params, tasks, self._grounded_prompts(plays),
                          seeds("reasoner_grounded"), verifier, jobs, counters, grounded=True)
      t0 = time.perf_counter()
      for job in jobs:
        job.result()
      counters["time/verify_exposed"] += time.perf_counter() - t0
    counters["host/answers_verified"] += len(tasks) * K
    if self.grounded_pass:
      counters["host/grounded_answers_verified"] += len(tasks) * K

  def _grounded_prompts(self, plays: list[DocPlay]) -> list[list[int]]:
    """Each task's Reasoner prompt with its document (`reasoner_grounded[_mcq]`)."""
    out = []
    for p in plays:
      if p.tasks and p.doc is None:
        raise SpiceError(f"document {p.gid}: the grounded Reasoner pass needs its document")
      out += [self._render(self.policy, prompts_lib.reasoner_grounded_messages(
          p.doc["text"], t.attempt.task.question, t.attempt.task.kind,
          template_dir=self.template_dir)) for t in p.tasks]
    return out

  def _answer_pass(self, params, tasks: list[TaskPlay], prompts: list[list[int]],
                   seeds: list[int], verifier, jobs: list, counters, *, grounded: bool) -> None:
    """Samples K answers per prompt (prompts[i] belongs to tasks[i]) and submits each task to
    the verifier once its K answers are done. grounded: fills `grounded_answers` (sampler
    role "reasoner_grounded") instead of `answers`."""
    K = self.cfg.num_answers
    answers = [[None] * K for _ in tasks]
    left = [K] * len(tasks)

    def done(n, sample):
      ti, k = divmod(n, K)
      answers[ti][k] = Answer(sample)
      left[ti] -= 1
      if not left[ti]:
        if grounded:
          tasks[ti].grounded_answers = answers[ti]
        else:
          tasks[ti].answers = answers[ti]
        jobs.append(verifier.submit(self.judge, tasks[ti], counters, grounded=grounded))
    self._sample(self.policy, params, [q for q in prompts for _ in range(K)], seeds,
                 max_new=self.cfg.reasoner_max_tokens,
                 temperature=self.cfg.reasoner_temperature, counters=counters,
                 role="reasoner_grounded" if grounded else "reasoner", on_row=done)

  def judge(self, task: TaskPlay, counters, grounded: bool = False) -> None:
    """Verdicts for one task's answers (gold = the Challenger's answer, or the majority
    answer for R-Zero pseudo-labels). grounded: the answers given the document, always
    judged against the Challenger's answer (the config allows the pass with "gold" only)."""
    t0 = time.perf_counter()
    answers = task.grounded_answers if grounded else task.answers
    texts = [a.sample.text for a in answers]
    kind = task.attempt.task.kind
    if self.cfg.pseudo_labels == "majority" and not grounded:
      gold, agrees = answers_lib.majority_vote(texts, kind)
      task.gold = gold if gold is not None else ""
      verdicts = [(bool(ok), "majority" if ok else "minority") for ok in agrees]
    else:
      gold = task.attempt.task.answer
      if not grounded:
        task.gold = gold
      verdicts = [(bool(v.correct), v.reason) for v in verify_lib.score_detailed(
          texts, [gold] * len(texts), [kind] * len(texts), pool=self.pool)]
    for a, (ok, reason) in zip(answers, verdicts):
      a.correct, a.reason = ok, reason
    counters["time/verify"] += time.perf_counter() - t0

  # ------------------------------------------------------------------ credit
  def assign_credit(self, plays: list[DocPlay]) -> None:
    """Picks each document's Reasoner training group, then rewards and advantages for all
    kept Challenger trajectories and every training answer, in one jitted call."""
    B, K = len(plays), self.cfg.num_answers
    tasks = [t for p in plays for t in p.tasks]
    index = {id(t.attempt): i for i, t in enumerate(tasks)}
    chosen = []
    for p in plays:
      if p.tasks:
        t = p.tasks[int(p.rng.integers(len(p.tasks)))]
        t.trains = True
        chosen.append((p, t))
    kept = [(p, a) for p in plays for a in p.kept]
    correct = np.array([[a.correct for a in t.answers] for t in tasks], bool).reshape(-1, K)
    grounded = (np.array([[a.correct for a in t.grounded_answers] for t in tasks], bool)
                .reshape(-1, K) if self.grounded_pass else None)
    cr = credit_lib.assign_padded(
        correct, np.array([index.get(id(a), -1) for _, a in kept]),
        np.array([p.index for p, _ in kept]), np.array([index[id(t.attempt)] for _, t in chosen]),
        np.array([B + p.index for p, _ in chosen]), spec=self.spec, num_groups=2 * B,
        num_answers=K, grounded=grounded)
    for n, (_, a) in enumerate(kept):
      a.reward, a.advantage = float(cr.chal_reward[n]), float(cr.chal_adv[n])
    for s, (_, t) in enumerate(chosen):
      for k, ans in enumerate(t.answers):
        ans.reward, ans.advantage = float(cr.reas_reward[s, k]), float(cr.reas_adv[s, k])

  def trajectories(self, plays: Sequence[DocPlay]) -> list[Trajectory]:
    """Training rows of `plays` (this process's or, gathered, every process's): all kept
    Challenger trajectories, then every Reasoner training group; group ids are global
    (document d: d and num_docs + d)."""
    B = self.num_docs or len(plays)
    out: list[Trajectory] = []
    if self.train_challenger:
      out += [Trajectory(a.prompt, a.sample.tokens, "challenger", group_id=p.gid,
                         advantage=a.advantage, old_logprobs=a.sample.logprobs,
                         reward=a.reward, temperature=self.cfg.challenger_temperature,
                         top_p=self.cfg.top_p) for p in plays for a in p.kept]
    out += [Trajectory(t.prompt, ans.sample.tokens, "reasoner", group_id=B + p.gid,
                       advantage=ans.advantage, old_logprobs=ans.sample.logprobs,
                       reward=ans.reward, temperature=self.cfg.reasoner_temperature,
                       top_p=self.cfg.top_p)
            for p in plays for t in p.tasks if t.trains for ans in t.answers]
    return out

  # ------------------------------------------------------------------ iteration
  def iteration(self, params, docs: Sequence[dict | None], *, seed: int, step: int = 0,
                doc_offset: int = 0, report_results: bool = True) -> IterationResult:
    """One iteration on `docs` (B passages; entries are None for ungrounded runs).

    doc_offset: the global index of docs[0] when each process plays its own slice of the
      global batch; results depend on (seed, global index), never on the slice.
    report_results: build metrics and audit records here (host-local runs build them once,
      on process 0, over every process's plays).
    """
    counters: collections.Counter = collections.Counter()
    plays = self.challenge(params, docs, seed=seed, counters=counters, doc_offset=doc_offset)
    self.keep(plays)
    self.answer(params, plays, counters)
    self.assign_credit(plays)
    metrics, audit = self.report(plays, counters, step) if report_results else ({}, [])
    return IterationResult(self.trajectories(plays), metrics, audit, plays, counters)

  def report(self, plays: Sequence[DocPlay], counters, step: int):
    """(metrics, audit records) of plays (this process's, or every process's gathered)."""
    return self.metrics(plays, counters), self.audit(plays, step)

  def metrics(self, plays: Sequence[DocPlay], counters) -> dict:
    """The iteration's metrics over `plays` (full records or their `for_metrics` copies);
    with the grounded pass, its mean pass rate and regret over valid tasks, time and tokens."""
    metrics = report.metrics(plays, counters, self.cfg)
    if self.grounded_pass:
      tasks = [t for p in plays for t in p.tasks]
      pg = np.array([t.grounded_pass_rate for t in tasks], np.float64)
      p = np.array([t.pass_rate for t in tasks], np.float64)
      metrics["challenger/grounded_pass_rate_mean"] = float(pg.mean()) if len(pg) else 0.0
      metrics["challenger/grounding_regret_mean"] = float((pg - p).mean()) if len(pg) else 0.0
      for k in ("time/sample_reasoner_grounded", "tokens/reasoner_grounded"):
        metrics[k] = float(counters[k])
    return metrics

  def audit(self, plays: Sequence[DocPlay], step: int) -> list[dict]:
    """One audit record per kept Challenger trajectory of `plays` (documents keep their
    global index, so each process can build the records of its own documents)."""
    audit = report.audit(plays, step, self.cfg, grounded=self.grounded,
                         versions=self.versions, train_challenger=self.train_challenger)
    if not self.grounded_pass:
      return audit
    kept = [a for pl in plays for a in pl.kept]   # report.audit's record order
    if len(kept) != len(audit):
      raise SpiceError(f"audit has {len(audit)} records for {len(kept)} kept trajectories")
    by_attempt = {id(t.attempt): t for p in plays for t in p.tasks}
    for a, rec in zip(kept, audit):
      t = by_attempt.get(id(a))
      if t is not None:
        rec["grounded_pass_rate"] = t.grounded_pass_rate
        rec["reasoner_grounded"] = [dict(answer=ans.sample.text[:report.MAX_AUDIT_CHARS],
                                         correct=ans.correct, reason=ans.reason)
                                    for ans in t.grounded_answers]
    return audit
