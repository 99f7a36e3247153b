"""The `spice` config section as a typed, frozen record, validated where it is defined.

Every enumeration of the method's choices is defined here once; the trainer and the tests
build `SpiceConfig.from_config(config.spice)` and never re-check these fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from spice_jax.spice import prompts as prompts_lib
from spice_jax.spice import rewards as rewards_lib
from spice_jax.spice import tasks as tasks_lib
from spice_jax.utils import configs

FORMATS = ("mcq", "free_form")
FORMAT_SELECTION = ("model", "random", "fixed")   # SPEC §2.2: ask the model | random | formats[0]
PSEUDO_LABELS = ("gold", "majority")              # the Challenger's answer | R-Zero majority vote
FIXED_CHALLENGERS = ("policy", "initial")         # or any model source (a stronger Challenger)


def _upgrade(section: Any) -> Any:
  """Reads configs saved by earlier versions (checkpoint metadata): renamed fields."""
  if isinstance(section, SpiceConfig) or not hasattr(section, "items"):
    return section
  d = {k: v for k, v in section.items()}
  if "reasoner_template" in d:
    d["chat_layout"] = d.pop("reasoner_template")
  d.pop("rzero_p", None)  # p is always the pass rate against the gold used (see rewards)
  if "reward_sigma2" in d:
    sigma2 = d.pop("reward_sigma2")
    params = {k: dict(v) for k, v in (d.get("reward_params") or {}).items()}
    params.setdefault("variance", {}).setdefault("sigma2", sigma2)
    d["reward_params"] = params
  return d


@dataclasses.dataclass(frozen=True)
class SpiceConfig:
  """One SPICE iteration's knobs (SPEC §2–§5, §7). Defaults are the paper's."""
  num_docs: int = 128                    # B documents per iteration
  group_size: int = 8                    # G Challenger trajectories kept per document
  num_answers: int = 8                   # K Reasoner answers per valid task
  formats: tuple[str, ...] = FORMATS
  format_selection: str = "model"
  challenger_style: str = "full"         # "full" (8-step JSON) | "compact" (line format)
  template_dir: str = ""                 # user template directory ("" = bundled templates)
  chat_layout: str = "qwen3"             # how both roles' messages become tokens
  round_size: int = 8                    # Challenger samples per document per round
  max_challenger_attempts: int = 1024
  challenger_temperature: float = 1.0    # sampling temperature of each role
  reasoner_temperature: float = 1.0
  top_p: float = 1.0                     # nucleus mass for both roles (1 = off)
  challenger_max_tokens: int = 4096      # generation caps (also the Dr. GRPO divisors)
  reasoner_max_tokens: int = 4096
  format_selection_max_tokens: int = 256
  challenger_reward: str = "variance"    # a name in spice.rewards' registry ("grounding_regret"
                                         # also samples K answers per task with the document)
  # Per-variant keyword arguments, e.g. {"variance": {"sigma2": 0.01}}; only the chosen
  # variant's entry is used, every entry is checked against its variant's signature.
  reward_params: dict[str, Any] = dataclasses.field(default_factory=dict)
  invalid_reward: float = -0.1           # rho
  # Extension (not in the paper, off by default): a free-form Integer / String gold answer
  # must occur in the document (`tasks.grounded`), else the task is invalid.
  answer_in_document: bool = False
  # Extension (off by default): "" or a stated-result checker registered in `spice.tasks`
  # (e.g. "ladder"): a gold that is none of the document's stated results makes the task
  # invalid (`tasks.stated_gold`, reason `gold_not_stated`).
  gold_must_be_stated: str = ""
  pseudo_labels: str = "gold"
  challenger: str = "policy"             # "policy" | "initial" (frozen) | a model source
  train_challenger: bool = True          # False: Challenger trajectories get no gradient
  verify_timeout: float = 5.0            # seconds per answer
  verify_workers: int = 4

  @classmethod
  def from_config(cls, section: Any) -> "SpiceConfig":
    return configs.from_section(cls, _upgrade(section), "spice")

  def validate(self) -> None:
    need = configs.need
    for f in ("num_docs", "group_size", "num_answers", "round_size", "max_challenger_attempts",
              "challenger_max_tokens", "reasoner_max_tokens", "format_selection_max_tokens",
              "verify_workers"):
      need(getattr(self, f) >= 1, f"spice.{f}", f"{getattr(self, f)}: must be >= 1")
    need(len(self.formats) >= 1 and all(f in FORMATS for f in self.formats), "spice.formats",
         f"{self.formats}: a non-empty subset of {FORMATS}")
    configs.one_of(self.format_selection, FORMAT_SELECTION, "spice.format_selection")
    configs.one_of(self.challenger_style, prompts_lib.STYLES, "spice.challenger_style")
    configs.one_of(self.chat_layout, prompts_lib.RENDER_TEMPLATES, "spice.chat_layout")
    configs.one_of(self.challenger_reward, rewards_lib.names(), "spice.challenger_reward")
    try:
      for variant, params in self.reward_params.items():
        rewards_lib.check_params(variant, params)
    except rewards_lib.RewardError as e:
      raise configs.ConfigError(f"config.spice.reward_params: {e}") from e
    configs.one_of(self.pseudo_labels, PSEUDO_LABELS, "spice.pseudo_labels")
    checkers = tasks_lib.stated_checkers()
    need(self.gold_must_be_stated in ("", *checkers), "spice.gold_must_be_stated",
         f"{self.gold_must_be_stated!r}: '' (off) or a stated-result checker registered in "
         f"spice.tasks ({', '.join(checkers)})")
    # The grounded pass (answers with the document in the prompt) is judged against the
    # Challenger's gold; majority labels have none to judge it by.
    need(not rewards_lib.needs_grounded(self.challenger_reward) or self.pseudo_labels == "gold",
         "spice.pseudo_labels", f"{self.pseudo_labels!r}: challenger_reward "
         f"{self.challenger_reward!r} needs the Challenger's gold ('gold')")
    need(self.challenger == "policy" or not self.train_challenger, "spice.train_challenger",
         "must be False when the Challenger is frozen (spice.challenger != 'policy')")
    need(0.0 < self.top_p <= 1.0, "spice.top_p", f"{self.top_p}: in (0, 1]")
    for f in ("challenger_temperature", "reasoner_temperature"):
      need(getattr(self, f) >= 0.0, f"spice.{f}", "must be >= 0")
    need(self.verify_timeout > 0, "spice.verify_timeout", "must be > 0")

  @property
  def reward_kwargs(self) -> dict[str, Any]:
    """The chosen reward variant's parameters, as keyword arguments."""
    return dict(self.reward_params.get(self.challenger_reward, {}))
