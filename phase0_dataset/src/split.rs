//! `phase0_dataset split`: deterministic train / validation / test splits, stratified by
//! domain. Within each domain, rows are ordered by xxh3(seed, id) and cut at the rounded
//! ratios, so every domain is split in the same proportions and the result depends on neither
//! row order nor thread count (the hash, not the position, decides).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::io::{JsonlWriter, open_dataset, par_examples};
use crate::schema::Domain;

/// Artifact kind of a split.
pub const SPLIT_KIND: &str = "split";
/// Split names, in file order.
pub const SPLITS: [&str; 3] = ["train", "validation", "test"];

/// Arguments of `phase0_dataset split`.
#[derive(Args, Debug, Clone, Default)]
pub struct SplitArgs {
    /// Dataset artifact directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Train, validation and test shares, comma-separated (default 0.9,0.05,0.05).
    #[arg(long, value_delimiter = ',', value_name = "TRAIN,VALIDATION,TEST")]
    pub ratios: Option<Vec<f64>>,
}

/// The `[split]` table of the phase 0 config.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Train, validation, test shares (sum 1).
    pub ratios: [f64; 3],
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            ratios: [0.9, 0.05, 0.05],
        }
    }
}

/// Split index (0 train, 1 validation, 2 test) for every row, given each row's stratum and
/// id hash. Within a stratum of `n` rows ordered by hash, the first round(n·test) rows go to
/// test, the next round(n·validation) to validation, the rest to train.
pub fn assign(strata: &[(u16, u64)], ratios: [f64; 3]) -> Vec<u8> {
    let mut by: BTreeMap<u16, Vec<(u64, usize)>> = BTreeMap::new();
    for (i, &(s, h)) in strata.iter().enumerate() {
        by.entry(s).or_default().push((h, i));
    }
    let mut out = vec![0u8; strata.len()];
    for rows in by.values_mut() {
        rows.sort_unstable();
        let n = rows.len() as f64;
        let n_test = (n * ratios[2]).round() as usize;
        let n_val = ((n * ratios[1]).round() as usize).min(rows.len() - n_test.min(rows.len()));
        for (rank, &(_, i)) in rows.iter().enumerate() {
            out[i] = if rank < n_test {
                2
            } else if rank < n_test + n_val {
                1
            } else {
                0
            };
        }
    }
    out
}

fn stratum(domain: Option<Domain>) -> u16 {
    domain.map_or(u16::MAX, |d| {
        Domain::ALL.iter().position(|x| *x == d).unwrap_or(0) as u16
    })
}

fn stratum_name(s: u16) -> &'static str {
    Domain::ALL
        .get(s as usize)
        .map_or("untagged", |d| d.as_str())
}

/// Runs `split` and returns the split artifact.
pub fn run(args: &SplitArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let mut cfg: SplitConfig = crate::config::section(common.config.as_deref(), "split")?;
    if let Some(r) = &args.ratios {
        let [train, val, test] = r[..] else {
            bail!(
                "--ratios takes three shares (train,validation,test), got {}",
                r.len()
            );
        };
        cfg.ratios = [train, val, test];
    }
    let sum: f64 = cfg.ratios.iter().sum();
    if cfg.ratios.iter().any(|r| !(0.0..=1.0).contains(r)) || (sum - 1.0).abs() > 1e-6 {
        bail!(
            "split ratios {:?} must be in [0, 1] and sum to 1",
            cfg.ratios
        );
    }
    let seed = common.seed;
    let (input, data_path) = open_dataset(&args.input)?;
    let mut config = serde_json::to_value(&cfg)?;
    config["seed"] = seed.into();
    let mut writer =
        match crate::io::start(common, SPLIT_KIND, "split", vec![input.as_input()], config)? {
            Ok(w) => w,
            Err(done) => return Ok(done),
        };
    let _span = tracing::info_span!("split", input = %input.id()).entered();
    // Pass 1: stratum and hash of every row.
    let mut strata = Vec::new();
    par_examples(
        &data_path,
        |_, ex| {
            Ok((
                stratum(ex.domain),
                xxh3_64_with_seed(ex.id.as_bytes(), seed),
            ))
        },
        |x| {
            strata.push(x);
            Ok(())
        },
    )?;
    let which = assign(&strata, cfg.ratios);
    // Pass 2: copy each line to its split, unchanged.
    let mut outs = Vec::new();
    for name in SPLITS {
        outs.push(JsonlWriter::create(&writer, &format!("{name}.jsonl"))?);
    }
    let file =
        File::open(&data_path).with_context(|| format!("opening {}", data_path.display()))?;
    let mut row = 0usize;
    let mut per_domain: BTreeMap<&'static str, [u64; 3]> = BTreeMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", data_path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Some(&w) = which.get(row) else {
            bail!("{} changed while it was being split", data_path.display());
        };
        outs[w as usize].write_line(line.as_bytes())?;
        per_domain.entry(stratum_name(strata[row].0)).or_default()[w as usize] += 1;
        row += 1;
    }
    let mut totals = BTreeMap::new();
    for (name, out) in SPLITS.iter().zip(outs) {
        totals.insert(*name, out.finish()?);
    }
    let domains: BTreeMap<&str, BTreeMap<&str, u64>> = per_domain
        .iter()
        .map(|(d, c)| (*d, SPLITS.iter().copied().zip(c.iter().copied()).collect()))
        .collect();
    writer.set_metric("rows", row);
    writer.set_metric("splits", &totals);
    writer.set_metric("domains", &domains);
    Ok(Some(writer.commit()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_counts_are_rounded_per_stratum() {
        // 100 rows in stratum 0, 40 in stratum 1, 1 in stratum 2.
        let mut strata = Vec::new();
        for i in 0..100u64 {
            strata.push((0u16, xxh3_64_with_seed(&i.to_le_bytes(), 0)));
        }
        for i in 0..40u64 {
            strata.push((1u16, xxh3_64_with_seed(&i.to_le_bytes(), 1)));
        }
        strata.push((2u16, 5));
        let a = assign(&strata, [0.8, 0.1, 0.1]);
        let count =
            |range: std::ops::Range<usize>, s: u8| a[range].iter().filter(|x| **x == s).count();
        assert_eq!(
            (count(0..100, 0), count(0..100, 1), count(0..100, 2)),
            (80, 10, 10)
        );
        assert_eq!(
            (count(100..140, 0), count(100..140, 1), count(100..140, 2)),
            (32, 4, 4)
        );
        assert_eq!(a[140], 0, "a single row stays in train");
    }

    #[test]
    fn assignment_ignores_row_order() {
        let strata: Vec<(u16, u64)> = (0..50u64)
            .map(|i| ((i % 3) as u16, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let a = assign(&strata, [0.7, 0.2, 0.1]);
        let mut rev = strata.clone();
        rev.reverse();
        let mut b = assign(&rev, [0.7, 0.2, 0.1]);
        b.reverse();
        assert_eq!(a, b);
    }
}
