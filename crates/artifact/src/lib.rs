//! cogumi-artifact: versioned, content-hashed phase outputs on disk (the "artifact in, artifact out"
//! contract of STYLE.md §2.2; the manifest-with-resolved-config idea follows nanoGPT's checkpoints).
//!
//! Every phase output is a directory `<root>/<kind>/<id>/` holding its files and a `manifest.json`
//! (schema version, kind, id, producer, inputs, fully resolved config, files with sha256 and size,
//! metrics, creation time). The `id` is the first 16 hex digits of the sha256 of the canonical JSON
//! of `{kind, inputs, config, producer.crate_name, producer.version}`, so running the same step on
//! the same inputs with the same config finds the finished artifact and skips the work.
//!
//! **Commit protocol.** A writer fills `<root>/<kind>/.<id>.tmp-<pid>-<nanos>/`, hashes every file,
//! writes `manifest.json` last (write + fsync) and renames the directory to `<root>/<kind>/<id>/`.
//! The rename is the commit point: a process killed at any moment leaves either nothing at the
//! final path or a complete artifact, never a partial one. Stale temporary directories of dead
//! processes are removed by the next writer of the same kind.
//!
//! ```no_run
//! use cogumi_artifact::{Begin, Producer, Store};
//! # fn main() -> cogumi_artifact::Result<()> {
//! let store = Store::new("artifacts");
//! let producer = Producer::new("phase0_dataset", "0.1.0", "synth");
//! match store.begin("dataset", producer, vec![], serde_json::json!({"rows": 200}))? {
//!     Begin::Exists(artifact) => println!("{}", artifact.dir().display()),
//!     Begin::New(mut writer) => {
//!         writer.write("data.jsonl", b"{}\n")?;
//!         writer.set_metric("rows", 1);
//!         let artifact = writer.commit()?;
//!         println!("{}", artifact.dir().display());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod artifact;
mod error;
mod hash;
mod manifest;
mod store;
mod writer;

pub use artifact::{Artifact, Verify, input_refs};
pub use error::{Error, Result};
pub use hash::sha256_file;
pub use manifest::{
    FileEntry, InputRef, MANIFEST_FILE, Manifest, Plan, Producer, SCHEMA_VERSION, canonical_json,
    compute_id,
};
pub use store::{Begin, Store};
pub use writer::ArtifactWriter;

/// Builds a [`Producer`] for the calling crate: `producer!("synth")` fills the crate name and
/// version from the caller's `CARGO_PKG_NAME` / `CARGO_PKG_VERSION`.
#[macro_export]
macro_rules! producer {
    ($subcommand:expr) => {
        $crate::Producer::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            $subcommand,
        )
    };
}
