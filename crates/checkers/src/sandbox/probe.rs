//! One-time probes, cached per process: which Python to run, and which namespaces `unshare(1)`
//! can give us on this machine.
//!
//! The interpreter is resolved to `sys.executable` once, so wrappers such as pyenv shims (a bash
//! script plus a `pyenv exec`, ~180 ms per start here) are paid for once, and the sandboxed child
//! can run with an empty environment. Isolation is probed by actually running that interpreter
//! under each `unshare` variant, strongest first; the first that exits 0 is used for every
//! sample (util-linux `unshare --user --map-root-user` needs unprivileged user namespaces, which
//! some hosts disable, e.g. Ubuntu 24.04's AppArmor default).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

/// Environment variable naming the interpreter when [`Limits::python`](super::Limits) is unset.
pub const PYTHON_ENV: &str = "COGUMI_PYTHON";

/// The interpreter used when neither `Limits::python` nor `COGUMI_PYTHON` is set.
pub const DEFAULT_PYTHON: &str = "python3";

/// A working interpreter.
#[derive(Clone, Debug)]
pub(crate) struct Python {
    /// Its `sys.executable` (or the name given, if that was empty).
    pub exe: PathBuf,
}

/// How samples are wrapped on this machine.
#[derive(Clone, Debug, Default)]
pub(crate) struct Isolation {
    /// Command prefix (`unshare ...`), empty when no namespace is available.
    pub prefix: Vec<&'static str>,
    /// A fresh, empty network namespace (only a down loopback).
    pub network: bool,
    /// A fresh PID namespace: when its first process dies, the kernel kills the rest.
    pub pid: bool,
    /// A fresh user namespace: RLIMIT_NPROC then counts only the sandbox's own tasks.
    pub user: bool,
}

/// `unshare` variants, strongest first: (arguments, network, pid, user).
const VARIANTS: &[(&[&str], bool, bool, bool)] = &[
    (
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
        ],
        true,
        true,
        true,
    ),
    // Root (CAP_SYS_ADMIN) where user namespaces are disabled.
    (
        &["unshare", "--net", "--pid", "--fork", "--kill-child"],
        true,
        true,
        false,
    ),
    (
        &["unshare", "--user", "--map-root-user", "--net"],
        true,
        false,
        true,
    ),
    (&["unshare", "--net"], true, false, false),
];

/// The interpreter name to use: explicit, else `$COGUMI_PYTHON`, else `python3`.
pub(crate) fn interpreter_name(explicit: Option<&str>) -> String {
    if let Some(name) = explicit {
        return name.to_owned();
    }
    match std::env::var(PYTHON_ENV) {
        Ok(name) if !name.trim().is_empty() => name,
        _ => DEFAULT_PYTHON.to_owned(),
    }
}

/// Resolves `name` to a working Python 3 (cached; a failure is cached too, as its message).
pub(crate) fn python(name: &str) -> Result<Python> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::result::Result<Python, String>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = cache.get(name) {
        return hit.clone().map_err(|reason| Error::PythonBroken {
            interpreter: name.to_owned(),
            reason,
        });
    }
    let probe =
        "import sys, resource; print(sys.executable); print('%d.%d' % sys.version_info[:2])";
    let out = Command::new(name)
        .args(["-I", "-c", probe])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::PythonMissing {
            interpreter: name.to_owned(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let exe = lines.next().unwrap_or("").trim();
    let version = lines.next().unwrap_or("").trim().to_owned();
    let result = if !out.status.success() {
        Err(format!(
            "probe exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    } else if !version.starts_with("3.") {
        Err(format!("need Python 3, got version {version:?}"))
    } else {
        let exe = if exe.is_empty() {
            PathBuf::from(name)
        } else {
            PathBuf::from(exe)
        };
        tracing::debug!(interpreter = name, exe = %exe.display(), %version, "resolved python");
        Ok(Python { exe })
    };
    cache.insert(name.to_owned(), result.clone());
    result.map_err(|reason| Error::PythonBroken {
        interpreter: name.to_owned(),
        reason,
    })
}

/// The strongest isolation that works with `python` here (probed once per interpreter).
pub(crate) fn isolation(python: &Python) -> Isolation {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Isolation>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hit) = cache.get(&python.exe) {
        return hit.clone();
    }
    let found = VARIANTS
        .iter()
        .find(|(args, ..)| {
            Command::new(args[0])
                .args(&args[1..])
                .arg(&python.exe)
                .args(["-I", "-c", "pass"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|&(args, network, pid, user)| Isolation {
            prefix: args.to_vec(),
            network,
            pid,
            user,
        });
    let isolation = match found {
        Some(iso) => {
            tracing::info!(
                prefix = iso.prefix.join(" "),
                "sandbox namespaces available"
            );
            iso
        }
        None => {
            tracing::warn!(
                "unshare(1) cannot create a network namespace here: sandboxed programs keep \
                 network access and only process-group kills clean up their children"
            );
            Isolation::default()
        }
    };
    cache.insert(python.exe.clone(), isolation.clone());
    isolation
}
