//! `cargo xtask tidy`: mechanical house-style checks (STYLE.md §2.6, rust-analyzer's
//! `xtask/src/tidy.rs` idea): `//!` headers, file-size ceilings, no printing from library
//! crates, `#![warn(missing_docs)]` on libraries, network crates only where allowed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Hard ceiling on lines per `.rs` file; past [`SOFT_LINES`] a note suggests splitting.
const MAX_LINES: usize = 1000;
const SOFT_LINES: usize = 800;

/// Crates that talk to the network directly and the packages that would let them.
const NETWORK_CRATES: &[&str] = &[
    "reqwest",
    "ureq",
    "hyper",
    "axum",
    "hf-hub",
    "tokio-tungstenite",
];
const NETWORK_ALLOWED: &[&str] = &[
    "crates/teacher",
    "crates/runtime",
    "crates/fetch",
    "phase8_deploy",
];

/// Top-level directories holding workspace crates.
fn crate_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![root.join("xtask")];
    for entry in std::fs::read_dir(root).context("listing the workspace root")? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("phase") && path.join("Cargo.toml").exists() {
            dirs.push(path);
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        for entry in entries {
            let path = entry?.path();
            if path.join("Cargo.toml").exists() {
                dirs.push(path);
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | "fixtures" | "peers") && !name.starts_with('.') {
                rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Problems in one source file. `library` is true for `crates/*/src` files.
pub fn check_source(rel: &str, text: &str, library: bool) -> (Vec<String>, Vec<String>) {
    let (mut errors, mut notes) = (Vec::new(), Vec::new());
    if !text.trim_start().starts_with("//!") {
        errors.push(format!(
            "{rel}: must start with a `//!` line saying what it is"
        ));
    }
    let lines = text.lines().count();
    if lines > MAX_LINES {
        errors.push(format!(
            "{rel}: {lines} lines (ceiling {MAX_LINES}); split it by concern"
        ));
    } else if lines > SOFT_LINES {
        notes.push(format!("{rel}: {lines} lines; consider splitting"));
    }
    if library {
        // Test modules may print; only code before the first `#[cfg(test)]` is checked.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for mac in ["println!(", "print!(", "eprintln!(", "eprint!(", "dbg!("] {
                if contains_macro(line, mac) {
                    errors.push(format!(
                        "{rel}:{}: `{}` in a library; log through `tracing` instead",
                        n + 1,
                        mac.trim_end_matches('(')
                    ));
                    break;
                }
            }
        }
        if rel.ends_with("src/lib.rs") && !text.contains("#![warn(missing_docs)]") {
            errors.push(format!(
                "{rel}: library crates need `#![warn(missing_docs)]`"
            ));
        }
    }
    (errors, notes)
}

/// Whether `line` calls `mac` as a whole identifier (`print!(` does not match `eprint!(`).
fn contains_macro(line: &str, mac: &str) -> bool {
    line.match_indices(mac).any(|(i, _)| {
        !line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Direct network dependencies declared by a crate outside the allowed list.
pub fn check_manifest(rel_dir: &str, cargo_toml: &str) -> Vec<String> {
    if NETWORK_ALLOWED.contains(&rel_dir) {
        return Vec::new();
    }
    let Ok(doc) = cargo_toml.parse::<toml::Table>() else {
        return vec![format!("{rel_dir}/Cargo.toml: not valid TOML")];
    };
    let deps = doc.get("dependencies").and_then(|d| d.as_table());
    NETWORK_CRATES
        .iter()
        .filter(|name| deps.is_some_and(|d| d.contains_key(**name)))
        .map(|name| {
            format!(
                "{rel_dir}: depends on network crate `{name}` (only {} may)",
                NETWORK_ALLOWED.join(", ")
            )
        })
        .collect()
}

/// Runs every check over the workspace; prints problems on stderr. `Ok(false)` if any.
pub fn tidy(root: &Path) -> Result<bool> {
    let (mut errors, mut notes) = (Vec::new(), Vec::new());
    for dir in crate_dirs(root)? {
        let rel_dir = dir
            .strip_prefix(root)
            .unwrap_or(&dir)
            .to_string_lossy()
            .replace('\\', "/");
        let library = rel_dir.starts_with("crates/");
        let manifest = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        errors.extend(check_manifest(&rel_dir, &text));
        let mut files = Vec::new();
        rust_files(&dir, &mut files)?;
        for file in files {
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let in_src = rel.starts_with(&format!("{rel_dir}/src/"));
            let (e, n) = check_source(&rel, &text, library && in_src);
            errors.extend(e);
            notes.extend(n);
        }
    }
    for note in &notes {
        eprintln!("note: {note}");
    }
    for error in &errors {
        eprintln!("tidy: {error}");
    }
    if errors.is_empty() {
        eprintln!("tidy: ok");
    }
    Ok(errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_sizes_and_printing() {
        let (e, n) = check_source("a.rs", "//! A thing.\nfn f() {}\n", true);
        assert!(e.is_empty() && n.is_empty(), "{e:?}");
        let (e, _) = check_source("a.rs", "// not a doc header\n", false);
        assert_eq!(e.len(), 1, "{e:?}");
        let big = format!("//! Big.\n{}", "x\n".repeat(MAX_LINES));
        assert_eq!(check_source("b.rs", &big, false).0.len(), 1);
        let soft = format!("//! Soft.\n{}", "x\n".repeat(SOFT_LINES));
        assert_eq!(check_source("b.rs", &soft, false).1.len(), 1);

        let lib = "//! L.\nfn f() { println!(\"x\"); }\n// println!(\"in a comment\")\n#[cfg(test)]\nmod t { fn g() { println!(\"ok in tests\"); } }\n";
        let (e, _) = check_source("crates/x/src/a.rs", lib, true);
        assert_eq!(
            e,
            ["crates/x/src/a.rs:2: `println!` in a library; log through `tracing` instead"]
        );
        let (e, _) = check_source(
            "crates/x/src/a.rs",
            "//! L.\nfn f() { eprintln!(\"x\"); }\n",
            true,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("`eprintln!`"), "{e:?}");
        assert!(contains_macro("print!(\"x\")", "print!("));
        assert!(!contains_macro("eprint!(\"x\")", "print!("));
        assert!(check_source("phase0/src/main.rs", lib, false).0.is_empty());

        let (e, _) = check_source("crates/x/src/lib.rs", "//! L.\n", true);
        assert!(e[0].contains("missing_docs"), "{e:?}");
    }

    #[test]
    fn network_dependencies() {
        let toml = "[package]\nname = \"x\"\n[dependencies]\nureq = \"2\"\nserde = \"1\"\n";
        assert_eq!(check_manifest("crates/quant", toml).len(), 1);
        assert!(check_manifest("crates/fetch", toml).is_empty());
        assert!(check_manifest("crates/quant", "[dependencies]\nserde = \"1\"\n").is_empty());
    }
}
