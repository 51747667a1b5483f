#!/usr/bin/env python3
# requires: python>=3.8 (standard library only)
"""Runs the Python unit tests of every synthetic coding task against its reference solution.

`synth` computes the expected test values in Rust with Python semantics; this script checks
that claim with a real interpreter. Not part of CI (CI never runs Python); run it after
changing a coding template:

    R=$(cargo run -q -p phase0_dataset -- synth --config configs/phase0/synth-seed-plan.toml)
    python phase0_dataset/scripts/check_synth_python.py $R/corpus.jsonl

Prints the number of tasks and failures per template; exits 1 if any test fails.
"""

import collections
import json
import re
import sys


def main(path):
    fails = collections.Counter()
    total = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            answer = row.get("answer") or {}
            if answer.get("type") != "python_tests":
                continue
            template = row["meta"]["template"]
            total[template] += 1
            code = re.search(r"```python\n(.*?)\n```", row["output"], re.S).group(1)
            namespace = {}
            try:
                exec(code, namespace)
                for test in answer["tests"]:
                    exec(test, namespace)
            except Exception as e:  # noqa: BLE001 - report any failure of a task
                fails[template] += 1
                if fails[template] <= 2:
                    print(f"FAIL {template}: {e!r}\n{code}\n{answer['tests']}")
    print(f"{sum(total.values())} coding tasks; {sum(fails.values())} failures")
    for template in sorted(total):
        print(f"  {template}: {total[template]} tasks, {fails[template]} failures")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
