//! `phase2_compression calibrate`: fits temperature scaling (token level) and Platt scaling
//! (sequence level) on a held-out set of the model's answer confidences, reports ECE (15
//! bins) and reliability diagrams before and after, and stores the parameters for the router.
//!
//! Token level (Guo et al. 2017): at every reply position, confidence = top softmax
//! probability, correct = the top token is the reference token; one temperature `T` is fitted
//! on the NLL of half the positions (even indices) and ECE is measured on the other half.
//! Sequence level (Platt 1999): per example, score = mean reply-token log-probability; the
//! example is correct when the model's argmax reproduces the reference answer — the tokens of
//! an `exact` answer's value at its last occurrence in the reply, else the whole reply;
//! `p = σ(a·score + b)` is fitted on even examples and ECE measured on odd ones, against the
//! uncalibrated confidence `exp(score)`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_dataset::check::Check;
use cogumi_dataset::schema::Example;
use cogumi_eval::calibration::{
    Logits, ece, fit_platt, fit_temperature, reliability, reliability_svg,
};
use cogumi_tokenizer::Tokenizer;
use serde_json::{Value, json};

use crate::heldout::{self, Part, Scored};
use crate::model_io;

/// `calibrate` flags.
#[derive(Args, Debug, Clone)]
pub struct CalibrateArgs {
    /// The model to calibrate (a `model` artifact or HF directory).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Held-out data: a split artifact (validation rows), dataset artifact or JSONL file.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Examples to use (half fit, half measure).
    #[arg(long, default_value_t = 64)]
    pub examples: usize,
    /// Token positions whose full logits are kept for temperature scaling.
    #[arg(long, default_value_t = 1024)]
    pub max_tokens: usize,
    /// Longest example in tokens.
    #[arg(long, default_value_t = 512)]
    pub max_len: usize,
    /// ECE bins.
    #[arg(long, default_value_t = 15)]
    pub bins: usize,
}

/// Whether the model's argmax reproduces the reference answer of `ex` (see the module docs).
fn answer_correct(tok: &Tokenizer, ex: &Example, s: &Scored) -> bool {
    let value = match &ex.answer {
        Some(Check::Exact { value }) => match value {
            Value::String(v) => Some(v.clone()),
            other => Some(other.to_string()),
        },
        _ => None,
    };
    let span = value.and_then(|v| {
        [format!(" {v}"), v]
            .iter()
            .filter_map(|t| tok.encode(t, false).ok().filter(|ids| !ids.is_empty()))
            .filter_map(|ids| {
                (0..=s.targets.len().saturating_sub(ids.len()))
                    .rev()
                    .find(|&i| s.targets[i..i + ids.len()] == ids[..])
                    .map(|i| i..i + ids.len())
            })
            .max_by_key(|r| r.start)
    });
    let span = span.unwrap_or(0..s.targets.len());
    s.argmax[span.clone()] == s.targets[span]
}

