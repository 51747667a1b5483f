#!/usr/bin/env python3
# requires: torch==2.9.0 transformers==4.57.1 safetensors==0.8.0
"""Peer benchmark: SmolLM2-135M float32 prefill and decode throughput with transformers on CPU.

Usage: `python xtask/peers/bench_model.py <hf-checkpoint-dir> [--threads 2] [--prefill 512]
[--decode 128] [--decode-prompt 16] [--repeats 3]`

The checkpoint is any HF-format Llama directory (config.json + safetensors), e.g. the one
cogumi's import writes, or `fixtures/gen/smollm2_logits.py --save-hf DIR`.

- prefill: one forward over a fixed 512-token prompt filling the KV cache, logits for the last
  position only (what `generate()` does); tokens/s = 512 / time.
- decode: after a 16-token prompt, 128 greedy steps of one token each through the KV cache
  (`DynamicCache`); tokens/s = 128 / time of those steps only.
Both after one warm-up run, best of `--repeats`. Token ids are fixed pseudo-random ids (seed 0),
so no tokenizer is needed. Prints one JSON line on stdout; exits 0 with a `skipped` line if torch
or transformers cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description="transformers CPU prefill/decode throughput")
    ap.add_argument("checkpoint", help="HF-format checkpoint directory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", type=int, default=512, help="prefill prompt length")
    ap.add_argument("--decode", type=int, default=128, help="greedy tokens to decode")
    ap.add_argument("--decode-prompt", type=int, default=16, help="prompt length before decoding")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM
    except ImportError:
        print(json.dumps({"peer": "pytorch", "skipped": "torch not installed"}))
        return 0

    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype=torch.float32).eval()
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randint(3, model.config.vocab_size, (1, args.prefill), generator=gen)
    short = prompt[:, : args.decode_prompt]

    @torch.inference_mode()
    def prefill() -> float:
        start = time.perf_counter()
        model(prompt, use_cache=True, logits_to_keep=1)
        return time.perf_counter() - start

    @torch.inference_mode()
    def decode(steps: int) -> float:
        out = model(short, use_cache=True, logits_to_keep=1)
        past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        start = time.perf_counter()
        for _ in range(steps):
            out = model(nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        return time.perf_counter() - start

    prefill()
    decode(8)  # warm-up
    prefill_s = min(prefill() for _ in range(args.repeats))
    decode_s = min(decode(args.decode) for _ in range(args.repeats))
    print(
        json.dumps(
            {
                "peer": "pytorch",
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "threads": args.threads,
                "prefill_tokens": args.prefill,
                "decode_tokens": args.decode,
                "prefill_tok_s": round(args.prefill / prefill_s, 2),
                "decode_tok_s": round(args.decode / decode_s, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
