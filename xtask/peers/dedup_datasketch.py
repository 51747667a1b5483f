#!/usr/bin/env python3
"""Peer for `cargo xtask bench dedup`: datasketch MinHash LSH near-duplicate removal.

Usage: dedup_datasketch.py CORPUS.jsonl REMOVED_OUT.jsonl [NUM_PERM=128] [THRESHOLD=0.8]
Reads {"id","text"} rows, shingles each text into word 5-grams of the lower-cased,
whitespace-split text (the tokenisation of rensa's own benchmark), builds signatures with
MinHash.bulk, indexes them in MinHashLSH with datasketch's automatic banding for the
threshold, queries every document, and unions every candidate pair (datasketch does not
verify candidates). Each cluster keeps its first document; the others are written as
{"id", "duplicate_of"}. Prints a JSON summary with stage timings on stdout.
"""
# requires: datasketch==2.0.0 (numpy, scipy as its dependencies)
import json
import sys
import time
from importlib.metadata import version

from datasketch import MinHash, MinHashLSH

T0 = time.perf_counter()
corpus, out = sys.argv[1], sys.argv[2]
num_perm = int(sys.argv[3]) if len(sys.argv) > 3 else 128
threshold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.8
N = 5


def shingles(text):
    w = text.lower().split()
    if len(w) <= N:
        return [" ".join(w).encode()]
    return [" ".join(w[i:i + N]).encode() for i in range(len(w) - N + 1)]


ids, sets = [], []
with open(corpus, encoding="utf-8") as f:
    for line in f:
        if line.strip():
            row = json.loads(line)
            ids.append(row["id"])
            sets.append(shingles(row["text"]))
t_read = time.perf_counter()
sigs = MinHash.bulk(sets, num_perm=num_perm, seed=1)
t_sig = time.perf_counter()
lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
with lsh.insertion_session() as session:
    for i, m in enumerate(sigs):
        session.insert(i, m, check_duplication=False)
parent = list(range(len(ids)))


def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


pairs = 0
for i, m in enumerate(sigs):
    for j in lsh.query(m):
        if j != i:
            pairs += 1
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
    "peer": "datasketch", "version": version("datasketch"), "docs": len(ids), "removed": removed, "candidate_pairs": pairs // 2,
    "bands": lsh.b, "rows": lsh.r,
    "seconds": {"read_shingle": t_read - T0, "signatures": t_sig - t_read,
                "lsh_cluster": t_lsh - t_sig, "write": t_end - t_lsh, "total": t_end - T0},
}))
