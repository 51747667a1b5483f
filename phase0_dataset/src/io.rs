//! Dataset artifact I/O shared by the verbs: opening and checking input artifacts, streaming
//! `data.jsonl` in chunks processed in parallel (rayon) with order preserved, and JSON Lines
//! writers inside an artifact being written.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cogumi_artifact::{Artifact, ArtifactWriter, InputRef, SCHEMA_VERSION};
use cogumi_cli::CommonArgs;
use rayon::prelude::*;
use serde::Serialize;

use crate::schema::{DATA_FILE, DATASET_KIND, Example};

/// Rows handed to rayon at a time: large enough to amortise the fork/join, small enough to
/// keep memory flat on multi-million-row inputs.
pub const CHUNK_ROWS: usize = 8192;

/// Starts an output artifact through `cogumi_cli::begin`. `Ok(writer)`: do the work.
/// `Err(done)`: nothing to do — `None` after `--plan` (the plan was printed), `Some(artifact)`
/// when a complete artifact with the same id already exists.
pub fn start(
    common: &CommonArgs,
    kind: &str,
    subcommand: &str,
    inputs: Vec<InputRef>,
    config: serde_json::Value,
) -> anyhow::Result<Result<ArtifactWriter, Option<Artifact>>> {
    let producer = cogumi_artifact::producer!(subcommand);
    Ok(cogumi_cli::begin(common, kind, producer, inputs, &config)?.into_writer())
}

/// Opens an input artifact and checks its kind and schema version before any work.
pub fn open_input(dir: &Path, kind: &str) -> anyhow::Result<Artifact> {
    let artifact = Artifact::open_expect(dir, kind)
        .with_context(|| format!("opening input artifact {}", dir.display()))?;
    let version = artifact.manifest().schema_version;
    if version != SCHEMA_VERSION {
        bail!(
            "input artifact {} has schema version {version}, this build reads {SCHEMA_VERSION}",
            dir.display()
        );
    }
    Ok(artifact)
}

/// Opens a dataset artifact and returns it with the path of its `data.jsonl`.
pub fn open_dataset(dir: &Path) -> anyhow::Result<(Artifact, PathBuf)> {
    let artifact = open_input(dir, DATASET_KIND)?;
    let data = artifact
        .file(DATA_FILE)
        .with_context(|| format!("dataset artifact {} has no {DATA_FILE}", dir.display()))?;
    Ok((artifact, data))
}

/// Streams the examples of a `data.jsonl` file in chunks: `map` runs in parallel on each row
/// (with its 1-based line number), `sink` receives the results in file order. Returns the
/// number of rows read. A row that does not parse is an error (we wrote these files).
pub fn par_examples<T, F, S>(path: &Path, map: F, mut sink: S) -> anyhow::Result<u64>
where
    T: Send,
    F: Fn(u64, Example) -> anyhow::Result<T> + Sync,
    S: FnMut(T) -> anyhow::Result<()>,
{
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line_no = 0u64;
    let mut rows = 0u64;
    let mut chunk: Vec<(u64, String)> = Vec::with_capacity(CHUNK_ROWS);
    loop {
        chunk.clear();
        while chunk.len() < CHUNK_ROWS {
            let mut line = String::new();
            let n = reader
                .read_line(&mut line)
                .with_context(|| format!("reading {} line {}", path.display(), line_no + 1))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            chunk.push((line_no, line));
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<anyhow::Result<T>> = chunk
            .par_iter()
            .map(|(n, text)| {
                let ex: Example = serde_json::from_str(text)
                    .with_context(|| format!("parsing {} line {n}", path.display()))?;
                map(*n, ex)
            })
            .collect();
        for r in results {
            sink(r?)?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// Reads every example of a `data.jsonl` (for verbs that need a second pass or small inputs).
pub fn read_examples(path: &Path) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::new();
    par_examples(
        path,
        |_, ex| Ok(ex),
        |ex| {
            out.push(ex);
            Ok(())
        },
    )?;
    Ok(out)
}

/// A JSON Lines file being written inside an artifact.
pub struct JsonlWriter {
    out: BufWriter<File>,
    path: PathBuf,
    rows: u64,
}

impl JsonlWriter {
    /// Creates `rel` inside the artifact being written.
    pub fn create(writer: &ArtifactWriter, rel: &str) -> anyhow::Result<JsonlWriter> {
        let file = writer
            .create(rel)
            .with_context(|| format!("creating {rel} in {}", writer.dir().display()))?;
        Ok(JsonlWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: writer.path(rel),
            rows: 0,
        })
    }

    /// Appends one row.
    pub fn write<T: Serialize>(&mut self, row: &T) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.out, row)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.out
            .write_all(b"\n")
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.rows += 1;
        Ok(())
    }

    /// Appends one already-serialised row (without its newline).
    pub fn write_line(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.out
            .write_all(line)
            .and_then(|()| self.out.write_all(b"\n"))
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and closes the file; returns the number of rows.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.out
            .flush()
            .with_context(|| format!("flushing {}", self.path.display()))?;
        Ok(self.rows)
    }
}

/// Serialises a row to one JSON line (used inside parallel maps).
pub fn to_line<T: Serialize>(row: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(row).context("serialising a row")
}

/// Rounds to 4 decimals, so scores and shares serialise to stable, short numbers.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_examples_keeps_order_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        let mut text = String::new();
        for i in 0..(CHUNK_ROWS + 10) {
            text.push_str(&format!("{{\"id\":\"r{i}\",\"source\":\"s\"}}\n"));
            if i == 3 {
                text.push('\n');
            }
        }
        std::fs::write(&path, text).unwrap();
        let mut got = Vec::new();
        let n = par_examples(
            &path,
            |line, ex| Ok((line, ex.id)),
            |x| {
                got.push(x);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n as usize, CHUNK_ROWS + 10);
        assert_eq!(got[0], (1, "r0".to_owned()));
        assert_eq!(got[4], (6, "r4".to_owned()));
        assert_eq!(got.last().unwrap().1, format!("r{}", CHUNK_ROWS + 9));
    }

    #[test]
    fn parse_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        std::fs::write(&path, "{\"id\":\"a\",\"source\":\"s\"}\nnot json\n").unwrap();
        let err = par_examples(&path, |_, ex| Ok(ex), |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }

    #[test]
    fn round4_rounds() {
        assert_eq!(round4(0.123_456), 0.1235);
        assert_eq!(round4(1.0), 1.0);
    }
}
