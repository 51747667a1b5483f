//! `phase0_dataset synth`: the synthetic, verifiable curriculum (the seed plan's eight domains,
//! easy and hard, each task with a machine-checkable answer), written as a raw corpus artifact
//! that `ingest` normalises like user data. Deterministic for a seed: per-domain xoshiro
//! streams, an exact-duplicate guard during generation, and a MinHash-LSH pass (the
//! `cogumi-dedup` engine with its default settings) that regenerates any row that came out as
//! an accidental near-duplicate. Near-duplicates and non-English rows are planted on request.

pub mod coding;
pub mod common_sense;
pub mod foreign;
pub mod instruct;
pub mod math;
pub mod passage;
pub mod reading;
pub mod reasoning;
pub mod rng;
pub mod tool_use;
pub mod words;

mod config;
mod plant;

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, bail};
use clap::Args;
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use rayon::prelude::*;

use crate::check::Check;
use crate::io::JsonlWriter;
use crate::schema::{Difficulty, Domain, Example, Message, Role};
pub use config::{Counts, SynthConfig};
use rng::Rng;

/// Artifact kind of the corpus synth writes.
pub const RAW_KIND: &str = crate::ingest::RAW_KIND;
/// Single-turn rows (Alpaca-like fields plus domain, difficulty, answer, meta).
pub const CORPUS_FILE: &str = "corpus.jsonl";
/// Chat rows (ChatML `messages`; the tool-use tasks).
pub const CHAT_FILE: &str = "corpus_chat.jsonl";
/// Attempts to draw a task that is not an exact duplicate before giving up.
const MAX_ATTEMPTS: usize = 200;
/// Rounds of near-duplicate regeneration.
const MAX_ROUNDS: usize = 8;
/// Version of the templates, recorded in the config (and so in the artifact id). Bump it when a
/// change to a generator changes its output, so stores holding an older corpus rebuild it.
pub const GENERATOR_VERSION: u32 = 1;

/// Arguments of `phase0_dataset synth`.
#[derive(Args, Debug, Clone, Default)]
pub struct SynthArgs {
    /// Multiply every domain count by this factor (e.g. 0.02 turns the 60K seed plan into 1.2K).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Per-domain counts, e.g. `coding=100,math=50` (overrides the config).
    #[arg(long, value_name = "DOMAIN=N,...")]
    pub counts: Option<String>,
    /// Share of easy tasks in every domain (default 0.4).
    #[arg(long)]
    pub easy_share: Option<f64>,
    /// Planted near-duplicates, as a share of the base rows (default 0).
    #[arg(long)]
    pub near_dup_rate: Option<f64>,
    /// Planted non-English rows, as a share of the base rows (default 0).
    #[arg(long)]
    pub non_english_rate: Option<f64>,
}

/// One generated task, before it becomes a row.
#[derive(Debug, Clone)]
pub struct Task {
    /// System prompt (tool schemas), for chat rows.
    pub system: Option<String>,
    /// Task statement.
    pub instruction: String,
    /// Context (passages).
    pub input: String,
    /// Reference answer.
    pub output: String,
    /// How to check an answer.
    pub answer: Check,
    /// Generator family, e.g. `math:chain` (stored in `meta.template`).
    pub template: &'static str,
}

impl Task {
    /// A single-turn task without input.
    pub fn single(
        template: &'static str,
        instruction: String,
        output: String,
        answer: Check,
    ) -> Task {
        Task {
            system: None,
            instruction,
            input: String::new(),
            output,
            answer,
            template,
        }
    }

    /// The corpus row for this task.
    pub fn into_example(self, id: String, domain: Domain, difficulty: Difficulty) -> Example {
        let mut ex = Example {
            id,
            source: "synth".into(),
            domain: Some(domain),
            difficulty: Some(difficulty),
            answer: Some(self.answer),
            ..Example::default()
        };
        ex.meta.insert("template".into(), self.template.into());
        match self.system {
            Some(system) => {
                let user = if self.input.is_empty() {
                    self.instruction
                } else {
                    format!("{}\n\n{}", self.instruction, self.input)
                };
                ex.messages = Some(vec![
                    Message::new(Role::System, system),
                    Message::new(Role::User, user),
                    Message::new(Role::Assistant, self.output),
                ]);
            }
            None => {
                ex.instruction = self.instruction;
                ex.input = self.input;
                ex.output = self.output;
            }
        }
        ex
    }
}

/// The eight seed-plan domains in generation order.
pub const DOMAINS: [Domain; 8] = [
    Domain::Code,
    Domain::Math,
    Domain::ToolUse,
    Domain::Reasoning,
    Domain::Reading,
    Domain::Summarisation,
    Domain::CommonSense,
    Domain::InstructionFollowing,
];

/// Draws one task of `domain`.
pub fn task(domain: Domain, rng: &mut Rng, hard: bool) -> Task {
    match domain {
        Domain::Code => coding::generate(rng, hard),
        Domain::Math => math::generate(rng, hard),
        Domain::ToolUse => tool_use::generate(rng, hard),
        Domain::Reasoning => reasoning::generate(rng, hard),
        Domain::Reading => reading::generate_reading(rng, hard),
        Domain::Summarisation => reading::generate_summary(rng, hard),
        Domain::CommonSense => common_sense::generate(rng, hard),
        _ => instruct::generate(rng, hard),
    }
}

/// What [`generate`] made.
#[derive(Debug)]
pub struct Generated {
    /// All rows, shuffled.
    pub rows: Vec<Example>,
    /// Base rows per domain and difficulty.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// Rows regenerated because the dedup engine found them near-duplicate.
    pub regenerated: usize,
    /// Planted near-duplicates.
    pub planted_near_dups: usize,
    /// Planted non-English rows per language.
    pub planted_non_english: BTreeMap<String, usize>,
}

