//! Quality gates: a TOML list of thresholds on a domain's mean primary metric, one task's
//! metric, or a measure (model size, speed, memory), checked against a run's results — the
//! seed plan's "code > 72 %, reasoning > 70 %, automation > 75 %, size < 1 GB, > 50 tok/s".

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::results::RunResults;

/// Measures outside task metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Bytes of weights on disk.
    SizeBytes,
    /// Decode tokens per second.
    DecodeTokS,
    /// Prefill tokens per second.
    PrefillTokS,
    /// Time to first token, milliseconds.
    TtftMs,
    /// Peak resident memory, bytes.
    PeakRssBytes,
}

/// One threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Shown in the verdict.
    pub name: String,
    /// Mean primary metric over this domain's tasks…
    #[serde(default)]
    pub domain: Option<String>,
    /// …or this task's metric (its primary metric unless `metric` is set)…
    #[serde(default)]
    pub task: Option<String>,
    /// Metric of `task`.
    #[serde(default)]
    pub metric: Option<String>,
    /// …or a measure.
    #[serde(default)]
    pub measure: Option<Measure>,
    /// Lowest passing value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest passing value.
    #[serde(default)]
    pub max: Option<f64>,
    /// Skip (instead of fail) when the run did not measure it.
    #[serde(default)]
    pub optional: bool,
}

/// A gates file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// The thresholds, checked in order.
    pub gate: Vec<Gate>,
}

/// How one gate went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The gate's name.
    pub name: String,
    /// The measured value (None when not measured).
    pub value: Option<f64>,
    /// `pass`, `fail` or `skipped`.
    pub status: Status,
    /// Human-readable explanation (`0.41 < min 0.72`).
    pub reason: String,
}

/// A gate's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within bounds.
    Pass,
    /// Out of bounds or not measured.
    Fail,
    /// Optional and not measured.
    Skipped,
}

impl Gates {
    /// Reads and validates a gates file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses gates; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let g: Gates = toml::from_str(text).map_err(|e| Error::Parse {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
        for gate in &g.gate {
            let targets = [
                gate.domain.is_some(),
                gate.task.is_some(),
                gate.measure.is_some(),
            ];
            if targets.iter().filter(|t| **t).count() != 1 {
                return Err(Error::Gate {
                    reason: format!(
                        "gate `{}` needs exactly one of domain, task, measure",
                        gate.name
                    ),
                });
            }
            if gate.min.is_none() && gate.max.is_none() {
                return Err(Error::Gate {
                    reason: format!("gate `{}` has neither min nor max", gate.name),
                });
            }
            if gate.metric.is_some() && gate.task.is_none() {
                return Err(Error::Gate {
                    reason: format!("gate `{}`: metric needs task", gate.name),
                });
            }
        }
        Ok(g)
    }

    /// Checks every gate against `results`.
    pub fn check(&self, results: &RunResults) -> Vec<Verdict> {
        self.gate.iter().map(|g| g.check(results)).collect()
    }
}

impl Gate {
    fn value(&self, r: &RunResults) -> Option<f64> {
        if let Some(d) = &self.domain {
            return r.domain_mean(d);
        }
        if let Some(t) = &self.task {
            let task = r.task(t)?;
            let metric = self.metric.as_deref().unwrap_or(&task.primary_metric);
            return task.metrics.get(metric).map(|m| m.value);
        }
        let speed = r.speed.as_ref();
        match self.measure? {
            Measure::SizeBytes => r.model.size_bytes.map(|b| b as f64),
            Measure::DecodeTokS => speed.map(|s| s.decode_tok_s),
            Measure::PrefillTokS => speed.map(|s| s.prefill_tok_s),
            Measure::TtftMs => speed.map(|s| s.ttft_ms),
            Measure::PeakRssBytes => speed.and_then(|s| s.peak_rss_bytes).map(|b| b as f64),
        }
    }

    /// Checks this gate.
    pub fn check(&self, r: &RunResults) -> Verdict {
        let value = self.value(r).filter(|v| !v.is_nan());
        let (status, reason) = match value {
            None if self.optional => (Status::Skipped, "not measured (optional)".to_string()),
            None => (Status::Fail, "not measured by this run".to_string()),
            Some(v) => match (self.min, self.max) {
                (Some(lo), _) if v < lo => (Status::Fail, format!("{v:.4} < min {lo}")),
                (_, Some(hi)) if v > hi => (Status::Fail, format!("{v:.4} > max {hi}")),
                _ => (Status::Pass, format!("{v:.4} within bounds")),
            },
        };
        Verdict {
            name: self.name.clone(),
            value,
            status,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{MetricValue, ModelInfo, TaskResult};
    use std::collections::BTreeMap;

    fn results() -> RunResults {
        let task = |name: &str, domain: &str, v: f64| TaskResult {
            task: name.into(),
            domain: domain.into(),
            primary_metric: "acc".into(),
            samples: 10,
            num_fewshot: 0,
            metrics: BTreeMap::from([(
                "acc".into(),
                MetricValue {
                    value: v,
                    stderr: None,
                },
            )]),
            seconds: 1.0,
        };
        RunResults {
            schema_version: 1,
            model: ModelInfo {
                name: "m".into(),
                variant: "base".into(),
                artifact_id: None,
                size_bytes: Some(500),
                parameters: None,
            },
            backend: "test".into(),
            tasks: vec![
                task("a", "reasoning", 0.6),
                task("b", "reasoning", 0.8),
                task("c", "code", 0.1),
            ],
            speed: None,
        }
    }

    #[test]
    fn gates_pass_fail_and_name_what_is_missing() {
        let text = r#"
            [[gate]]
            name = "reasoning"
            domain = "reasoning"
            min = 0.7
            [[gate]]
            name = "code"
            domain = "code"
            min = 0.72
            [[gate]]
            name = "size"
            measure = "size_bytes"
            max = 1000
            [[gate]]
            name = "speed"
            measure = "decode_tok_s"
            min = 50
            [[gate]]
            name = "speed-opt"
            measure = "decode_tok_s"
            min = 50
            optional = true
        "#;
        let v = Gates::from_toml(text, Path::new("g.toml"))
            .unwrap()
            .check(&results());
        let s: Vec<Status> = v.iter().map(|v| v.status).collect();
        // reasoning mean (0.6 + 0.8) / 2 = 0.7 passes at min 0.7; code 0.1 fails; speed unmeasured.
        assert_eq!(
            s,
            [
                Status::Pass,
                Status::Fail,
                Status::Pass,
                Status::Fail,
                Status::Skipped
            ]
        );
        assert!((v[0].value.unwrap() - 0.7).abs() < 1e-12);
        assert!(v[3].reason.contains("not measured"));
    }

    #[test]
    fn ambiguous_gates_are_rejected() {
        let e = Gates::from_toml(
            "[[gate]]\nname='x'\ndomain='a'\ntask='b'\nmin=1\n",
            Path::new("g.toml"),
        );
        assert!(e.unwrap_err().to_string().contains("exactly one"));
        let e = Gates::from_toml("[[gate]]\nname='x'\ndomain='a'\n", Path::new("g.toml"));
        assert!(e.unwrap_err().to_string().contains("neither min nor max"));
    }
}
