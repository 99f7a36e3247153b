"""Cost of turning Challenger text into a Task (`spice.tasks.parse`), per call.

  .venv/bin/python benchmarks/parse.py [--calls=2000]

Workloads: a full MCQ prompt output (prose + JSON with a `Correct: B` line), a free-form
JSON output, and a compact output. Reference in the same run: `json.loads` of the JSON
object alone (the decoding every JSON parse has to do). CPU time of this process, best of 5.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from spice_jax.spice import tasks  # noqa: E402

MCQ_OBJ = {"identified_answer": "about 1.5 x 10^8 km",
           "multiple_choice_question": (
               "Question: Sunlight needs about 499 s to reach Earth. Taking c = 3.00 x 10^8 m/s, "
               "the Earth-Sun distance is closest to:\nA) 1.50 x 10^7 km\nB) 1.50 x 10^8 km\n"
               "C) 1.50 x 10^9 km\nD) 4.99 x 10^8 km\nCorrect: B"),
           "multiple_choice_correct": "B"}
FF_OBJ = {"question": "A train travels 60 km/h for 2.5 hours. How far does it go in km?",
          "answer": "150", "answer_type": "Integer"}
PROSE = "Step 1: the document gives a speed and a time.\nStep 2: ask for the distance.\n"
WORKLOADS = [
    ("mcq", PROSE + json.dumps(MCQ_OBJ, indent=2), "mcq", json.dumps(MCQ_OBJ)),
    ("free_form", PROSE + json.dumps(FF_OBJ, indent=2), "free_form", json.dumps(FF_OBJ)),
    ("compact", "Question: " + FF_OBJ["question"] + "\nAnswer: 150\nType: Integer", "compact",
     None),
]


def _best(fn, calls: int) -> float:
  best = float("inf")
  for _ in range(5):
    t = time.process_time()
    for _ in range(calls):
      fn()
    best = min(best, time.process_time() - t)
  return best / calls


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--calls", type=int, default=2000)
  args = ap.parse_args()
  print(f"{'workload':10s} {'parse us':>9s} {'json.loads us':>14s} {'ratio':>6s}")
  for name, text, fmt, obj in WORKLOADS:
    t = _best(lambda: tasks.parse(text, fmt), args.calls)
    ref = _best(lambda: json.loads(obj), args.calls) if obj else float("nan")
    print(f"{name:10s} {1e6 * t:9.1f} {1e6 * ref:14.1f} {t / ref:6.1f}")


if __name__ == "__main__":
  main()
