#!/usr/bin/env python3
# requires: torch==2.9.0 transformers==4.57.1 peft==0.21.2 safetensors==0.8.0
"""Peer benchmark: transformers + PEFT LoRA training throughput on CPU, float32.

Usage: `python xtask/peers/bench_train.py <hf-checkpoint-dir> [--threads 2] [--seq 256]
[--batch 4] [--rank 16] [--alpha 32] [--steps 3] [--warmup 1]`

The checkpoint is any HF-format Llama directory (config.json + safetensors), e.g. the one
cogumi's import writes (`.cache/models/smollm2.path` points at it) or
`fixtures/gen/smollm2_logits.py --save-hf DIR`.

What is timed: LoRA (PEFT `LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none",
target_modules=q/k/v/o/gate/up/down_proj)`) on the f32 model in train mode, `use_cache=False`,
`torch.optim.AdamW(lora params, lr=2e-4)` (torch defaults otherwise: betas (0.9, 0.999),
eps 1e-8, weight_decay 0.01). One optimizer step per micro-batch: forward with
`labels = input_ids` (HF mean CE), backward, `opt.step()`, `opt.zero_grad()`. No gradient
checkpointing, no clipping, no scheduler. Inputs are fixed pseudo-random token ids (seed 0,
[batch, seq] per step, no tokenizer). `--warmup` steps run first and are not timed; then `--steps`
steps are timed one by one.

Output: one JSON line on stdout:
`{"peer": "pytorch-peft", "tokens_per_s", "step_s", "peak_rss_mib", "torch", "transformers",
"peft", "threads", "batch", "seq", "rank", "alpha", "steps", "warmup", "trainable_params",
"final_loss"}` where tokens_per_s = batch * seq * steps / (sum of timed step times), step_s = mean
timed step time, peak_rss_mib = `resource.getrusage(RUSAGE_SELF).ru_maxrss` / 1024 (Linux KiB;
peak of the whole process, including model load). Exits 0 with a `{"skipped": reason}` line if
torch, transformers or peft cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main() -> int:
    ap = argparse.ArgumentParser(description="transformers + PEFT LoRA CPU training throughput")
    ap.add_argument("checkpoint", help="HF-format checkpoint directory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256, help="tokens per sequence")
    ap.add_argument("--batch", type=int, default=4, help="sequences per micro-batch (= per step)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps first")
    args = ap.parse_args()

    try:
        import peft
        import torch
        import transformers
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(json.dumps({"peer": "pytorch-peft", "skipped": f"import failed: {e}"}))
        return 0

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # lora_A init
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype=torch.float32)
    model.config.use_cache = False
    cfg = LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        bias="none",
        target_modules=list(TARGETS),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4)

    gen = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    batches = [
        torch.randint(3, vocab, (args.batch, args.seq), generator=gen) for _ in range(args.warmup + args.steps)
    ]

    def step(ids) -> tuple[float, float]:
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - start, loss.item()

    for ids in batches[: args.warmup]:
        step(ids)
    times, loss = [], float("nan")
    for ids in batches[args.warmup :]:
        dt, loss = step(ids)
        times.append(dt)
    total = sum(times)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peer": "pytorch-peft",
                "tokens_per_s": round(args.batch * args.seq * len(times) / total, 2),
                "step_s": round(total / len(times), 4),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "peft": peft.__version__,
                "threads": args.threads,
                "batch": args.batch,
                "seq": args.seq,
                "rank": args.rank,
                "alpha": args.alpha,
                "steps": len(times),
                "warmup": args.warmup,
                "trainable_params": sum(p.numel() for p in params),
                "final_loss": round(loss, 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