/// One domain's generator state: its stream and the exact-duplicate guard.
struct DomainGen {
    domain: Domain,
    rng: Rng,
    seen: HashSet<u128>,
}

impl DomainGen {
    fn draw(&mut self, hard: bool) -> anyhow::Result<Task> {
        for _ in 0..MAX_ATTEMPTS {
            let t = task(self.domain, &mut self.rng, hard);
            if !t.answer.verify(&t.output) {
                bail!(
                    "generator bug: the reference answer of a {} task fails its own check",
                    t.template
                );
            }
            let probe = t
                .clone()
                .into_example(String::new(), self.domain, Difficulty::Easy);
            let key = cogumi_dedup::exact_hash(&cogumi_dedup::normalize(&probe.dedup_text()));
            if self.seen.insert(key) {
                return Ok(t);
            }
        }
        bail!(
            "the {} templates ran out of distinct tasks; lower the count",
            self.domain
        )
    }
}

/// Generates the corpus for a resolved config and seed.
pub fn generate(cfg: &SynthConfig, seed: u64) -> anyhow::Result<Generated> {
    let _span = tracing::info_span!("synth", seed).entered();
    // Base rows per domain, in parallel; each domain has its own stream.
    let blocks: Vec<(DomainGen, Vec<Example>)> = DOMAINS
        .par_iter()
        .map(|&domain| -> anyhow::Result<(DomainGen, Vec<Example>)> {
            let n = cfg.counts.get(domain);
            let mut g = DomainGen {
                domain,
                rng: Rng::new(seed, domain.as_str()),
                seen: HashSet::new(),
            };
            let n_easy = (n as f64 * cfg.easy_share).round() as usize;
            let mut hard: Vec<bool> = (0..n).map(|i| i >= n_easy).collect();
            g.rng.shuffle(&mut hard);
            let mut rows = Vec::with_capacity(n);
            for (i, h) in hard.into_iter().enumerate() {
                let diff = if h {
                    Difficulty::Hard
                } else {
                    Difficulty::Easy
                };
                let t = g.draw(h)?;
                rows.push(t.into_example(format!("synth-{domain}-{i:06}"), domain, diff));
            }
            Ok((g, rows))
        })
        .collect::<anyhow::Result<_>>()?;
    let (mut gens, blocks): (Vec<DomainGen>, Vec<Vec<Example>>) = blocks.into_iter().unzip();
    let mut rows: Vec<Example> = blocks.concat();
    let regenerated = plant::regenerate_near_dups(&mut rows, &mut gens, MAX_ROUNDS)?;

    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in &rows {
        let d = r.domain.map_or("general", Domain::as_str).to_owned();
        let k = r.difficulty.map_or("none", Difficulty::as_str).to_owned();
        *counts.entry(d).or_default().entry(k).or_default() += 1;
    }
    let base = rows.len();
    let mut prng = Rng::new(seed, "planted");
    let near = (base as f64 * cfg.near_dup_rate).round() as usize;
    let planted_near_dups = plant::near_dups(&mut rows, base, near, &mut prng)?;
    let foreign = (base as f64 * cfg.non_english_rate).round() as usize;
    let mut planted_non_english: BTreeMap<String, usize> = BTreeMap::new();
    for k in 0..foreign {
        let lang = foreign::LANGS[k % foreign::LANGS.len()];
        let (t, domain) = foreign::generate(&mut prng, lang);
        let mut ex = t.into_example(format!("synth-foreign-{k:05}"), domain, Difficulty::Easy);
        ex.meta.insert("planted".into(), "non_english".into());
        ex.meta.insert("planted_lang".into(), lang.into());
        rows.push(ex);
        *planted_non_english.entry(lang.to_owned()).or_default() += 1;
    }
    prng.shuffle(&mut rows);
    Ok(Generated {
        rows,
        counts,
        regenerated,
        planted_near_dups,
        planted_non_english,
    })
}

/// Runs `synth` and returns the raw corpus artifact.
pub fn run(args: &SynthArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let (cfg, seed) = config::resolve(args, common)?;
    let mut config = serde_json::to_value(&cfg)?;
    config["seed"] = seed.into();
    config["generator"] = GENERATOR_VERSION.into();
    let mut writer = match crate::io::start(common, RAW_KIND, "synth", vec![], config)? {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let g = generate(&cfg, seed)?;
    let mut single = JsonlWriter::create(&writer, CORPUS_FILE)?;
    let mut chat = JsonlWriter::create(&writer, CHAT_FILE)?;
    for row in &g.rows {
        if row.messages.is_some() {
            chat.write(row)?;
        } else {
            single.write(row)?;
        }
    }
    let n_single = single.finish()?;
    let n_chat = chat.finish()?;
    tracing::info!(
        rows = g.rows.len(),
        regenerated = g.regenerated,
        "synthetic corpus written"
    );
    writer.set_metric("rows", n_single + n_chat);
    writer.set_metric(
        "base_rows",
        g.counts.values().flat_map(|m| m.values()).sum::<usize>(),
    );
    writer.set_metric("counts", &g.counts);
    writer.set_metric("near_dups_regenerated", g.regenerated);
    writer.set_metric("planted_near_dups", g.planted_near_dups);
    writer.set_metric("planted_non_english", &g.planted_non_english);
    writer.set_metric(
        "files",
        serde_json::json!({CORPUS_FILE: n_single, CHAT_FILE: n_chat}),
    );
    Ok(Some(
        writer.commit().context("committing the synth artifact")?,
    ))
}
