//! [`Tokenizer`]: `tokenizer.json` through the `tokenizers` crate plus what transformers 4.57's
//! `PreTrainedTokenizerFast` adds on top — special tokens and chat templates from
//! `tokenizer_config.json`, `clean_up_tokenization_spaces` on decode, the BOS/EOS post-processor
//! rebuilt from `add_bos_token`/`add_eos_token` for the classes that do so (`LlamaTokenizerFast`
//! `update_post_processor` and its copies), and the EOS ids of `generation_config.json`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenizers::processors::template::TemplateProcessing;

use crate::chat::{ChatRequest, ChatTemplate, Message, SpecialTokens};
use crate::config::{GenerationConfig, TokenizerConfig};
use crate::error::{Error, Result};
use crate::stream::DecodeStream;

/// Tokenizer classes whose transformers implementation replaces `tokenizer.json`'s post-processor
/// with one built from `add_bos_token` / `add_eos_token`, with their defaults for those flags.
const REBUILT_POST_PROCESSOR: [(&str, bool, bool); 5] = [
    ("LlamaTokenizer", true, false),
    ("CodeLlamaTokenizer", true, false),
    ("GemmaTokenizer", true, false),
    ("CohereTokenizer", true, false),
    ("GPTNeoXTokenizer", false, false),
];

/// A chat template, or why it failed to compile (kept so that a tokenizer whose template
/// minijinja cannot parse still encodes and decodes).
#[derive(Clone, Debug)]
enum Compiled {
    Ok(Box<ChatTemplate>),
    Failed {
        name: String,
        line: Option<usize>,
        message: String,
    },
}

#[derive(Debug)]
struct Inner {
    tokenizer: tokenizers::Tokenizer,
    config: TokenizerConfig,
    generation: GenerationConfig,
    templates: Vec<(String, Compiled)>,
    bos_id: Option<u32>,
    eos_ids: Vec<u32>,
    pad_id: Option<u32>,
    special_ids: HashSet<u32>,
    origin: PathBuf,
}

/// A text tokenizer with its chat templates. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct Tokenizer {
    inner: Arc<Inner>,
}

