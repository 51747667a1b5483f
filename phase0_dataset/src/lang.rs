//! `phase0_dataset lang`: English verification with `whatlang` (trigram language identification,
//! pure Rust). Detection runs on the prose of a row only — fenced and inline code, code-looking
//! lines, URLs and LaTeX are removed first — and rows with too little prose are kept as `und`
//! rather than judged, because trigram detectors are unreliable on a handful of words.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use anyhow::bail;
use clap::Args;
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::io::{JsonlWriter, open_dataset, par_examples, round4, to_line};
use crate::schema::{DATA_FILE, DATASET_KIND, Example, REJECTED_FILE, Rejected};

/// Characters of prose handed to the detector (trigram statistics settle long before this).
const MAX_PROSE_CHARS: usize = 4000;

/// Arguments of `phase0_dataset lang`.
#[derive(Args, Debug, Clone, Default)]
pub struct LangArgs {
    /// Dataset artifact directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Minimum detector confidence to keep a row (default 0.5).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Rows with fewer prose letters than this are not judged: kept with `lang = "und"` (default 40).
    #[arg(long)]
    pub min_letters: Option<usize>,
    /// Languages to keep, ISO 639-3 codes, comma-separated (default `eng`).
    #[arg(long, value_delimiter = ',')]
    pub keep: Option<Vec<String>>,
    /// Reject rows too short to judge instead of keeping them.
    #[arg(long)]
    pub reject_short: bool,
}

/// The `[lang]` table of the phase 0 config (also the resolved config in the manifest).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LangConfig {
    /// Minimum confidence.
    pub threshold: f64,
    /// Minimum prose letters to judge a row.
    pub min_letters: usize,
    /// Languages to keep.
    pub keep: Vec<String>,
    /// Whether rows too short to judge are rejected.
    pub reject_short: bool,
    /// Second opinion for English when whatlang is unsure: keep a row whose prose has at least
    /// this share of English function words (see [`FUNCTION_WORDS`]), unless whatlang names
    /// another language with confidence of at least `other_confidence`. 0 disables it.
    pub min_function_words: f64,
    /// Confidence at which whatlang's verdict for another language overrides the function
    /// words.
    pub other_confidence: f64,
    /// Function-word share that keeps a row as English whatever whatlang says (no French,
    /// German or Spanish prose comes near it; whatlang 0.18 is confidently wrong on some plain
    /// English, e.g. "If the train is late, then the concert is sold out." → French).
    pub strong_function_words: f64,
}

impl Default for LangConfig {
    fn default() -> Self {
        LangConfig {
            threshold: 0.5,
            min_letters: 40,
            keep: vec!["eng".into()],
            reject_short: false,
            min_function_words: 0.15,
            other_confidence: 0.9,
            strong_function_words: 0.3,
        }
    }
}

/// The verdict on one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Detected language in the keep list with enough confidence.
    Keep {
        /// ISO 639-3 code.
        lang: &'static str,
        /// Confidence.
        score: f64,
        /// `whatlang`, or `function-words` when the second opinion kept the row.
        rule: &'static str,
    },
    /// Too little prose to judge.
    Short {
        /// Prose letters found.
        letters: usize,
    },
    /// Not a kept language, or not confident enough.
    Reject {
        /// ISO 639-3 code (or `und` when nothing was detected).
        lang: &'static str,
        /// Confidence.
        score: f64,
        /// `non-english: fra (0.93)` or `low-confidence: eng (0.31)`.
        reason: String,
    },
}

