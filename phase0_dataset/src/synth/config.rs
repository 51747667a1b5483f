//! The `[synth]` config table and its resolution with command-line flags. Defaults are the
//! seed plan: 10K rows each for coding, math, tool use and reasoning, 5K each for reading,
//! summarisation, common sense and instruction following; 40 % easy, 60 % hard.

use anyhow::bail;
use cogumi_cli::CommonArgs;
use serde::{Deserialize, Serialize};

use super::SynthArgs;
use crate::schema::Domain;

/// Rows per domain.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Counts {
    /// Python functions with unit tests.
    pub coding: usize,
    /// Word problems with exact values.
    pub math: usize,
    /// JSON tool calls.
    pub tool_use: usize,
    /// Orderings, dates, sequences, conditionals.
    pub reasoning: usize,
    /// Passage questions with span answers.
    pub reading: usize,
    /// Summaries with key facts.
    pub summarisation: usize,
    /// Multiple choice.
    pub common_sense: usize,
    /// Checkable formatting constraints.
    pub instruction_following: usize,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            coding: 10_000,
            math: 10_000,
            tool_use: 10_000,
            reasoning: 10_000,
            reading: 5_000,
            summarisation: 5_000,
            common_sense: 5_000,
            instruction_following: 5_000,
        }
    }
}

impl Counts {
    /// Rows asked for `domain` (0 for domains synth does not make).
    pub fn get(&self, domain: Domain) -> usize {
        match domain {
            Domain::Code => self.coding,
            Domain::Math => self.math,
            Domain::ToolUse => self.tool_use,
            Domain::Reasoning => self.reasoning,
            Domain::Reading => self.reading,
            Domain::Summarisation => self.summarisation,
            Domain::CommonSense => self.common_sense,
            Domain::InstructionFollowing => self.instruction_following,
            _ => 0,
        }
    }

    fn get_mut(&mut self, domain: Domain) -> Option<&mut usize> {
        Some(match domain {
            Domain::Code => &mut self.coding,
            Domain::Math => &mut self.math,
            Domain::ToolUse => &mut self.tool_use,
            Domain::Reasoning => &mut self.reasoning,
            Domain::Reading => &mut self.reading,
            Domain::Summarisation => &mut self.summarisation,
            Domain::CommonSense => &mut self.common_sense,
            Domain::InstructionFollowing => &mut self.instruction_following,
            _ => return None,
        })
    }

    /// Sum over domains.
    pub fn total(&self) -> usize {
        super::DOMAINS.iter().map(|d| self.get(*d)).sum()
    }
}

/// The `[synth]` table (also the resolved config in the manifest, with the seed added).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed; `--seed` overrides it when given a non-zero value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Share of easy tasks per domain.
    pub easy_share: f64,
    /// Planted near-duplicates as a share of base rows.
    pub near_dup_rate: f64,
    /// Planted non-English rows as a share of base rows.
    pub non_english_rate: f64,
    /// Rows per domain.
    pub counts: Counts,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: None,
            easy_share: 0.4,
            near_dup_rate: 0.0,
            non_english_rate: 0.0,
            counts: Counts::default(),
        }
    }
}

/// Config table + flags → resolved config and seed.
pub fn resolve(args: &SynthArgs, common: &CommonArgs) -> anyhow::Result<(SynthConfig, u64)> {
    let mut cfg: SynthConfig = crate::config::section(common.config.as_deref(), "synth")?;
    if let Some(spec) = &args.counts {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, n)) = pair.split_once('=') else {
                bail!("count `{pair}` is not domain=N");
            };
            let slot = Domain::parse(name)
                .and_then(|d| cfg.counts.get_mut(d))
                .ok_or_else(|| anyhow::anyhow!("synth makes no domain `{name}`"))?;
            *slot = n
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("count `{pair}`: {e}"))?;
        }
    }
    if let Some(s) = args.scale {
        if !(s > 0.0 && s.is_finite()) {
            bail!("--scale must be positive, got {s}");
        }
        for d in super::DOMAINS {
            if let Some(slot) = cfg.counts.get_mut(d) {
                *slot = (*slot as f64 * s).round() as usize;
            }
        }
    }
    if let Some(v) = args.easy_share {
        cfg.easy_share = v;
    }
    if let Some(v) = args.near_dup_rate {
        cfg.near_dup_rate = v;
    }
    if let Some(v) = args.non_english_rate {
        cfg.non_english_rate = v;
    }
    for (name, v) in [
        ("easy_share", cfg.easy_share),
        ("near_dup_rate", cfg.near_dup_rate),
        ("non_english_rate", cfg.non_english_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("synth {name} must be in [0, 1], got {v}");
        }
    }
    if cfg.counts.total() == 0 {
        bail!("synth counts are all zero");
    }
    let seed = if common.seed != 0 {
        common.seed
    } else {
        cfg.seed.unwrap_or(0)
    };
    cfg.seed = None;
    Ok((cfg, seed))
}
