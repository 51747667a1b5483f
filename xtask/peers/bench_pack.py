#!/usr/bin/env python3
# requires: python>=3.11 zipnn==0.5.4 zstandard
"""Peer of `cargo xtask bench quant` (pack part): ZipNN and plain zstd on one safetensors file.

Prints one JSON line: {"zipnn_bytes", "zipnn_s", "zstd_bytes", "zstd_level", "bytes"} or
{"skipped": reason} when zipnn is not installed.
"""

import json
import sys
import time
from pathlib import Path


def main() -> None:
    path = Path(sys.argv[1])
    level = int(sys.argv[2])
    data = path.read_bytes()
    out = {"bytes": len(data)}
    try:
        from zipnn import ZipNN
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"skipped": f"zipnn not importable ({e})", **out}))
        return
    z = ZipNN(input_format="byte", bytearray_dtype="bfloat16", threads=2)
    t = time.perf_counter()
    packed = z.compress(data)
    out["zipnn_s"] = time.perf_counter() - t
    out["zipnn_bytes"] = len(packed)
    t = time.perf_counter()
    restored = z.decompress(packed)
    out["zipnn_decompress_s"] = time.perf_counter() - t
    out["zipnn_exact"] = bytes(restored) == data
    try:
        import zstandard
        out["zstd_bytes"] = len(zstandard.ZstdCompressor(level=level).compress(data))
        out["zstd_level"] = level
    except Exception:  # noqa: BLE001
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
