//! Pipeline presets (`configs/<preset>.toml`) and the pure planning logic of `xtask run`:
//! parsing with validation, topological order, cycle detection and phase selection with the
//! upstream closure.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// A pipeline preset: `[pipeline]` plus `[[step]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// The `[pipeline]` table.
    pub pipeline: Pipeline,
    /// The `[[step]]` tables, in file order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// The `[pipeline]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Preset name; names the run logs.
    pub name: String,
    /// One line saying what the preset is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Artifacts root passed to every step as `--out` (relative to the workspace root).
    #[serde(default = "default_artifacts")]
    pub artifacts: PathBuf,
}

fn default_artifacts() -> PathBuf {
    PathBuf::from("artifacts")
}

/// One `[[step]]`: a command that produces one artifact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique step name.
    pub name: String,
    /// Phase the step belongs to, for `cargo xtask run <phase>`.
    pub phase: String,
    /// Workspace binary to run; `xtask` runs this xtask binary itself.
    pub bin: String,
    /// Arguments before the ones the orchestrator adds (`--out`, inputs, `--plan`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Upstream steps whose artifact directories are passed to this one.
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
}

/// An upstream step: `"name"` passes `--input <dir>`, `{ step = "name", flag = "--model" }`
/// passes `--model <dir>`.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum InputSpec {
    /// Passed as `--input <dir>`.
    Step(String),
    /// Passed as `<flag> <dir>`.
    Flag {
        /// Upstream step name.
        step: String,
        /// Flag that introduces the directory, e.g. `--model`.
        flag: String,
    },
}

impl InputSpec {
    /// The upstream step's name.
    pub fn step(&self) -> &str {
        match self {
            InputSpec::Step(step) | InputSpec::Flag { step, .. } => step,
        }
    }

    /// The flag that introduces the upstream directory.
    pub fn flag(&self) -> &str {
        match self {
            InputSpec::Step(_) => "--input",
            InputSpec::Flag { flag, .. } => flag,
        }
    }
}

