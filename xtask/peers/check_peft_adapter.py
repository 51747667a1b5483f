#!/usr/bin/env python3
# requires: torch==2.9.0 transformers==4.57.1 peft==0.21.2 safetensors==0.8.0
"""Cross-check a Cogumi-trained adapter with PEFT: load the base with transformers, attach the
adapter with `PeftModel.from_pretrained` (our `adapter_config.json` + `adapter_model.safetensors`
as written), and compare its logits with Cogumi's logits for the same ids — either from a merged
Cogumi checkpoint (`phase1_training merge`, loaded by transformers) or from a safetensors file
written by `phase9_validation logits` (tensor `logits`, [T, vocab]).

Usage: `python xtask/peers/check_peft_adapter.py BASE_DIR ADAPTER_DIR (--merged DIR | --logits F)
[--ids 1,2,3]`. Prints one JSON line `{"max_abs_diff", "max_rel_diff", "argmax_equal"}` and exits
1 when the normwise relative difference exceeds `--rtol` (default 1e-4).
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("adapter")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--merged")
    g.add_argument("--logits")
    ap.add_argument("--ids", default="1,504,2210,314,253,1524,30,216,12,9907,28,5,39")
    ap.add_argument("--rtol", type=float, default=1e-4)
    a = ap.parse_args()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    ids = torch.tensor([[int(x) for x in a.ids.split(",")]])
    base = AutoModelForCausalLM.from_pretrained(a.base, torch_dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, a.adapter).eval()
    with torch.no_grad():
        ref = peft_model(ids).logits[0]
        if a.merged:
            merged = AutoModelForCausalLM.from_pretrained(a.merged, torch_dtype=torch.float32).eval()
            ours = merged(ids).logits[0]
        else:
            from safetensors.torch import load_file

            ours = load_file(a.logits)["logits"]
    d = (ours - ref).abs().max().item()
    rel = d / ref.abs().max().item()
    same = bool((ours.argmax(-1) == ref.argmax(-1)).all())
    print(json.dumps({"max_abs_diff": d, "max_rel_diff": rel, "argmax_equal": same}))
    return 0 if rel <= a.rtol else 1


if __name__ == "__main__":
    sys.exit(main())
