//! `generate`: text (or ids) from a raw prompt, a chat message through the chat template, or
//! token ids; greedy or sampled; stop strings; streaming to stderr; `--json` for machines.

use std::io::Write;

use anyhow::{Result, bail};
use cogumi_cli::CommonArgs;
use cogumi_model::{GenerateConfig, Prompt, SamplingConfig, generate_text};
use cogumi_tokenizer::Message as ChatMessage;

use crate::cli::GenerateArgs;

/// Runs the subcommand. stdout: the generated text, or a JSON object with `--json`.
pub fn run(args: &GenerateArgs, common: &CommonArgs) -> Result<()> {
    let loaded = crate::model_dir::open(&args.model, &common.device)?;
    let tokenizer = loaded.tokenizer.as_ref();
    let prompt = if let Some(ids) = &args.prompt_ids {
        Prompt::Ids(ids.clone())
    } else if let Some(text) = &args.prompt {
        Prompt::Text(text.clone())
    } else if let Some(user) = &args.chat {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(ChatMessage::new("system", system));
        }
        messages.push(ChatMessage::new("user", user));
        Prompt::Chat(messages)
    } else {
        bail!("one of --prompt, --chat or --prompt-ids is required");
    };
    let mut eos_ids = loaded.model.config().eos_token_ids.clone();
    if let Some(t) = tokenizer {
        for &id in t.eos_ids() {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
    }
    if args.ignore_eos {
        eos_ids.clear();
    }
    let config = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        sampling: SamplingConfig {
            greedy: args.greedy,
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: common.seed,
        },
        eos_ids,
    };
    let mut stderr = std::io::stderr();
    let stream = args.stream;
    let result = generate_text(
        &loaded.model,
        tokenizer,
        &prompt,
        &config,
        &args.stop,
        &mut |piece| {
            if stream {
                let _ = write!(stderr, "{piece}");
                let _ = stderr.flush();
            }
        },
    )?;
    if stream {
        eprintln!();
    }
    tracing::info!(
        prompt_tokens = result.prompt_ids.len(),
        generated = result.generated_ids.len(),
        prefill_tok_s = format!("{:.1}", result.prefill_tok_s),
        decode_tok_s = format!("{:.1}", result.decode_tok_s),
        "generation finished ({:?})",
        result.finish
    );
    if common.json {
        println!("{}", serde_json::to_string(&result)?);
    } else if let Some(text) = &result.text {
        println!("{text}");
    } else {
        let ids: Vec<String> = result.generated_ids.iter().map(u32::to_string).collect();
        println!("{}", ids.join(","));
    }
    Ok(())
}
