//! `phase0_dataset ingest`: raw files (JSONL / JSON array, plain, .gz or .zst) or raw artifacts
//! in any supported schema → one normalised dataset artifact. Bad rows never stop the run: they
//! go to `quarantine.jsonl` with file, line and reason, and are counted in the metrics.

pub mod chat;
pub mod formats;
pub mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use cogumi_artifact::{Artifact, sha256_file};
use cogumi_cli::CommonArgs;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use xxhash_rust::xxh3::Xxh3;

use crate::io::{JsonlWriter, to_line};
use crate::schema::{DATA_FILE, DATASET_KIND};
use formats::{Format, Parsed, convert, detect, parse_map, validate_map};
use read::{Records, floor_char_boundary};

/// Artifact kind of an unnormalised corpus (what `synth` writes).
pub const RAW_KIND: &str = "raw";
/// File of quarantined rows inside the dataset artifact.
pub const QUARANTINE_FILE: &str = "quarantine.jsonl";
/// Rows looked at to detect a file's format.
const DETECT_ROWS: usize = 1000;
/// Characters of a bad row kept in the quarantine file.
const RAW_KEEP: usize = 2000;
/// Records handed to rayon at a time.
const CHUNK: usize = 8192;

/// Arguments of `phase0_dataset ingest`.
#[derive(Args, Debug, Clone, Default)]
pub struct IngestArgs {
    /// Raw input file (JSONL or JSON array; plain, .gz or .zst). Repeatable.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Raw artifact directory (kind `raw`, e.g. from `synth`); all its .jsonl/.json files are read.
    #[arg(long = "input", value_name = "DIR")]
    pub inputs: Vec<PathBuf>,
    /// Input schema; `auto` detects it per file from the first rows.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Field mapping for other schemas: `instruction=prompt,output=completion` (dotted paths allowed).
    #[arg(long, value_name = "TARGET=FIELD,...")]
    pub map: Option<String>,
    /// Source name for every row (default: the row's `source` field, else the file name).
    #[arg(long)]
    pub source: Option<String>,
}

/// The `[ingest]` table of the phase 0 config.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Raw files to read (besides `--file`).
    pub files: Vec<PathBuf>,
    /// Input schema.
    pub format: Format,
    /// Field mapping (target → source field path).
    pub map: BTreeMap<String, String>,
    /// Source name override.
    pub source: Option<String>,
}

/// A row that could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// Broken before JSON parsing (bad UTF-8, unterminated array element).
    #[error("{0}")]
    Broken(String),
    /// Not valid JSON.
    #[error("invalid json: {0}")]
    Json(String),
    /// Valid JSON but not an object.
    #[error("not a json object")]
    NotObject,
    /// A required field is absent or null.
    #[error("missing field `{field}`")]
    Missing {
        /// Field name or path.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("field `{field}` is not {expected}")]
    WrongType {
        /// Field name or path.
        field: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A required text field is empty.
    #[error("field `{field}` is empty")]
    Empty {
        /// Field name or path.
        field: String,
    },
    /// An Anthropic-HH transcript that does not parse.
    #[error("bad transcript: {0}")]
    Transcript(String),
    /// A ShareGPT/ChatML turn list that does not parse.
    #[error("bad conversation: {0}")]
    Conversation(String),
}

impl RowError {
    /// Short category used to count reasons in the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RowError::Broken(_) => "broken_record",
            RowError::Json(_) => "invalid_json",
            RowError::NotObject => "not_object",
            RowError::Missing { .. } => "missing_field",
            RowError::WrongType { .. } => "wrong_type",
            RowError::Empty { .. } => "empty_field",
            RowError::Transcript(_) => "bad_transcript",
            RowError::Conversation(_) => "bad_conversation",
        }
    }
}

/// One line of `quarantine.jsonl`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    /// Input file (as given, or `<artifact dir>/<file>`).
    pub file: String,
    /// 1-based line where the row starts.
    pub line: u64,
    /// Category (see [`RowError::kind`]).
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
    /// The row text, truncated to 2000 characters.
    pub raw: String,
}

