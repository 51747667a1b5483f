#!/usr/bin/env python3
# requires: torch==2.9.0 transformers==4.57.1 lm-eval==0.4.13 datasets==5.0.1
"""Peer benchmark: lm-evaluation-harness (HF transformers backend) MMLU throughput on CPU.

Usage: `python xtask/peers/bench_eval.py --model DIR --data DIR [--subjects 3 |
--subject-list anatomy,virology] [--questions-per-subject 10] [--num-fewshot 5] [--threads 2]
[--batch-size 16]`

- `--model`: an HF-format checkpoint directory (config.json, safetensors, tokenizer files).
- `--data`: the benchmark data root written by cogumi's importer: `<data>/mmlu/dev.jsonl` and
  `<data>/mmlu/test.jsonl`, one raw HF `cais/mmlu` row per line (`question`, `subject`,
  `choices`, `answer`), all subjects in one file.

What runs: for each of the first `--subjects` subjects in alphabetical order (or the
`--subject-list`), lm-eval's own registered `mmlu_<subject>` task config (`mmlu` default
format: subject description line, `first_n` few-shot over that subject's dev rows,
"A. ...\\nAnswer:" with continuations " A".." D") fed the subject's rows through lm-eval's
`custom_dataset` hook, scored on its first `--questions-per-subject` test rows, with
`lm_eval.models.huggingface.HFLM(pretrained=DIR, dtype="float32", device="cpu",
batch_size=B)` and `torch.set_num_threads(threads)`; `acc_norm` is added to the metric list
(the MMLU YAML has only `acc`). HFLM's logits cache scores all four single-token choices of a
question from one forward pass.

Timing: `load_seconds` is building HFLM (model + tokenizer); `setup_seconds` is lm-eval's task
index and building the tasks (not timed as evaluation); `seconds` is `simple_evaluate` alone
(prompt building, tokenising, forward passes, metrics).

Batch size: the default 16 was the fastest measured here (3 subjects x 10 questions, 2 threads,
2 shared cores): batch 1 129-196 s, 8 104-105 s, 16 85-86 s, 32 108 s (HFLM sorts requests by
length, longest first, and pads each batch to its longest; 32 puts all 30 prompts in one batch).
`auto` was not timed: HFLM probes it with 5 forward passes of batch 64 at the longest request
length (~1000 tokens for 5-shot MMLU, about 25 min of CPU here) and then pads batches of 64.

Output: lm-eval's logs go to stderr; the last stdout line is one JSON object
`{"peer": "lm-eval <ver> hf", "questions", "seconds", "questions_per_s", "load_seconds",
"setup_seconds", "acc", "acc_norm", "batch_size", "threads", "num_fewshot", "subjects",
"versions"}` with acc/acc_norm over all scored questions (lm-eval's size-weighted group mean).
Exits 0 with a `skipped` line if lm-eval, torch or transformers cannot be imported; exits 2 if
the data is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def read_jsonl(path: Path) -> dict[str, list[dict]]:
    """Rows of one split grouped by subject, in file order."""
    by_subject: dict[str, list[dict]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                by_subject.setdefault(row["subject"], []).append(row)
    return by_subject


def main() -> int:
    ap = argparse.ArgumentParser(description="lm-eval HFLM MMLU throughput on CPU")
    ap.add_argument("--model", required=True, help="HF-format checkpoint directory")
    ap.add_argument("--data", required=True, help="benchmark data root (holds mmlu/*.jsonl)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--subjects", type=int, default=3, help="first N subjects, alphabetical")
    which.add_argument("--subject-list", help="comma-separated subjects, e.g. anatomy,virology")
    ap.add_argument("--questions-per-subject", type=int, default=10)
    ap.add_argument("--num-fewshot", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", default="16", help="HFLM batch_size: an integer or auto")
    args = ap.parse_args()

    try:
        import datasets
        import lm_eval
        import torch
        import transformers
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
        from lm_eval.tasks._yaml_loader import load_yaml
    except ImportError as e:
        print(json.dumps({"peer": "lm-eval hf", "skipped": f"import failed: {e}"}))
        return 0

    dev_path, test_path = Path(args.data) / "mmlu/dev.jsonl", Path(args.data) / "mmlu/test.jsonl"
    for p in (dev_path, test_path):
        if not p.is_file():
            print(f"error: {p} missing; run cogumi's benchmark import first", file=sys.stderr)
            return 2
    dev, test = read_jsonl(dev_path), read_jsonl(test_path)
    if args.subject_list:
        subjects = [s.strip() for s in args.subject_list.split(",") if s.strip()]
    else:
        subjects = sorted(test)[: args.subjects]
    for s in subjects:
        if s not in test or s not in dev:
            print(f"error: subject {s} missing from {args.data}/mmlu", file=sys.stderr)
            return 2

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    torch.set_num_threads(args.threads)
    with contextlib.redirect_stdout(sys.stderr):
        start = time.perf_counter()
        lm = HFLM(pretrained=args.model, dtype="float32", device="cpu", batch_size=batch_size)
        load_s = time.perf_counter() - start

        start = time.perf_counter()
        tm = TaskManager()
        acc_norm = {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}
        configs = []
        for s in subjects:
            entry = tm._entry(f"mmlu_{s}")
            if entry is None or entry.yaml_path is None:
                print(f"error: lm-eval has no task mmlu_{s}", file=sys.stderr)
                return 2
            cfg = load_yaml(entry.yaml_path, resolve_func=True)
            splits = datasets.DatasetDict(
                {
                    "dev": datasets.Dataset.from_list(dev[s]),
                    "test": datasets.Dataset.from_list(test[s][: args.questions_per_subject]),
                }
            )
            cfg = {
                **cfg,
                "custom_dataset": lambda _splits=splits, **_kw: _splits,
                "num_fewshot": args.num_fewshot,
                "metric_list": list(cfg["metric_list"]) + [acc_norm],
            }
            configs.append(cfg)
        tasks = list(tm.load(configs)["tasks"].values())
        setup_s = time.perf_counter() - start

        start = time.perf_counter()
        out = simple_evaluate(model=lm, tasks=tasks, task_manager=tm, bootstrap_iters=0)
        eval_s = time.perf_counter() - start

    results = out["results"]
    n = {f"mmlu_{s}": min(len(test[s]), args.questions_per_subject) for s in subjects}
    total = sum(n.values())

    def mean(metric: str) -> float:
        return sum(results[t][f"{metric},none"] * k for t, k in n.items()) / total

    bs = lm.batch_size if batch_size != "auto" else f"auto:{lm.batch_sizes}"
    print(
        json.dumps(
            {
                "peer": f"lm-eval {lm_eval.__version__} hf",
                "questions": total,
                "seconds": round(eval_s, 3),
                "questions_per_s": round(total / eval_s, 4),
                "load_seconds": round(load_s, 3),
                "setup_seconds": round(setup_s, 3),
                "acc": mean("acc"),
                "acc_norm": mean("acc_norm"),
                "batch_size": str(bs) if not isinstance(bs, int) else bs,
                "threads": args.threads,
                "num_fewshot": args.num_fewshot,
                "subjects": subjects,
                "versions": {
                    "lm_eval": lm_eval.__version__,
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "datasets": datasets.__version__,
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
