//! The phase 0 TOML config (`--config`): one optional table per verb (`[ingest]`, `[lang]`,
//! `[dedup]`, `[domains]`, `[synth]`, `[stats]`, `[split]`). Each verb reads its own table with
//! `deny_unknown_fields`; command-line flags override it; the resolved result goes into the
//! artifact manifest (STYLE.md §2.5).

use std::path::Path;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// The tables a phase 0 config may contain.
pub const SECTIONS: [&str; 7] = [
    "ingest", "lang", "dedup", "domains", "synth", "stats", "split",
];

/// Reads the `[section]` table of the config file, or the default when there is no file or no
/// such table. Unknown top-level tables are an error, so typos do not pass silently.
pub fn section<T: DeserializeOwned + Default>(
    path: Option<&Path>,
    name: &str,
) -> anyhow::Result<T> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    section_from_str(&text, name).with_context(|| format!("in config {}", path.display()))
}

/// [`section`] on TOML text.
pub fn section_from_str<T: DeserializeOwned + Default>(
    text: &str,
    name: &str,
) -> anyhow::Result<T> {
    let mut table: toml::Table = toml::from_str(text).context("parsing toml")?;
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            bail!(
                "unknown table `[{key}]` (phase 0 configs have {})",
                SECTIONS.join(", ")
            );
        }
    }
    match table.remove(name) {
        None => Ok(T::default()),
        Some(value) => value
            .try_into()
            .with_context(|| format!("reading table `[{name}]`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        threshold: f64,
        name: Option<String>,
    }

    #[test]
    fn reads_only_its_table() {
        let text = "[lang]\nthreshold = 0.7\n[dedup]\nanything = 1\n";
        let d: Demo = section_from_str(text, "lang").unwrap();
        assert_eq!(d.threshold, 0.7);
        let d: Demo = section_from_str(text, "split").unwrap();
        assert_eq!(d, Demo::default());
    }

    #[test]
    fn unknown_tables_and_fields_fail() {
        let err = section_from_str::<Demo>("[lnag]\n", "lang").unwrap_err();
        assert!(err.to_string().contains("unknown table `[lnag]`"));
        let err = section_from_str::<Demo>("[lang]\ntreshold = 1.0\n", "lang").unwrap_err();
        assert!(format!("{err:#}").contains("treshold"), "{err:#}");
    }
}
