//! `phase2_compression prune`: magnitude, Wanda or SparseGPT pruning (unstructured or N:M) of
//! every decoder projection, and structured pruning of MLP channels that yields a smaller dense
//! model with a standard Llama config; reports sparsity per tensor, perplexity and argmax
//! agreement before/after, and the real size of the result's Q4_K_M GGUF.
//!
//! Calibration is sequential, as in the SparseGPT and Wanda reference code: the calibration
//! rows are embedded once, then each layer's projection inputs are observed, the layer is
//! pruned, and the pruned layer is run to produce the next layer's input. The LM head and the
//! embeddings are never pruned. GGUF and llama.cpp store no sparsity, so only the structured
//! mode shrinks the shipped file; the report says so with the measured sizes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_compress::prune::{channel_scores, keep_channels};
use cogumi_compress::{
    FeatureNorms, Hessian, Pattern, SparseGptConfig, apply_mask, magnitude_mask, sparsegpt,
    sparsity, wanda_mask,
};
use cogumi_model::{Llama, Proj, Site};
use serde_json::{Value, json};

use crate::heldout::{self, Part};
use crate::{model_io, structured};

/// Unstructured / N:M method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Method {
    /// No unstructured pruning (structured `--mlp-keep` only).
    None,
    /// |W|, one threshold per layer.
    Magnitude,
    /// |W|·‖X‖₂ per output row (Sun et al. 2023).
    Wanda,
    /// OBS with the calibration Hessian (Frantar & Alistarh 2023).
    Sparsegpt,
}

/// `prune` flags.
#[derive(Args, Debug, Clone)]
pub struct PruneArgs {
    /// The model (a `model` artifact or HF directory).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Data: a split artifact (train rows calibrate, validation rows measure) or JSONL file.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Pruning method for the projections.
    #[arg(long, value_enum, default_value_t = Method::Wanda)]
    pub method: Method,
    /// Fraction of each projection's weights removed (unstructured).
    #[arg(long, default_value_t = 0.5)]
    pub sparsity: f64,
    /// N:M pattern instead, e.g. `2:4`.
    #[arg(long, value_name = "N:M")]
    pub nm: Option<String>,
    /// Keep this fraction of MLP channels (the same count in every layer); 1 = no structured
    /// pruning.
    #[arg(long, default_value_t = 1.0)]
    pub mlp_keep: f64,
    /// Calibration sequences.
    #[arg(long, default_value_t = 32)]
    pub calib_rows: usize,
    /// Tokens per calibration sequence.
    #[arg(long, default_value_t = 256)]
    pub calib_len: usize,
    /// Held-out rows measured before and after.
    #[arg(long, default_value_t = 32)]
    pub heldout: usize,
    /// SparseGPT dampening (fraction of the mean Hessian diagonal).
    #[arg(long, default_value_t = 0.01)]
    pub percdamp: f64,
}

fn pattern(args: &PruneArgs) -> Result<Pattern> {
    match &args.nm {
        Some(s) => {
            let (n, m) = s
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .with_context(|| format!("--nm {s:?}: expected N:M such as 2:4"))?;
            if n == 0 || n >= m {
                bail!("--nm {s}: need 0 < N < M");
            }
            Ok(Pattern::NM { n, m })
        }
        None if (0.0..1.0).contains(&args.sparsity) => Ok(Pattern::Unstructured(args.sparsity)),
        None => bail!("--sparsity {} must be in [0, 1)", args.sparsity),
    }
}

/// Per-site statistics of one layer's calibration pass.
struct SiteStats {
    norms: BTreeMap<&'static str, FeatureNorms>,
    hess: BTreeMap<&'static str, Hessian>,
}

fn site_key(s: Site) -> &'static str {
    match s {
        Site::Attn => "attn",
        Site::O => "o",
        Site::Mlp => "mlp",
        Site::Down => "down",
    }
}