impl LangConfig {
    /// Judges a text.
    pub fn judge(&self, text: &str) -> Verdict {
        let prose = prose(text);
        let letters = prose.chars().filter(|c| c.is_alphabetic()).count();
        if letters < self.min_letters {
            return Verdict::Short { letters };
        }
        let cut = crate::ingest::read::floor_char_boundary(&prose, MAX_PROSE_CHARS);
        let Some(info) = whatlang::detect(&prose[..cut]) else {
            return Verdict::Reject {
                lang: "und",
                score: 0.0,
                reason: "undetected: no known script".into(),
            };
        };
        let lang = info.lang().code();
        let score = round4(info.confidence());
        let wanted = self.keep.iter().any(|k| k == lang);
        if wanted && score >= self.threshold {
            return Verdict::Keep {
                lang,
                score,
                rule: "whatlang",
            };
        }
        // whatlang's confidence is the relative gap to the runner-up language, which stays low
        // on plain, repetitive English; English function words settle those cases.
        let english_wanted = self.keep.iter().any(|k| k == "eng");
        let strong_other = !wanted && score >= self.other_confidence;
        let fw = function_word_share(&prose);
        let by_words =
            (self.min_function_words > 0.0 && !strong_other && fw >= self.min_function_words)
                || (self.strong_function_words > 0.0 && fw >= self.strong_function_words);
        if english_wanted && by_words {
            return Verdict::Keep {
                lang: "eng",
                score,
                rule: "function-words",
            };
        }
        if wanted {
            Verdict::Reject {
                lang,
                score,
                reason: format!("low-confidence: {lang} ({score})"),
            }
        } else {
            Verdict::Reject {
                lang,
                score,
                reason: format!("non-{}: {lang} ({score})", self.keep_label()),
            }
        }
    }

    fn keep_label(&self) -> String {
        if self.keep == ["eng"] {
            "english".into()
        } else {
            self.keep.join("/")
        }
    }
}

/// The prose of a text: fenced code blocks, code-looking lines, inline code, URLs and LaTeX
/// spans removed.
pub fn prose(text: &str) -> String {
    static INLINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"`[^`\n]*`|https?://\S+|\$\$[^$]*\$\$|\$[^$\n]*\$|\\\([^)]*\\\)|<[^>\n]{1,40}>")
            .expect("static regex")
    });
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || looks_like_code(line) {
            continue;
        }
        out.push_str(&INLINE.replace_all(line, " "));
        out.push('\n');
    }
    out
}

/// Frequent English function words, leaving out those that are also common words of French,
/// German, Spanish, Italian or Portuguese (`a`, `in`, `on`, `as`, `do`, `he`, `has`, `die`,
/// `was`, `will`, `also`, `over`, …); `is` and `of` (Dutch words too) stay because English
/// uses them far more.
pub const FUNCTION_WORDS: [&str; 67] = [
    "the", "and", "to", "that", "it", "for", "with", "this", "are", "be", "from", "by", "or",
    "not", "what", "which", "you", "your", "they", "their", "them", "have", "had", "there", "if",
    "does", "would", "should", "could", "how", "many", "much", "than", "then", "these", "those",
    "into", "its", "were", "been", "who", "why", "when", "where", "can", "at", "about", "after",
    "before", "because", "each", "every", "some", "more", "most", "such", "only", "our", "we",
    "she", "his", "her", "him", "my", "just", "of", "is",
];

/// Share of word tokens of `prose` that are English function words.
pub fn function_word_share(prose: &str) -> f64 {
    let mut words = 0usize;
    let mut hits = 0usize;
    for w in prose
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        words += 1;
        let lw = w.to_lowercase();
        if FUNCTION_WORDS.contains(&lw.as_str()) {
            hits += 1;
        }
    }
    if words == 0 {
        0.0
    } else {
        hits as f64 / words as f64
    }
}

