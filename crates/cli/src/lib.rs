//! cogumi-cli: what every phase binary shares — the common flags, tracing and progress set-up,
//! TOML config loading, `--plan`, artifact output and exit codes (STYLE.md §2.2 and §2.4;
//! flattened option groups as in mistral.rs `GlobalOptions`, exit codes as in ripgrep).
//!
//! A phase binary looks like:
//! ```no_run
//! use clap::Parser;
//! use cogumi_cli::{CommonArgs, Started};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: CommonArgs,
//! }
//!
//! fn run(cli: &Cli) -> anyhow::Result<bool> {
//!     let config = serde_json::json!({"seed": cli.common.seed});
//!     let producer = cogumi_artifact::producer!("synth");
//!     let writer = match cogumi_cli::begin(&cli.common, "dataset", producer, vec![], &config)? {
//!         Started::Planned => return Ok(true),
//!         Started::Exists(artifact) => return cogumi_cli::emit_artifact(&cli.common, &artifact),
//!         Started::New(writer) => writer,
//!     };
//!     writer.write("data.jsonl", b"")?;
//!     cogumi_cli::emit_artifact(&cli.common, &writer.commit()?)
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     cogumi_cli::init_tracing(&cli.common);
//!     cogumi_cli::exit_code(run(&cli))
//! }
//! ```
#![warn(missing_docs)]

mod output;
mod tracing_setup;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ArgAction;
use serde::de::DeserializeOwned;

pub use output::{Started, begin, emit_artifact, exit_code, open_input, print_plan};
pub use tracing_setup::{init_tracing, progress_bar};

/// Log output format on stderr.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, with progress bars on a terminal.
    #[default]
    Pretty,
    /// One JSON object per event (for CI and `xtask`), no progress bars.
    Json,
}

/// Flags shared by every phase subcommand; flatten it into the CLI. All flags are global, so
/// they may follow the subcommand (`phase0_dataset synth --out artifacts --plan`).
#[derive(clap::Args, Clone, Debug)]
pub struct CommonArgs {
    /// Artifacts root; outputs go to `<out>/<kind>/<id>/`.
    #[arg(long, value_name = "DIR", default_value = "artifacts", global = true)]
    pub out: PathBuf,
    /// Phase config file (TOML).
    #[arg(long, value_name = "TOML", global = true)]
    pub config: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 0, global = true)]
    pub seed: u64,
    /// Compute device, e.g. `cpu`, `cuda:0`.
    #[arg(long, default_value = "cpu", global = true)]
    pub device: String,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less logging (-q warnings, -qq errors, -qqq nothing).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Rebuild the output even if a complete artifact with the same id exists.
    #[arg(long, global = true)]
    pub force: bool,
    /// Print a JSON summary of the output artifact instead of its path.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print `{"kind","id","path","complete"}` of the output artifact as JSON and do no work.
    #[arg(long, global = true)]
    pub plan: bool,
}

impl CommonArgs {
    /// The artifact store at `--out`, in force mode when `--force` is given.
    pub fn store(&self) -> cogumi_artifact::Store {
        cogumi_artifact::Store::new(&self.out).force(self.force)
    }

    /// The `--config` file parsed as `T`, or `T::default()` when no file is given.
    pub fn load_config<T: DeserializeOwned + Default>(&self) -> anyhow::Result<T> {
        match &self.config {
            Some(path) => load_toml_config(path),
            None => Ok(T::default()),
        }
    }

    /// The tracing level implied by `-v`/`-q`.
    pub fn log_level(&self) -> &'static str {
        match (self.verbose, self.quiet) {
            (0, 0) => "info",
            (1, _) => "debug",
            (v, _) if v >= 2 => "trace",
            (_, 1) => "warn",
            (_, 2) => "error",
            _ => "off",
        }
    }
}

/// Reads and parses a TOML config file; errors name the file and, for syntax or schema errors,
/// the line and column.
pub fn load_toml_config<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes; `None` elsewhere.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
        #[command(flatten)]
        common: CommonArgs,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Cmd {
        Synth {
            #[arg(long)]
            input: Vec<PathBuf>,
        },
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["p", "synth"]).unwrap();
        let c = &cli.common;
        assert_eq!(c.out, PathBuf::from("artifacts"));
        assert_eq!(
            (c.seed, c.device.as_str(), c.log_level()),
            (0, "cpu", "info")
        );
        assert!(!c.force && !c.json && !c.plan && c.config.is_none());
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn flags_after_subcommand() {
        let cli = Cli::try_parse_from([
            "p",
            "synth",
            "--out",
            "/tmp/a",
            "--input",
            "x",
            "--plan",
            "-vv",
            "--seed",
            "7",
            "--log-format",
            "json",
            "--force",
            "--config",
            "c.toml",
        ])
        .unwrap();
        let c = &cli.common;
        assert_eq!(c.out, PathBuf::from("/tmp/a"));
        assert!(c.plan && c.force);
        assert_eq!((c.seed, c.log_level()), (7, "trace"));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.config.as_deref(), Some(Path::new("c.toml")));
        let Cmd::Synth { input } = cli.cmd;
        assert_eq!(input, vec![PathBuf::from("x")]);
    }

    #[test]
    fn quiet_levels_and_conflict() {
        let level = |args: &[&str]| {
            let mut v = vec!["p", "synth"];
            v.extend_from_slice(args);
            Cli::try_parse_from(v).map(|c| c.common.log_level())
        };
        assert_eq!(level(&["-q"]).unwrap(), "warn");
        assert_eq!(level(&["-qq"]).unwrap(), "error");
        assert_eq!(level(&["-qqq"]).unwrap(), "off");
        assert_eq!(level(&["-v"]).unwrap(), "debug");
        assert!(level(&["-v", "-q"]).is_err());
    }

    #[derive(serde::Deserialize, Debug, Default, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        rows: u32,
        name: String,
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "rows = 3\nname = \"x\"\n").unwrap();
        let cfg: Cfg = load_toml_config(&good).unwrap();
        assert_eq!(
            cfg,
            Cfg {
                rows: 3,
                name: "x".into()
            }
        );

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "rows = 3\nname = \"x\"\ncolour = 1\n").unwrap();
        let err = format!("{:#}", load_toml_config::<Cfg>(&bad).unwrap_err());
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("colour"), "{err}");

        let missing = dir.path().join("missing.toml");
        let err = format!("{:#}", load_toml_config::<Cfg>(&missing).unwrap_err());
        assert!(
            err.contains("reading config") && err.contains("missing.toml"),
            "{err}"
        );
    }
}
