#!/usr/bin/env python3
"""Peer for `cargo xtask bench dedup`: rensa (Rust-backed MinHash) near-duplicate removal.

Usage: dedup_rensa.py CORPUS.jsonl REMOVED_OUT.jsonl [NUM_PERM=128] [THRESHOLD=0.8] [BANDS=16]
Reads {"id","text"} rows, shingles each text into word 5-grams of the lower-cased,
whitespace-split text (the tokenisation of rensa's own benchmark), builds R-MinHash sketches
in one batch call, indexes them in RMinHashLSH (BANDS must divide NUM_PERM), queries all
documents in one call, keeps candidate pairs whose *estimated* Jaccard reaches the threshold
(what RMinHashDeduplicator does), and unions them. Each cluster keeps its first document; the
others are written as {"id", "duplicate_of"}. Prints a JSON summary on stdout.
"""
# requires: rensa==0.5.0
import json
import sys
import time
from importlib.metadata import version

from rensa import RMinHash, RMinHashLSH

T0 = time.perf_counter()
corpus, out = sys.argv[1], sys.argv[2]
num_perm = int(sys.argv[3]) if len(sys.argv) > 3 else 128
threshold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.8
bands = int(sys.argv[5]) if len(sys.argv) > 5 else 16
N = 5


def shingles(text):
    w = text.lower().split()
    if len(w) <= N:
        return [" ".join(w)]
    return [" ".join(w[i:i + N]) for i in range(len(w) - N + 1)]


ids, sets = [], []
with open(corpus, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            row = json.loads(line)
            ids.append(row["id"])
            sets.append(shingles(row["text"]))
t_read = time.perf_counter()
sigs = RMinHash.from_token_sets(sets, num_perm=num_perm, seed=42)
t_sig = time.perf_counter()
lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=bands)
lsh.insert_many(sigs)
candidates = lsh.query_all(sigs)
parent = list(range(len(ids)))


def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


pairs = verified = 0
for i, cands in enumerate(candidates):
    for j in cands:
        if j > i:
            pairs += 1
            if sigs[i].jaccard(sigs[j]) >= threshold:
                verified += 1
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
t_lsh = time.perf_counter()
removed = 0
with open(out, "w") as f:
    for i in range(len(ids)):
        r = find(i)
        if r != i:
            removed += 1
            f.write(json.dumps({"id": ids[i], "duplicate_of": ids[r]}) + "\n")
t_end = time.perf_counter()
print(json.dumps({
    "peer": "rensa", "version": version("rensa"), "docs": len(ids), "removed": removed, "candidate_pairs": pairs,
    "estimate_verified_pairs": verified, "bands": bands, "rows": num_perm // bands,
    "seconds": {"read_shingle": t_read - T0, "signatures": t_sig - t_read,
                "lsh_cluster": t_lsh - t_sig, "write": t_end - t_lsh, "total": t_end - T0},
}))