/// One input file and how it is named in ids and reports.
#[derive(Debug, Clone)]
struct InputFile {
    path: PathBuf,
    /// Shown in quarantine rows and metrics.
    display: String,
    /// File name, part of the row ids.
    name: String,
    sha256: String,
}

/// Per-file numbers reported in the metrics.
#[derive(Serialize, Debug, Default, Clone)]
struct FileStats {
    file: String,
    format: String,
    compression: String,
    layout: String,
    records: u64,
    ok: u64,
    quarantined: u64,
    dropped_trailing_turns: u64,
}

/// Resolves config + flags (flags win).
fn resolve(args: &IngestArgs, common: &CommonArgs) -> anyhow::Result<IngestConfig> {
    let mut cfg: IngestConfig = crate::config::section(common.config.as_deref(), "ingest")?;
    cfg.files.extend(args.files.iter().cloned());
    if let Some(f) = args.format {
        cfg.format = f;
    }
    if let Some(m) = &args.map {
        cfg.map = parse_map(m)?;
    }
    if args.source.is_some() {
        cfg.source.clone_from(&args.source);
    }
    if !cfg.map.is_empty() {
        validate_map(&cfg.map)?;
        if cfg.format == Format::Auto {
            cfg.format = Format::Mapped;
        }
    }
    if cfg.format == Format::Mapped && cfg.map.is_empty() {
        bail!("--format mapped needs --map target=field,...");
    }
    Ok(cfg)
}

