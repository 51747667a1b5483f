//! What a phase binary prints and returns: `--plan` JSON, the artifact path (or a `--json`
//! summary) on stdout, and ripgrep's exit codes (0 ok, 1 check failed, 2 error).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use cogumi_artifact::{Artifact, ArtifactWriter, Begin, InputRef, Plan, Producer, Verify};
use serde::Serialize;

use crate::CommonArgs;

/// What [`begin`] decided.
#[derive(Debug)]
pub enum Started {
    /// `--plan` was given: the plan was printed and no work must be done.
    Planned,
    /// A complete artifact with the same id exists: print it and stop.
    Exists(Artifact),
    /// Do the work, write files into the writer and commit it.
    New(ArtifactWriter),
}

impl Started {
    /// `Ok(writer)`: do the work. `Err(done)`: nothing to do — `None` after `--plan` (the plan
    /// was printed), `Some(artifact)` when a complete artifact with the same id already exists
    /// (logged as reused).
    // Matched once, right away, by the caller: boxing the artifact would only add noise.
    #[allow(clippy::result_large_err)]
    pub fn into_writer(self) -> Result<ArtifactWriter, Option<Artifact>> {
        match self {
            Started::Planned => Err(None),
            Started::Exists(artifact) => {
                tracing::info!(kind = %artifact.kind(), id = %artifact.id(), "artifact already complete; reusing it");
                Err(Some(artifact))
            }
            Started::New(writer) => Ok(writer),
        }
    }
}

/// Starts a phase output in `--out`: with `--plan`, prints the [`Plan`] JSON and returns
/// [`Started::Planned`]; otherwise reuses a complete artifact (unless `--force`) or returns a
/// writer. `config` is the fully resolved config that goes into the id and the manifest.
pub fn begin(
    common: &CommonArgs,
    kind: &str,
    producer: Producer,
    inputs: Vec<InputRef>,
    config: &impl Serialize,
) -> anyhow::Result<Started> {
    let config = serde_json::to_value(config).context("serialising the resolved config")?;
    let store = common.store();
    if common.plan {
        let plan = store
            .plan(kind, &producer, &inputs, &config)
            .with_context(|| format!("planning {kind} in {}", store.root().display()))?;
        print_plan(&plan)?;
        return Ok(Started::Planned);
    }
    let begun = store
        .begin(kind, producer, inputs, config)
        .with_context(|| format!("starting {kind} in {}", store.root().display()))?;
    Ok(match begun {
        Begin::Exists(artifact) => Started::Exists(artifact),
        Begin::New(writer) => Started::New(writer),
    })
}

/// Opens an input artifact of `kind` given by `--input <dir>`, checking the kind first. With
/// `--plan` only file sizes are checked (planning must stay cheap for multi-gigabyte models);
/// otherwise every file's sha256 is verified.
pub fn open_input(
    common: &CommonArgs,
    dir: &std::path::Path,
    kind: &str,
) -> anyhow::Result<Artifact> {
    let context = || format!("opening input {}", dir.display());
    let artifact = Artifact::open_with(dir, Verify::Sizes).with_context(context)?;
    artifact.expect_kind(kind).with_context(context)?;
    if common.plan {
        Ok(artifact)
    } else {
        Artifact::open(dir).with_context(context)
    }
}

/// Prints a plan as one JSON line on stdout.
pub fn print_plan(plan: &Plan) -> anyhow::Result<()> {
    let line = serde_json::to_string(plan).context("serialising plan")?;
    writeln!(std::io::stdout().lock(), "{line}").context("writing to stdout")
}

/// Prints the artifact's path on stdout (the last line, which `xtask run` reads), or with
/// `--json` a summary `{kind, id, path, files, bytes, metrics}`. Returns `Ok(true)` so a
/// subcommand can end with `emit_artifact(..)`.
pub fn emit_artifact(common: &CommonArgs, artifact: &Artifact) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    if common.json {
        let m = artifact.manifest();
        let summary = serde_json::json!({
            "kind": m.kind,
            "id": m.id,
            "path": artifact.dir(),
            "files": m.files.len(),
            "bytes": m.files.iter().map(|f| f.bytes).sum::<u64>(),
            "metrics": m.metrics,
        });
        writeln!(out, "{summary}")
    } else {
        writeln!(out, "{}", artifact.dir().display())
    }
    .context("writing to stdout")?;
    Ok(true)
}

/// Maps a subcommand's result to an exit code: `Ok(true)` 0, `Ok(false)` 1 (a check failed),
/// `Err` 2 after printing `error: ...` and every cause on stderr. A broken stdout pipe
/// (`| head`) exits 0, as in ripgrep.
pub fn exit_code(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            // Nothing sensible is left to do if stderr itself is gone.
            let _ = writeln!(stderr, "error: {}", format_chain(&err));
            ExitCode::from(2)
        }
    }
}

/// `top` then one indented `caused by:` line per source.
fn format_chain(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str("\n  caused by: ");
        text.push_str(&cause.to_string());
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Ok(true)), ExitCode::SUCCESS);
        assert_eq!(exit_code(Ok(false)), ExitCode::from(1));
        assert_eq!(exit_code(Err(anyhow::anyhow!("boom"))), ExitCode::from(2));
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert_eq!(exit_code(Err(pipe)), ExitCode::SUCCESS);
    }

    #[test]
    fn chain_lists_every_cause() {
        let err = anyhow::Error::new(std::io::Error::other("disk full"))
            .context("writing shard 3")
            .context("running synth");
        assert_eq!(
            format_chain(&err),
            "running synth\n  caused by: writing shard 3\n  caused by: disk full"
        );
    }
}