impl Tokenizer {
    /// Loads a HF tokenizer directory: `tokenizer.json` (required), `tokenizer_config.json`,
    /// `special_tokens_map.json`, `chat_template.jinja`, `additional_chat_templates/*.jinja` and
    /// `generation_config.json` (all optional).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let _span = tracing::debug_span!("tokenizer.load", dir = %dir.display()).entered();
        let path = dir.join("tokenizer.json");
        let json = crate::config::read_text(&path)?;
        let tokenizer: tokenizers::Tokenizer =
            json.parse()
                .map_err(|e: Box<dyn std::error::Error + Send + Sync>| Error::Load {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        let config = TokenizerConfig::from_dir(dir)?;
        let gen_path = dir.join("generation_config.json");
        let generation = if gen_path.exists() {
            GenerationConfig::from_file(&gen_path)?
        } else {
            GenerationConfig::default()
        };
        Self::from_parts(tokenizer, config, generation, dir)
    }

    /// Builds a tokenizer from already-loaded parts (e.g. a vocabulary read from a GGUF file);
    /// `origin` names it in errors.
    pub fn from_parts(
        mut tokenizer: tokenizers::Tokenizer,
        config: TokenizerConfig,
        generation: GenerationConfig,
        origin: impl Into<PathBuf>,
    ) -> Result<Self> {
        let origin = origin.into();
        let special = &config.special_tokens;
        let id_of =
            |token: &Option<String>| token.as_deref().and_then(|t| tokenizer.token_to_id(t));
        let bos_id = id_of(&special.bos).or(generation.bos_token_id);
        let pad_id = id_of(&special.pad).or(generation.pad_token_id);
        let mut eos_ids: Vec<u32> = id_of(&special.eos).into_iter().collect();
        for &id in &generation.eos_token_ids {
            if !eos_ids.contains(&id) {
                eos_ids.push(id);
            }
        }
        if let Some(pp) = rebuilt_post_processor(&tokenizer, &config, &origin)? {
            tokenizer.with_post_processor(Some(pp));
        }
        let special_ids = tokenizer
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        let templates = config
            .chat_templates
            .iter()
            .zip(&config.chat_template_sources)
            .map(|((name, source), file)| {
                let compiled = match ChatTemplate::named(file.clone(), source.clone()) {
                    Ok(t) => Compiled::Ok(Box::new(t.with_special_tokens(config.special_tokens.clone()))),
                    Err(Error::TemplateSyntax { name, line, message }) => {
                        tracing::warn!(template = %name, ?line, %message, "chat template does not compile");
                        Compiled::Failed { name, line, message }
                    }
                    Err(other) => return Err(other),
                };
                Ok((name.clone(), compiled))
            })
            .collect::<Result<Vec<_>>>()?;
        tracing::debug!(
            vocab = tokenizer.get_vocab_size(true),
            ?bos_id,
            ?eos_ids,
            templates = templates.len(),
            "tokenizer loaded"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                tokenizer,
                config,
                generation,
                templates,
                bos_id,
                eos_ids,
                pad_id,
                special_ids,
                origin,
            }),
        })
    }

    /// Token ids of `text`. `add_special_tokens` applies the post-processor (BOS for Llama).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .tokenizer
            .encode_fast(text, add_special_tokens)
            .map_err(|e| Error::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Token ids of each text, encoded in parallel.
    pub fn encode_batch<S: AsRef<str>>(
        &self,
        texts: &[S],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self
            .inner
            .tokenizer
            .encode_batch_fast(inputs, add_special_tokens)
            .map_err(|e| Error::Encode(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Text of `ids` as transformers' `decode` gives it: the decoder's output, then the
    /// `clean_up_tokenization_spaces` rewrite if the config asks for it.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let text = self.decode_raw(ids, skip_special_tokens)?;
        Ok(if self.inner.config.clean_up_tokenization_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        })
    }

    /// Text of `ids` straight from the `tokenizers` decoder (no clean-up).
    pub fn decode_raw(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .tokenizer
            .decode(ids, skip_special_tokens)
            .map_err(|e| Error::Decode(e.to_string()))
    }

    /// A streaming detokeniser (see [`DecodeStream`]).
    pub fn decode_stream(&self, skip_special_tokens: bool) -> DecodeStream {
        DecodeStream::new(self.clone(), skip_special_tokens)
    }

    /// Id of a token string (vocabulary or added token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.tokenizer.token_to_id(token)
    }

    /// Token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.tokenizer.id_to_token(id)
    }

    /// Number of distinct ids, added tokens included (transformers' `len(tokenizer)`). The model's
    /// embedding may be larger (padded).
    pub fn vocab_size(&self) -> usize {
        self.inner.tokenizer.get_vocab_size(true)
    }

    /// BOS id: `bos_token` of the config, else `generation_config.json`'s `bos_token_id`.
    pub fn bos_id(&self) -> Option<u32> {
        self.inner.bos_id
    }

    /// PAD id, when there is one.
    pub fn pad_id(&self) -> Option<u32> {
        self.inner.pad_id
    }

    /// Every id that ends generation: the config's `eos_token` first, then the
    /// `generation_config.json` ids (Llama-3.1: `<|eot_id|>`, `<|end_of_text|>`, `<|eom_id|>`).
    pub fn eos_ids(&self) -> &[u32] {
        &self.inner.eos_ids
    }

    /// Whether `id` ends generation.
    pub fn is_eos(&self, id: u32) -> bool {
        self.inner.eos_ids.contains(&id)
    }

    /// Whether `id` is an added token marked special (dropped by `skip_special_tokens`).
    pub fn is_special(&self, id: u32) -> bool {
        self.inner.special_ids.contains(&id)
    }

    /// The special-token strings (`bos_token`, `eos_token`, ...).
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.inner.config.special_tokens
    }

    /// `model_max_length`, unless absent or "unbounded".
    pub fn model_max_length(&self) -> Option<u64> {
        self.inner.config.model_max_length
    }

    /// Everything read from `tokenizer_config.json` and companions.
    pub fn config(&self) -> &TokenizerConfig {
        &self.inner.config
    }

    /// What `generation_config.json` declared.
    pub fn generation_config(&self) -> &GenerationConfig {
        &self.inner.generation
    }

    /// The underlying `tokenizers` tokenizer (post-processor already adjusted).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner.tokenizer
    }

    /// Names of the chat templates ("default" for a single one).
    pub fn chat_template_names(&self) -> Vec<&str> {
        self.inner
            .templates
            .iter()
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// A chat template chosen as transformers' `get_chat_template` does: by `name` if given;
    /// otherwise "tool_use" when `with_tools` and it exists, else "default".
    pub fn chat_template(&self, name: Option<&str>, with_tools: bool) -> Result<&ChatTemplate> {
        let templates = &self.inner.templates;
        if templates.is_empty() {
            return Err(Error::NoChatTemplate {
                dir: self.inner.origin.clone(),
            });
        }
        let find = |n: &str| templates.iter().find(|(k, _)| k == n).map(|(_, t)| t);
        let chosen = match name {
            Some(n) => find(n).ok_or(n),
            None if with_tools => find("tool_use")
                .or_else(|| find("default"))
                .ok_or("default"),
            None => find("default").ok_or("default"),
        };
        match chosen {
            Ok(Compiled::Ok(t)) => Ok(t),
            Ok(Compiled::Failed {
                name,
                line,
                message,
            }) => Err(Error::TemplateSyntax {
                name: name.clone(),
                line: *line,
                message: message.clone(),
            }),
            Err(missing) => Err(Error::UnknownChatTemplate {
                name: missing.to_string(),
                available: templates.iter().map(|(n, _)| n.clone()).collect(),
            }),
        }
    }

    /// Renders the default chat template (transformers' `apply_chat_template(messages,
    /// tokenize=False, add_generation_prompt=...)`).
    pub fn apply_chat_template(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.render_chat(&ChatRequest::new(messages.to_vec(), add_generation_prompt))
    }

    /// [`Self::apply_chat_template`] then encoding without adding special tokens again, as
    /// transformers does with `tokenize=True` (the template writes BOS itself).
    pub fn apply_chat_template_ids(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        self.encode(
            &self.apply_chat_template(messages, add_generation_prompt)?,
            false,
        )
    }

    /// Renders a full request (tools, documents, extra variables); the "tool_use" template is
    /// chosen when tools are given and it exists.
    pub fn render_chat(&self, request: &ChatRequest) -> Result<String> {
        self.chat_template(None, request.tools.is_some())?
            .render(request)
    }

    /// [`Self::render_chat`] then encoding without adding special tokens.
    pub fn render_chat_ids(&self, request: &ChatRequest) -> Result<Vec<u32>> {
        self.encode(&self.render_chat(request)?, false)
    }
}