/// Heuristic for a line of source code outside a fence.
fn looks_like_code(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() {
        return false;
    }
    const STARTS: [&str; 12] = [
        "def ",
        "class ",
        "import ",
        "from ",
        "#include",
        "return ",
        "print(",
        "for (",
        "if (",
        "public ",
        "private ",
        "function ",
    ];
    if STARTS.iter().any(|s| t.starts_with(s)) && (t.contains('(') || t.contains(':')) {
        return true;
    }
    if t.ends_with(';') || t.ends_with('{') || t == "}" {
        return true;
    }
    let json_like =
        (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'));
    if json_like && t.contains(':') {
        return true;
    }
    let total = t.chars().count();
    let symbols = t
        .chars()
        .filter(|c| !c.is_alphanumeric() && !c.is_whitespace() && !".,;:!?'\"-()".contains(*c))
        .count();
    total >= 8 && symbols * 4 > total
}

/// Resolves config + flags (flags win).
fn resolve(args: &LangArgs, common: &CommonArgs) -> anyhow::Result<LangConfig> {
    let mut cfg: LangConfig = crate::config::section(common.config.as_deref(), "lang")?;
    if let Some(t) = args.threshold {
        cfg.threshold = t;
    }
    if let Some(m) = args.min_letters {
        cfg.min_letters = m;
    }
    if let Some(k) = &args.keep {
        cfg.keep.clone_from(k);
    }
    cfg.reject_short |= args.reject_short;
    if !(0.0..=1.0).contains(&cfg.threshold) {
        bail!("lang threshold {} is outside [0, 1]", cfg.threshold);
    }
    for code in &cfg.keep {
        if whatlang::Lang::from_code(code.as_str()).is_none() {
            bail!("unknown language code `{code}` (expected ISO 639-3, e.g. eng)");
        }
    }
    Ok(cfg)
}

/// Runs `lang` and returns the filtered dataset artifact.
pub fn run(args: &LangArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let cfg = resolve(args, common)?;
    let (input, data_path) = open_dataset(&args.input)?;
    let mut config = serde_json::to_value(&cfg)?;
    // The word list is part of the decision, so it is part of the id.
    config["function_words"] = FUNCTION_WORDS.to_vec().into();
    let mut writer =
        match crate::io::start(common, DATASET_KIND, "lang", vec![input.as_input()], config)? {
            Ok(w) => w,
            Err(done) => return Ok(done),
        };
    let _span = tracing::info_span!("lang", input = %input.id()).entered();
    let mut data = JsonlWriter::create(&writer, DATA_FILE)?;
    let mut rejected = JsonlWriter::create(&writer, REJECTED_FILE)?;
    let mut langs: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut short = 0u64;
    let mut by_function_words = 0u64;
    let rows_in = par_examples(
        &data_path,
        |_, mut ex: Example| {
            let verdict = cfg.judge(&format!("{}\n{}", ex.prompt_text(), ex.response_text()));
            let (keep, lang, reason) = match &verdict {
                Verdict::Keep { lang, score, rule } => {
                    ex.lang = Some((*lang).to_owned());
                    ex.lang_score = Some(*score);
                    if *rule != "whatlang" {
                        ex.meta.insert("lang_rule".into(), (*rule).into());
                    }
                    (true, *lang, None)
                }
                Verdict::Short { letters } => {
                    ex.lang = Some("und".into());
                    ex.lang_score = None;
                    let reason = format!("too-short: {letters} prose letters");
                    (!cfg.reject_short, "und", Some(reason))
                }
                Verdict::Reject {
                    lang,
                    score,
                    reason,
                } => {
                    ex.lang = Some((*lang).to_owned());
                    ex.lang_score = Some(*score);
                    (false, *lang, Some(reason.clone()))
                }
            };
            let short = matches!(verdict, Verdict::Short { .. });
            let fw = matches!(
                verdict,
                Verdict::Keep {
                    rule: "function-words",
                    ..
                }
            );
            let line = if keep {
                to_line(&ex)?
            } else {
                to_line(&Rejected {
                    reason: reason.clone().unwrap_or_default(),
                    example: ex,
                })?
            };
            let kind = reason.as_deref().map(reason_kind);
            Ok((keep, short, fw, lang, kind, line))
        },
        |(keep, is_short, fw, lang, kind, line)| {
            *langs.entry(lang.to_owned()).or_default() += 1;
            short += u64::from(is_short);
            by_function_words += u64::from(fw);
            if keep {
                data.write_line(&line)
            } else {
                if let Some(k) = kind {
                    *reasons.entry(k).or_default() += 1;
                }
                rejected.write_line(&line)
            }
        },
    )?;
    let kept = data.finish()?;
    let n_rejected = rejected.finish()?;
    let eng = langs.get("eng").copied().unwrap_or(0);
    let english_share = if rows_in == 0 {
        0.0
    } else {
        round4(eng as f64 / rows_in as f64)
    };
    let judged = rows_in - short;
    let english_share_judged = if judged == 0 {
        0.0
    } else {
        round4(eng as f64 / judged as f64)
    };
    tracing::info!(
        rows_in,
        kept,
        rejected = n_rejected,
        english_share,
        "language filter done"
    );
    writer.set_metric("rows_in", rows_in);
    writer.set_metric("rows", kept);
    writer.set_metric("rows_rejected", n_rejected);
    writer.set_metric("rows_short_undetermined", short);
    writer.set_metric("rows_kept_by_function_words", by_function_words);
    writer.set_metric("english_share", english_share);
    writer.set_metric("english_share_of_judged", english_share_judged);
    writer.set_metric("langs", &langs);
    writer.set_metric("reject_reasons", &reasons);
    Ok(Some(writer.commit()?))
}

/// The category of a reason string (`non-english: fra (0.9)` → `non-english`).
fn reason_kind(reason: &str) -> &'static str {
    match reason.split(':').next().unwrap_or("") {
        "low-confidence" => "low-confidence",
        "too-short" => "too-short",
        "undetected" => "undetected",
        _ => "non-target-language",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_french_german_spanish() {
        let cfg = LangConfig::default();
        let en = "Tom has 12 apples. He gives 5 to his sister and buys 8 more. How many apples does he have now?";
        assert!(matches!(
            cfg.judge(en),
            Verdict::Keep {
                lang: "eng",
                rule: "whatlang",
                ..
            }
        ));
        let fr = "Marie a douze pommes. Elle en donne cinq à son frère et en achète huit de plus. Combien de pommes a-t-elle maintenant ?";
        match cfg.judge(fr) {
            Verdict::Reject { lang, reason, .. } => {
                assert_eq!(lang, "fra");
                assert!(reason.starts_with("non-english: fra"), "{reason}");
            }
            v => panic!("{v:?}"),
        }
        let de = "Anna hat zwölf Äpfel. Sie gibt ihrem Bruder fünf und kauft acht weitere. Wie viele Äpfel hat sie jetzt?";
        assert!(matches!(cfg.judge(de), Verdict::Reject { lang: "deu", .. }));
    }

    #[test]
    fn function_words_keep_plain_english_whatlang_is_unsure_about() {
        // whatlang 0.18 puts this English text first as French or Catalan with low confidence.
        let text = "If the concert is sold out, then Greta stays home. Greta does not stay home. Is it true that the concert is sold out? Answer yes, no, or unknown.";
        let info = whatlang::detect(text).unwrap();
        assert!(info.lang() != whatlang::Lang::Eng || info.confidence() < 0.5);
        let cfg = LangConfig::default();
        assert!(matches!(
            cfg.judge(text),
            Verdict::Keep {
                lang: "eng",
                rule: "function-words",
                ..
            }
        ));
        let off = LangConfig {
            min_function_words: 0.0,
            strong_function_words: 0.0,
            ..LangConfig::default()
        };
        assert!(matches!(off.judge(text), Verdict::Reject { .. }));
        let confident_french = "If the train is late, then the concert is sold out. If the concert is sold out, then Greta stays home. Greta does not stay home. Is it true that the train is late? Answer yes, no, or unknown.\nNot Greta stays home means the concert is not sold out (modus tollens). The concert is not sold out means the train is not late.\nAnswer: no";
        let info = whatlang::detect(confident_french).unwrap();
        assert_eq!(
            (info.lang(), info.confidence() >= 0.9),
            (whatlang::Lang::Fra, true)
        );
        assert!(matches!(
            cfg.judge(confident_french),
            Verdict::Keep { lang: "eng", .. }
        ));
        assert!(function_word_share("the cat and the dog") > 0.5);
        assert_eq!(function_word_share("le chat et le chien"), 0.0);
    }

    #[test]
    fn short_rows_are_not_judged() {
        let cfg = LangConfig::default();
        assert_eq!(
            cfg.judge("Give three tips."),
            Verdict::Short { letters: 13 }
        );
    }

    #[test]
    fn code_is_removed_before_detection() {
        let text = "Sort it.\n```python\ndef f(xs):\n    return sorted(xs)\n```\nUse `sorted(xs)` here: https://docs.python.org/x";
        let p = prose(text);
        assert!(!p.contains("def"), "{p}");
        assert!(!p.contains("sorted"), "{p}");
        assert!(!p.contains("https"), "{p}");
        assert!(p.contains("Sort it."));
        assert!(looks_like_code("    x = foo(bar[1]) + {a: b};"));
        assert!(!looks_like_code(
            "1. Eat a balanced diet, with fruit and vegetables."
        ));
    }

    #[test]
    fn reason_kinds() {
        assert_eq!(reason_kind("non-english: fra (0.9)"), "non-target-language");
        assert_eq!(reason_kind("low-confidence: eng (0.2)"), "low-confidence");
        assert_eq!(reason_kind("too-short: 3 prose letters"), "too-short");
    }
}