/// Runs `ingest` and returns the dataset artifact.
pub fn run(args: &IngestArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let cfg = resolve(args, common)?;
    let mut inputs = Vec::new();
    let mut files = Vec::new();
    for dir in &args.inputs {
        let artifact = crate::io::open_input(dir, RAW_KIND)?;
        for entry in &artifact.manifest().files {
            if is_data_file(&entry.path) {
                files.push(InputFile {
                    path: artifact.path(&entry.path),
                    display: format!("{}/{}", dir.display(), entry.path),
                    name: entry.path.clone(),
                    sha256: entry.sha256.clone(),
                });
            }
        }
        inputs.push(artifact.as_input());
    }
    for path in &cfg.files {
        if !path.is_file() {
            bail!("input file {} does not exist", path.display());
        }
        let (sha256, _) =
            sha256_file(path).with_context(|| format!("hashing {}", path.display()))?;
        files.push(InputFile {
            path: path.clone(),
            display: path.display().to_string(),
            name: file_name(path),
            sha256,
        });
    }
    if files.is_empty() {
        bail!("nothing to ingest: pass --file PATH or --input RAW_ARTIFACT_DIR");
    }
    let config = json!({
        "format": cfg.format,
        "map": cfg.map,
        "source": cfg.source,
        "files": files.iter().map(|f| json!({"name": f.name, "sha256": f.sha256})).collect::<Vec<_>>(),
    });
    let mut writer = match crate::io::start(common, DATASET_KIND, "ingest", inputs, config)? {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let _span = tracing::info_span!("ingest", files = files.len()).entered();
    let mut data = JsonlWriter::create(&writer, DATA_FILE)?;
    let mut quarantine = JsonlWriter::create(&writer, QUARANTINE_FILE)?;
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut sources: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_file = Vec::new();
    for file in &files {
        let stats = ingest_file(
            file,
            &cfg,
            &mut data,
            &mut quarantine,
            &mut reasons,
            &mut sources,
        )?;
        tracing::info!(file = %file.display, format = %stats.format, ok = stats.ok, quarantined = stats.quarantined, "file ingested");
        per_file.push(stats);
    }
    let rows_ok = data.finish()?;
    let rows_quarantined = quarantine.finish()?;
    writer.set_metric("rows_read", rows_ok + rows_quarantined);
    writer.set_metric("rows", rows_ok);
    writer.set_metric("rows_quarantined", rows_quarantined);
    writer.set_metric("quarantine_reasons", &reasons);
    writer.set_metric("sources", &sources);
    writer.set_metric(
        "dropped_trailing_turns",
        per_file
            .iter()
            .map(|f| f.dropped_trailing_turns)
            .sum::<u64>(),
    );
    writer.set_metric("files", &per_file);
    Ok(Some(writer.commit()?))
}

/// Reads one file, writing good rows to `data` and bad ones to `quarantine`.
fn ingest_file(
    file: &InputFile,
    cfg: &IngestConfig,
    data: &mut JsonlWriter,
    quarantine: &mut JsonlWriter,
    reasons: &mut BTreeMap<&'static str, u64>,
    sources: &mut BTreeMap<String, u64>,
) -> anyhow::Result<FileStats> {
    let (reader, compression) = read::open(&file.path)?;
    let records =
        Records::new(reader).with_context(|| format!("reading {}", file.path.display()))?;
    let layout = records.layout();
    let stem = file_stem(&file.name);
    let default_source = cfg.source.clone().unwrap_or_else(|| stem.clone());
    let mut records = records.map(|r| r.with_context(|| format!("reading {}", file.display)));

    // Resolve `auto` from the first rows that match a known schema.
    let mut format = cfg.format;
    let mut pending = Vec::new();
    if format == Format::Auto {
        for rec in records.by_ref() {
            let rec = rec?;
            let found = rec
                .broken
                .is_none()
                .then(|| serde_json::from_str::<Map<String, Value>>(&rec.text).ok())
                .flatten()
                .and_then(|o| detect(&o, &stem));
            pending.push(rec);
            if let Some(f) = found {
                format = f;
                break;
            }
            if pending.len() >= DETECT_ROWS {
                break;
            }
        }
        if format == Format::Auto && !pending.is_empty() {
            bail!(
                "cannot detect the schema of {}: none of its first {} rows has the fields of a known format; pass --format or --map",
                file.display,
                pending.len()
            );
        }
    }
    let mut stats = FileStats {
        file: file.display.clone(),
        format: format.as_str().to_owned(),
        compression: format!("{compression:?}").to_lowercase(),
        layout: format!("{layout:?}").to_lowercase(),
        ..FileStats::default()
    };
    let ctx = RowContext {
        format,
        map: &cfg.map,
        forced_source: cfg.source.is_some(),
        default_source: &default_source,
        file_name: &file.name,
    };
    let mut chunk = pending;
    loop {
        while chunk.len() < CHUNK {
            match records.next() {
                Some(rec) => chunk.push(rec?),
                None => break,
            }
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<Result<Converted, QuarantineRow>> = chunk
            .par_iter()
            .map(|rec| ctx.process(rec, &file.display))
            .collect();
        for r in results {
            stats.records += 1;
            match r {
                Ok((line, source, dropped)) => {
                    data.write_line(&line)?;
                    *sources.entry(source).or_default() += 1;
                    stats.ok += 1;
                    stats.dropped_trailing_turns += dropped as u64;
                }
                Err(q) => {
                    *reasons.entry(kind_static(&q.kind)).or_default() += 1;
                    quarantine.write(&q)?;
                    stats.quarantined += 1;
                }
            }
        }
        chunk = Vec::with_capacity(CHUNK);
    }
    Ok(stats)
}

/// A converted row: its JSON line, source and dropped trailing turns.
type Converted = (Vec<u8>, String, usize);

/// What every row of a file shares.
struct RowContext<'a> {
    format: Format,
    map: &'a BTreeMap<String, String>,
    forced_source: bool,
    default_source: &'a str,
    file_name: &'a str,
}

impl RowContext<'_> {
    /// Converts one record into a serialised example, or a quarantine row.
    fn process(&self, rec: &read::Record, display: &str) -> Result<Converted, QuarantineRow> {
        let quarantine = |e: RowError| QuarantineRow {
            file: display.to_owned(),
            line: rec.line,
            kind: e.kind().to_owned(),
            reason: e.to_string(),
            raw: rec.text[..floor_char_boundary(&rec.text, RAW_KEEP)].to_owned(),
        };
        let parsed = self.parse(rec).map_err(quarantine)?;
        let Parsed {
            mut example,
            row_source,
            dropped_turns,
        } = parsed;
        example.source = match row_source {
            Some(s) if !self.forced_source => s,
            _ => self.default_source.to_owned(),
        };
        example.id = row_id(&example.source, self.file_name, rec.line, &rec.text);
        if dropped_turns > 0 {
            example
                .meta
                .insert("dropped_trailing_turns".into(), json!(dropped_turns));
        }
        let line = to_line(&example).map_err(|e| QuarantineRow {
            file: display.to_owned(),
            line: rec.line,
            kind: "unserialisable".into(),
            reason: e.to_string(),
            raw: String::new(),
        })?;
        Ok((line, example.source, dropped_turns))
    }

    fn parse(&self, rec: &read::Record) -> Result<Parsed, RowError> {
        if let Some(b) = &rec.broken {
            return Err(RowError::Broken(b.clone()));
        }
        let value: Value =
            serde_json::from_str(&rec.text).map_err(|e| RowError::Json(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(RowError::NotObject);
        };
        convert(self.format, obj, self.map)
    }
}

/// Stable row id: source plus 64 bits of xxh3 over (source, file name, line, raw text).
pub fn row_id(source: &str, file_name: &str, line: u64, raw: &str) -> String {
    let mut h = Xxh3::new();
    for part in [source.as_bytes(), file_name.as_bytes()] {
        h.update(part);
        h.update(&[0]);
    }
    h.update(&line.to_le_bytes());
    h.update(raw.as_bytes());
    format!("{source}-{:016x}", h.digest())
}

/// Maps a dynamic kind string back to its static name (for the reasons histogram).
fn kind_static(kind: &str) -> &'static str {
    const KINDS: [&str; 9] = [
        "broken_record",
        "invalid_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "empty_field",
        "bad_transcript",
        "bad_conversation",
        "unserialisable",
    ];
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("other")
}