impl Preset {
    /// Reads and validates a preset file.
    pub fn load(path: &Path) -> Result<Preset> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading preset {}", path.display()))?;
        Preset::parse(&text).with_context(|| format!("in preset {}", path.display()))
    }

    /// Parses and validates preset text: unique, non-empty step names; inputs that name steps
    /// of this preset; flags that look like flags.
    pub fn parse(text: &str) -> Result<Preset> {
        let preset: Preset = toml::from_str(text).context("parsing TOML")?;
        if preset.pipeline.name.trim().is_empty() {
            bail!("[pipeline] name must not be empty");
        }
        let mut seen = BTreeSet::new();
        for step in &preset.steps {
            if step.name.trim().is_empty() {
                bail!("a step has an empty name");
            }
            if !seen.insert(step.name.as_str()) {
                bail!("step `{}` is defined twice", step.name);
            }
            if step.bin.trim().is_empty() {
                bail!("step `{}`: bin must not be empty", step.name);
            }
        }
        for step in &preset.steps {
            for input in &step.inputs {
                if !seen.contains(input.step()) {
                    bail!(
                        "step `{}`: input `{}` is not a step of this preset",
                        step.name,
                        input.step()
                    );
                }
                if !input.flag().starts_with("--") {
                    bail!(
                        "step `{}`: input flag `{}` must start with `--`",
                        step.name,
                        input.flag()
                    );
                }
            }
        }
        Ok(preset)
    }

    /// Index of each step by name.
    fn index(&self) -> HashMap<&str, usize> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect()
    }

    /// Upstream step indices of step `i`.
    fn upstream(&self, i: usize, index: &HashMap<&str, usize>) -> Vec<usize> {
        self.steps[i]
            .inputs
            .iter()
            .map(|input| index[input.step()])
            .collect()
    }

    /// All step indices in dependency order; among ready steps, file order wins. A cycle is an
    /// error naming the steps on it.
    pub fn topo_order(&self) -> Result<Vec<usize>> {
        let index = self.index();
        let n = self.steps.len();
        let mut downstream = vec![Vec::new(); n];
        let mut indegree: Vec<usize> = (0..n)
            .map(|i| {
                let ups = self.upstream(i, &index);
                for &up in &ups {
                    downstream[up].push(i);
                }
                ups.len()
            })
            .collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &downstream[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            let cycle = self.find_cycle(&index);
            bail!("steps form a cycle: {}", cycle.join(" -> "));
        }
        Ok(order)
    }

    /// Names along one cycle, first name repeated at the end (`a -> b -> a`).
    fn find_cycle(&self, index: &HashMap<&str, usize>) -> Vec<String> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnStack,
            Done,
        }
        fn visit(
            preset: &Preset,
            index: &HashMap<&str, usize>,
            i: usize,
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            marks[i] = Mark::OnStack;
            stack.push(i);
            for up in preset.upstream(i, index) {
                match marks[up] {
                    Mark::OnStack => {
                        let start = stack.iter().position(|&s| s == up).unwrap_or(0);
                        let mut cycle = stack[start..].to_vec();
                        cycle.push(up);
                        return Some(cycle);
                    }
                    Mark::New => {
                        if let Some(c) = visit(preset, index, up, marks, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks[i] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; self.steps.len()];
        for i in 0..self.steps.len() {
            if marks[i] == Mark::New {
                let mut stack = Vec::new();
                if let Some(mut cycle) = visit(self, index, i, &mut marks, &mut stack) {
                    // The walk follows inputs (downstream -> upstream); print data-flow order.
                    cycle.reverse();
                    return cycle
                        .into_iter()
                        .map(|i| self.steps[i].name.clone())
                        .collect();
                }
            }
        }
        Vec::new()
    }

    /// The steps to consider for `selectors` (phase names or step names; empty = all), plus
    /// every step upstream of them, in dependency order. Upstream steps whose artifacts are
    /// complete are skipped at run time, so only the missing ones do work.
    pub fn select(&self, selectors: &[String]) -> Result<Vec<usize>> {
        let order = self.topo_order()?;
        if selectors.is_empty() {
            return Ok(order);
        }
        let index = self.index();
        let mut wanted = vec![false; self.steps.len()];
        for sel in selectors {
            let mut matched = false;
            for (i, step) in self.steps.iter().enumerate() {
                if step.phase == *sel || step.name == *sel {
                    wanted[i] = true;
                    matched = true;
                }
            }
            if !matched {
                let phases: BTreeSet<&str> = self.steps.iter().map(|s| s.phase.as_str()).collect();
                let names: Vec<&str> = self.steps.iter().map(|s| s.name.as_str()).collect();
                bail!(
                    "`{sel}` is neither a phase nor a step of preset `{}` (phases: {}; steps: {})",
                    self.pipeline.name,
                    phases.into_iter().collect::<Vec<_>>().join(", "),
                    names.join(", ")
                );
            }
        }
        // Upstream closure: walk inputs from every wanted step.
        let mut todo: Vec<usize> = (0..self.steps.len()).filter(|&i| wanted[i]).collect();
        while let Some(i) = todo.pop() {
            for up in self.upstream(i, &index) {
                if !wanted[up] {
                    wanted[up] = true;
                    todo.push(up);
                }
            }
        }
        Ok(order.into_iter().filter(|&i| wanted[i]).collect())
    }
}

/// The full argument list of a step: its own args, then `--out <root>`, then one
/// `<flag> <dir>` per input, in the order of `inputs`.
pub fn step_args(step: &Step, out: &Path, input_dirs: &[PathBuf]) -> Vec<String> {
    let mut args = step.args.clone();
    args.push("--out".into());
    args.push(out.display().to_string());
    for (spec, dir) in step.inputs.iter().zip(input_dirs) {
        args.push(spec.flag().to_owned());
        args.push(dir.display().to_string());
    }
    args
}

/// A command line for humans: arguments with spaces or quotes are single-quoted.
pub fn shell_line(program: &str, args: &[String]) -> String {
    let quote = |s: &str| {
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b))
        {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(quote(program))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = r#"
[pipeline]
name = "demo"
artifacts = "out"

[[step]]
name = "fetch"
phase = "model"
bin = "xtask"
args = ["fetch-model", "smollm2"]

[[step]]
name = "synth"
phase = "phase0"
bin = "phase0_dataset"
args = ["synth", "--config", "configs/phase0/synth.toml"]

[[step]]
name = "train"
phase = "phase1"
bin = "phase1_training"
args = ["train"]
inputs = [{ step = "fetch", flag = "--model" }, "synth"]

[[step]]
name = "stats"
phase = "phase0"
bin = "phase0_dataset"
args = ["stats"]
inputs = ["synth"]

[[step]]
name = "quant"
phase = "phase2"
bin = "phase2_compression"
inputs = ["train"]
"#;

    fn names(p: &Preset, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| p.steps[i].name.clone()).collect()
    }

    fn preset_with(steps: &str) -> String {
        format!("[pipeline]\nname = \"t\"\n{steps}")
    }

    #[test]
    fn parses_demo() {
        let p = Preset::parse(DEMO).unwrap();
        assert_eq!(p.pipeline.name, "demo");
        assert_eq!(p.pipeline.artifacts, PathBuf::from("out"));
        assert_eq!(p.steps.len(), 5);
        let train = &p.steps[2];
        assert_eq!(
            train.inputs,
            vec![
                InputSpec::Flag {
                    step: "fetch".into(),
                    flag: "--model".into()
                },
                InputSpec::Step("synth".into())
            ]
        );
        assert!(p.steps[4].args.is_empty());
        // `artifacts` defaults to "artifacts".
        let p = Preset::parse("[pipeline]\nname = \"x\"\n").unwrap();
        assert_eq!(p.pipeline.artifacts, PathBuf::from("artifacts"));
        assert!(p.steps.is_empty());
    }

    #[test]
    fn rejects_bad_presets() {
        let err = |text: &str| format!("{:#}", Preset::parse(text).unwrap_err());
        let e = err(&preset_with(
            "[[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\ncolour=1\n",
        ));
        assert!(e.contains("colour"), "{e}");
        let e = err("[pipeline]\nname = \"x\"\nextra = 1\n");
        assert!(e.contains("extra"), "{e}");
        let e = err(&preset_with(
            "[[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\n[[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\n",
        ));
        assert!(e.contains("step `a` is defined twice"), "{e}");
        let e = err(&preset_with(
            "[[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"ghost\"]\n",
        ));
        assert!(e.contains("step `a`: input `ghost`"), "{e}");
        let e = err(&preset_with(
            "[[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\n[[step]]\nname=\"c\"\nphase=\"p\"\nbin=\"b\"\ninputs=[{step=\"a\", flag=\"model\"}]\n",
        ));
        assert!(e.contains("must start with `--`"), "{e}");
        let e = err(&preset_with("[[step]]\nname=\"a\"\nphase=\"p\"\n"));
        assert!(e.contains("bin"), "{e}");
    }

    #[test]
    fn topo_order_respects_inputs_and_file_order() {
        let p = Preset::parse(DEMO).unwrap();
        assert_eq!(
            names(&p, &p.topo_order().unwrap()),
            ["fetch", "synth", "train", "stats", "quant"]
        );
        // A step listed before its input still runs after it.
        let p = Preset::parse(&preset_with(
            "[[step]]\nname=\"late\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"early\"]\n\
             [[step]]\nname=\"early\"\nphase=\"p\"\nbin=\"b\"\n",
        ))
        .unwrap();
        assert_eq!(names(&p, &p.topo_order().unwrap()), ["early", "late"]);
    }

    #[test]
    fn cycles_are_named() {
        let p = Preset::parse(&preset_with(
            "[[step]]\nname=\"root\"\nphase=\"p\"\nbin=\"b\"\n\
             [[step]]\nname=\"a\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"root\", \"c\"]\n\
             [[step]]\nname=\"b\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"a\"]\n\
             [[step]]\nname=\"c\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"b\"]\n",
        ))
        .unwrap();
        let e = p.topo_order().unwrap_err().to_string();
        assert_eq!(e, "steps form a cycle: a -> b -> c -> a");
        assert!(p.select(&[]).is_err());

        let p = Preset::parse(&preset_with(
            "[[step]]\nname=\"self\"\nphase=\"p\"\nbin=\"b\"\ninputs=[\"self\"]\n",
        ))
        .unwrap();
        assert_eq!(
            p.topo_order().unwrap_err().to_string(),
            "steps form a cycle: self -> self"
        );
    }

    #[test]
    fn select_adds_upstream_closure() {
        let p = Preset::parse(DEMO).unwrap();
        let sel = |s: &[&str]| {
            let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            names(&p, &p.select(&s).unwrap())
        };
        assert_eq!(sel(&[]), ["fetch", "synth", "train", "stats", "quant"]);
        assert_eq!(sel(&["phase0"]), ["synth", "stats"]);
        assert_eq!(sel(&["phase1"]), ["fetch", "synth", "train"]);
        assert_eq!(sel(&["phase2"]), ["fetch", "synth", "train", "quant"]);
        // Step names work too, and selections union.
        assert_eq!(sel(&["stats", "model"]), ["fetch", "synth", "stats"]);
        let e = p.select(&["phase9".into()]).unwrap_err().to_string();
        assert!(e.contains("`phase9` is neither a phase nor a step"), "{e}");
        assert!(e.contains("phases: model, phase0, phase1, phase2"), "{e}");
    }

    #[test]
    fn args_and_command_lines() {
        let p = Preset::parse(DEMO).unwrap();
        let args = step_args(
            &p.steps[2],
            Path::new("/a/out"),
            &[
                PathBuf::from("/a/out/model/1"),
                PathBuf::from("/a/out/dataset/2"),
            ],
        );
        assert_eq!(
            args,
            [
                "train",
                "--out",
                "/a/out",
                "--model",
                "/a/out/model/1",
                "--input",
                "/a/out/dataset/2"
            ]
        );
        assert_eq!(
            shell_line(
                "bin",
                &["a b".into(), "it's".into(), "--x=1".into(), String::new()]
            ),
            r#"bin 'a b' 'it'\''s' --x=1 ''"#
        );
    }

    #[test]
    fn committed_presets_are_valid() {
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        for name in ["smollm2-demo.toml", "llama-3.1-8b.toml"] {
            let p = Preset::load(&configs.join(name)).unwrap();
            assert_eq!(format!("{}.toml", p.pipeline.name), name);
            assert_eq!(p.steps[0].name, "fetch-model");
            assert_eq!(p.steps[0].bin, "xtask");
            assert_eq!(p.select(&[]).unwrap().len(), p.steps.len());
        }
    }
}