/// transformers' `PreTrainedTokenizerBase.clean_up_tokenization`: removes the space before
/// punctuation and English contractions.
pub fn clean_up_tokenization(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// The post-processor transformers' `update_post_processor` installs for the Llama-like classes,
/// or `None` for classes that keep `tokenizer.json`'s.
fn rebuilt_post_processor(
    tokenizer: &tokenizers::Tokenizer,
    config: &TokenizerConfig,
    origin: &Path,
) -> Result<Option<TemplateProcessing>> {
    let Some(class) = config.tokenizer_class.as_deref() else {
        return Ok(None);
    };
    let base = class.strip_suffix("Fast").unwrap_or(class);
    let Some(&(_, bos_default, eos_default)) =
        REBUILT_POST_PROCESSOR.iter().find(|(c, _, _)| *c == base)
    else {
        return Ok(None);
    };
    let add_bos = config.add_bos_token.unwrap_or(bos_default);
    let add_eos = config.add_eos_token.unwrap_or(eos_default);
    let invalid = |message: String| Error::Config {
        path: origin.join("tokenizer_config.json"),
        message,
    };
    let token = |flag: &str, token: &Option<String>| -> Result<(String, u32)> {
        let text = token
            .clone()
            .ok_or_else(|| invalid(format!("{flag} = true but the token is not set")))?;
        let id = tokenizer
            .token_to_id(&text)
            .ok_or_else(|| invalid(format!("{flag}: token {text:?} is not in the vocabulary")))?;
        Ok((text, id))
    };
    let mut specials = Vec::new();
    let (mut single, mut pair) = (String::new(), String::new());
    if add_bos {
        let (bos, id) = token("add_bos_token", &config.special_tokens.bos)?;
        single.push_str(&format!("{bos}:0 "));
        specials.push((bos, id));
    }
    single.push_str("$A:0");
    if add_eos {
        let (eos, id) = token("add_eos_token", &config.special_tokens.eos)?;
        single.push_str(&format!(" {eos}:0"));
        specials.push((eos, id));
    }
    pair.push_str(&single);
    if let (true, Some((bos, _))) = (add_bos, specials.first()) {
        pair.push_str(&format!(" {bos}:1"));
    }
    pair.push_str(" $B:1");
    if let (true, Some((eos, _))) = (add_eos, specials.last()) {
        pair.push_str(&format!(" {eos}:1"));
    }
    let processor = TemplateProcessing::builder()
        .try_single(single.as_str())
        .and_then(|b| b.try_pair(pair.as_str()))
        .map_err(|e| invalid(format!("building post-processor: {e}")))?
        .special_tokens(specials)
        .build()
        .map_err(|e| invalid(format!("building post-processor: {e}")))?;
    Ok(Some(processor))
}