/// Whether an artifact file holds raw rows.
fn is_data_file(rel: &str) -> bool {
    let r = rel.to_ascii_lowercase();
    [
        ".jsonl",
        ".json",
        ".jsonl.gz",
        ".json.gz",
        ".jsonl.zst",
        ".json.zst",
    ]
    .iter()
    .any(|ext| r.ends_with(ext))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// File name without directories and without `.jsonl`/`.json`/`.gz`/`.zst` extensions.
pub fn file_stem(name: &str) -> String {
    let mut s = name.rsplit('/').next().unwrap_or(name).to_owned();
    loop {
        let lower = s.to_ascii_lowercase();
        let Some(ext) = [".gz", ".zst", ".zstd", ".jsonl", ".json", ".ndjson"]
            .iter()
            .find(|e| lower.ends_with(*e))
        else {
            break;
        };
        s.truncate(s.len() - ext.len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_data_extensions() {
        assert_eq!(file_stem("dir/alpaca_gpt4.jsonl.gz"), "alpaca_gpt4");
        assert_eq!(file_stem("dolly.json"), "dolly");
        assert_eq!(file_stem("v1.2.data.zst"), "v1.2.data");
    }

    #[test]
    fn row_ids_are_stable_and_distinct() {
        let a = row_id("dolly", "dolly.jsonl", 3, "{}");
        assert_eq!(a, row_id("dolly", "dolly.jsonl", 3, "{}"));
        assert!(a.starts_with("dolly-") && a.len() == "dolly-".len() + 16);
        assert_ne!(a, row_id("dolly", "dolly.jsonl", 4, "{}"));
        assert_ne!(a, row_id("dolly", "other.jsonl", 3, "{}"));
    }

    #[test]
    fn data_files() {
        assert!(is_data_file("corpus.jsonl"));
        assert!(is_data_file("x.json.zst"));
        assert!(!is_data_file("report.md"));
    }
}
