//! `begin`'s `--plan` and reuse behaviour and `open_input`, through the public API on a temp
//! artifacts root.

use clap::Parser;
use cogumi_artifact::{Artifact, Producer};
use cogumi_cli::{CommonArgs, Started, begin, open_input};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

fn common(out: &std::path::Path, extra: &[&str]) -> CommonArgs {
    let mut args = vec!["p", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    Cli::try_parse_from(args).unwrap().common
}

fn producer() -> Producer {
    Producer::new("cli_test", "0.1.0", "make")
}

#[test]
fn plan_new_exists_and_force() {
    let root = tempfile::tempdir().unwrap();
    let config = json!({"rows": 3});
    // --plan does no work: nothing is created.
    let c = common(root.path(), &["--plan"]);
    assert!(matches!(
        begin(&c, "dataset", producer(), vec![], &config).unwrap(),
        Started::Planned
    ));
    assert!(!root.path().join("dataset").exists());

    let c = common(root.path(), &[]);
    let Started::New(w) = begin(&c, "dataset", producer(), vec![], &config).unwrap() else {
        panic!("expected a new writer");
    };
    w.write("rows.jsonl", b"1\n2\n3\n").unwrap();
    let a = w.commit().unwrap();
    match begin(&c, "dataset", producer(), vec![], &config).unwrap() {
        Started::Exists(e) => assert_eq!(e.id(), a.id()),
        _ => panic!("expected reuse"),
    }
    let c = common(root.path(), &["--force"]);
    assert!(matches!(
        begin(&c, "dataset", producer(), vec![], &config).unwrap(),
        Started::New(_)
    ));

    // open_input checks the kind, and verifies hashes unless planning.
    let c = common(root.path(), &[]);
    open_input(&c, a.dir(), "dataset").unwrap();
    let err = format!("{:#}", open_input(&c, a.dir(), "model").unwrap_err());
    assert!(err.contains("expected \"model\""), "{err}");
    std::fs::write(a.path("rows.jsonl"), b"1\n2\n4\n").unwrap();
    let err = format!("{:#}", open_input(&c, a.dir(), "dataset").unwrap_err());
    assert!(err.contains("rows.jsonl"), "{err}");
    let planning = common(root.path(), &["--plan"]);
    let cheap = open_input(&planning, a.dir(), "dataset").unwrap();
    assert_eq!(
        cheap.as_input(),
        Artifact::open_with(a.dir(), cogumi_artifact::Verify::Sizes)
            .unwrap()
            .as_input()
    );
}