/// Runs `prune`.
pub fn run(args: &PruneArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let pat = pattern(args)?;
    if !(0.0 < args.mlp_keep && args.mlp_keep <= 1.0) {
        bail!("--mlp-keep {} must be in (0, 1]", args.mlp_keep);
    }
    let source = model_io::open_model(&args.model)?;
    let (calib_rows, data_art) = heldout::read_examples(&args.data, Part::Train, usize::MAX)?;
    let (held_rows, _) = heldout::read_examples(&args.data, Part::HeldOut, args.heldout)?;
    let inputs: Vec<InputRef> = source
        .iter()
        .chain(data_art.iter())
        .map(Artifact::as_input)
        .collect();
    let config = json!({
        "method": args.method, "pattern": format!("{pat:?}"), "mlp_keep": args.mlp_keep,
        "calib_rows": args.calib_rows, "calib_len": args.calib_len, "heldout": args.heldout,
        "percdamp": args.percdamp,
        "model_dir": if source.is_none() { json!(args.model) } else { Value::Null },
        "data": if data_art.is_none() { json!(args.data) } else { Value::Null },
    });
    let mut writer = match cogumi_cli::begin(
        common,
        "model",
        cogumi_artifact::producer!("prune"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };

    let (mut model, tok) = model_io::load(&args.model, &common.device)?;
    let held: Vec<_> = heldout::encode(&tok, &held_rows, 512)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let (before, _) = heldout::score(&model, &held, 0, || {})?;
    // Calibration: rendered rows concatenated and cut into fixed-length sequences.
    let ids: Vec<u32> = heldout::encode(&tok, &calib_rows, 4096)
        .into_iter()
        .flat_map(|(_, e)| e.ids)
        .take(args.calib_rows * args.calib_len)
        .collect();
    let rows = ids.len() / args.calib_len;
    if rows == 0 {
        bail!(
            "not enough calibration tokens for one sequence of {}",
            args.calib_len
        );
    }
    let ids = &ids[..rows * args.calib_len];
    let c = model.config().clone();
    let keep_n = ((c.intermediate_size as f64 * args.mlp_keep).round() as usize).max(1);
    let mut kept_channels: Vec<Vec<usize>> = Vec::new();
    let mut tensor_sparsity = BTreeMap::new();

    let mut x = model.calibrator()?.embed(ids);
    let bar = cogumi_cli::progress_bar(
        c.num_hidden_layers as u64,
        &format!("prune {:?}", args.method),
    );
    for l in 0..c.num_hidden_layers {
        let mut st = SiteStats {
            norms: BTreeMap::new(),
            hess: BTreeMap::new(),
        };
        {
            let cal = model.calibrator()?;
            let mut probe = x.clone();
            let want_h = args.method == Method::Sparsegpt;
            cal.layer(l, &mut probe, rows, args.calib_len, &mut |site, input| {
                let width = input.len() / (rows * args.calib_len);
                let k = site_key(site);
                st.norms
                    .entry(k)
                    .or_insert_with(|| FeatureNorms::new(width))
                    .add(input);
                if want_h {
                    st.hess
                        .entry(k)
                        .or_insert_with(|| Hessian::new(width))
                        .add(input);
                }
            });
        }
        prune_layer(&mut model, l, args, pat, &st, &mut tensor_sparsity)?;
        if keep_n < c.intermediate_size {
            let down = model.proj_weight(l, Proj::Down)?;
            let scores = channel_scores(
                &down,
                c.hidden_size,
                c.intermediate_size,
                &st.norms["down"].norms(),
            )?;
            let keep = keep_channels(&scores, keep_n);
            structured::zero_dropped(&mut model, l, &keep)?;
            kept_channels.push(keep);
        }
        model
            .calibrator()?
            .layer(l, &mut x, rows, args.calib_len, &mut |_, _| {});
        bar.inc(1);
    }
    bar.finish_and_clear();

    let (after, _) = heldout::score(&model, &held, 0, || {})?;
    cogumi_model::save(&model, writer.dir()).context("saving the pruned model")?;
    if !kept_channels.is_empty() {
        structured::slice_checkpoint(writer.dir(), &kept_channels)?;
    }
    model_io::copy_side_files(&args.model, writer.dir())?;
    // The real size of what ships: a Q4_K_M GGUF of the result (GGUF stores no sparsity).
    let tmp = writer.path("size-probe.gguf");
    let gguf = cogumi_gguf::export_hf(
        writer.dir(),
        &tmp,
        &cogumi_gguf::ExportOptions::new(cogumi_gguf::FileType::Q4KM),
        |_, _| {},
    )?;
    std::fs::remove_file(&tmp).ok();

    let overall = if tensor_sparsity.is_empty() {
        0.0
    } else {
        tensor_sparsity.values().sum::<f64>() / tensor_sparsity.len() as f64
    };
    let (p0, p1) = (heldout::perplexity(&before), heldout::perplexity(&after));
    writer.set_metric("stage", "prune");
    writer.set_metric("method", args.method);
    writer.set_metric("pattern", format!("{pat:?}"));
    writer.set_metric("sparsity", overall);
    writer.set_metric("tensor_sparsity", &tensor_sparsity);
    writer.set_metric(
        "intermediate_size",
        if kept_channels.is_empty() {
            c.intermediate_size
        } else {
            keep_n
        },
    );
    writer.set_metric("perplexity_before", p0);
    writer.set_metric("perplexity_after", p1);
    writer.set_metric("agreement", heldout::agreement(&after, &before));
    writer.set_metric("gguf_q4_k_m_bytes", gguf.bytes);
    writer.set_metric("calibration_tokens", rows * args.calib_len);
    tracing::info!(
        p0,
        p1,
        sparsity = overall,
        gguf_bytes = gguf.bytes,
        "pruned"
    );
    Ok(Some(writer.commit()?))
}

fn prune_layer(
    model: &mut Llama,
    l: usize,
    args: &PruneArgs,
    pat: Pattern,
    st: &SiteStats,
    out: &mut BTreeMap<String, f64>,
) -> Result<()> {
    if args.method == Method::None {
        return Ok(());
    }
    for p in Proj::ALL {
        let mut w = model.proj_weight(l, p)?;
        let k = site_key(p.site());
        let cols = st.norms[k].norms().len();
        let rows = w.len() / cols;
        match args.method {
            Method::None => {}
            Method::Magnitude => {
                let m = magnitude_mask(&w, rows, cols, pat)?;
                apply_mask(&mut w, &m);
            }
            Method::Wanda => {
                let m = wanda_mask(&w, rows, cols, &st.norms[k].norms(), pat)?;
                apply_mask(&mut w, &m);
            }
            Method::Sparsegpt => {
                let cfg = SparseGptConfig {
                    pattern: pat,
                    blocksize: 128,
                    percdamp: args.percdamp,
                };
                sparsegpt(&mut w, rows, cols, &st.hess[k], &cfg)?;
            }
        }
        out.insert(
            format!("model.layers.{l}.{}.weight", p.hf_name()),
            sparsity(&w),
        );
        model.set_proj_weight(l, p, &w)?;
    }
    Ok(())
}