/// Runs `calibrate`.
pub fn run(args: &CalibrateArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let source = model_io::open_model(&args.model)?;
    let (rows, data_artifact) = heldout::read_examples(&args.data, Part::HeldOut, args.examples)?;
    let mut inputs: Vec<InputRef> = source.iter().map(Artifact::as_input).collect();
    inputs.extend(data_artifact.iter().map(Artifact::as_input));
    let config = json!({
        "examples": args.examples, "max_tokens": args.max_tokens, "max_len": args.max_len,
        "bins": args.bins,
        "model_dir": if source.is_none() { json!(args.model) } else { Value::Null },
        "data": if data_artifact.is_none() { json!(args.data) } else { Value::Null },
    });
    let mut writer = match cogumi_cli::begin(
        common,
        "calibration",
        cogumi_artifact::producer!("calibrate"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let (model, tok) = model_io::load(&args.model, &common.device)?;
    let (index, encoded): (Vec<usize>, Vec<_>) = heldout::encode(&tok, &rows, args.max_len)
        .into_iter()
        .unzip();
    let bar = cogumi_cli::progress_bar(encoded.len() as u64, "calibrate: scoring");
    let (scored, logits) = heldout::score(&model, &encoded, args.max_tokens, || bar.inc(1))?;
    bar.finish_and_clear();
    let vocab = model.config().vocab_size;

    // Token level: temperature on even positions, measured on odd ones.
    let targets: Vec<u32> = scored
        .iter()
        .flat_map(|s| s.targets.iter().copied())
        .collect();
    let n_tok = logits.len() / vocab;
    let (mut fit_z, mut fit_y, mut ev_z, mut ev_y) = (vec![], vec![], vec![], vec![]);
    for i in 0..n_tok {
        let (z, y) = if i % 2 == 0 {
            (&mut fit_z, &mut fit_y)
        } else {
            (&mut ev_z, &mut ev_y)
        };
        z.extend_from_slice(&logits[i * vocab..(i + 1) * vocab]);
        y.push(targets[i]);
    }
    let fit = Logits {
        values: &fit_z,
        vocab,
        targets: &fit_y,
    };
    let ev = Logits {
        values: &ev_z,
        vocab,
        targets: &ev_y,
    };
    let t = fit_temperature(&fit);
    let (c0, ok0) = ev.confidences(1.0);
    let (c1, ok1) = ev.confidences(t);
    let token = json!({
        "positions_fit": fit_y.len(), "positions_measured": ev_y.len(),
        "temperature": t,
        "nll_before": ev.mean_nll(1.0), "nll_after": ev.mean_nll(t),
        "ece_before": ece(&c0, &ok0, args.bins), "ece_after": ece(&c1, &ok1, args.bins),
        "accuracy": ok0.iter().filter(|&&o| o).count() as f64 / ok0.len().max(1) as f64,
    });

    // Sequence level: Platt on even examples, measured on odd ones.
    let score: Vec<f64> = scored.iter().map(|s| -s.nll / s.n.max(1) as f64).collect();
    let kept: Vec<&Example> = index.iter().map(|&i| &rows[i]).collect();
    let correct: Vec<bool> = kept
        .iter()
        .zip(&scored)
        .map(|(ex, s)| answer_correct(&tok, ex, s))
        .collect();
    let pick = |parity: usize| -> (Vec<f64>, Vec<bool>) {
        score
            .iter()
            .zip(&correct)
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, (s, c))| (*s, *c))
            .unzip()
    };
    let (fs, fc) = pick(0);
    let (es, ec) = pick(1);
    let platt = fit_platt(&fs, &fc);
    let raw: Vec<f64> = es.iter().map(|s| s.exp()).collect();
    let cal: Vec<f64> = es.iter().map(|&s| platt.apply(s)).collect();
    let sequence = json!({
        "examples_fit": fs.len(), "examples_measured": es.len(),
        "score": "mean reply-token log-probability", "platt": platt,
        "ece_before": ece(&raw, &ec, args.bins), "ece_after": ece(&cal, &ec, args.bins),
        "accuracy": correct.iter().filter(|&&c| c).count() as f64 / correct.len().max(1) as f64,
    });

    let result = json!({
        "token": token, "sequence": sequence, "bins": args.bins,
        "reliability": {
            "token_before": reliability(&c0, &ok0, args.bins),
            "token_after": reliability(&c1, &ok1, args.bins),
            "sequence_before": reliability(&raw, &ec, args.bins),
            "sequence_after": reliability(&cal, &ec, args.bins),
        },
    });
    writer.write_json("calibration.json", &result)?;
    let tb = (
        reliability(&c0, &ok0, args.bins),
        reliability(&c1, &ok1, args.bins),
    );
    writer.write(
        "reliability_token.svg",
        reliability_svg(
            &format!("Token level: T = {t:.3}"),
            &[("before", &tb.0), ("after", &tb.1)],
        )
        .as_bytes(),
    )?;
    let sb = (
        reliability(&raw, &ec, args.bins),
        reliability(&cal, &ec, args.bins),
    );
    writer.write(
        "reliability_sequence.svg",
        reliability_svg(
            &format!(
                "Sequence level: Platt a = {:.3}, b = {:.3}",
                platt.a, platt.b
            ),
            &[("before", &sb.0), ("after", &sb.1)],
        )
        .as_bytes(),
    )?;
    writer.set_metric("temperature", t);
    writer.set_metric("platt_a", platt.a);
    writer.set_metric("platt_b", platt.b);
    writer.set_metric("token_ece_before", &result["token"]["ece_before"]);
    writer.set_metric("token_ece_after", &result["token"]["ece_after"]);
    writer.set_metric("sequence_ece_before", &result["sequence"]["ece_before"]);
    writer.set_metric("sequence_ece_after", &result["sequence"]["ece_after"]);
    tracing::info!(
        temperature = t,
        token_ece_before = %result["token"]["ece_before"],
        token_ece_after = %result["token"]["ece_after"],
        seq_ece_before = %result["sequence"]["ece_before"],
        seq_ece_after = %result["sequence"]["ece_after"],
        "calibrated"
    );
    Ok(Some(
        writer
            .commit()
            .context("committing the calibration artifact")?,
    ))
}
