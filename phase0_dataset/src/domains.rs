//! `phase0_dataset domains`: domain tags by transparent, ordered rules. The first rule that
//! fires decides, and its name (`code:fence`, `math:arithmetic`, …) is stored in `domain_rule`
//! so every tag can be traced; rows whose source already gave a domain (synth) keep it with rule
//! `<source>:given`, and the rules' agreement with those given tags is reported.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::Args;
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::io::{JsonlWriter, open_dataset, par_examples, round4, to_line};
use crate::schema::{DATA_FILE, DATASET_KIND, Domain, Example};

/// Arguments of `phase0_dataset domains`.
#[derive(Args, Debug, Clone, Default)]
pub struct DomainsArgs {
    /// Dataset artifact directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Re-tag rows that already carry a domain, instead of keeping it.
    #[arg(long)]
    pub retag: bool,
}

/// The `[domains]` table of the phase 0 config.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DomainsConfig {
    /// Re-tag rows that already carry a domain.
    pub retag: bool,
}

/// What the rules look at, computed once per row.
pub struct Features {
    /// System turns, lowercased.
    system: String,
    /// Instruction + input or user turns, lowercased.
    prompt: String,
    /// Output or assistant turns (case kept, for code syntax).
    response: String,
    /// Length of the input field / longest user turn, in characters.
    context_chars: usize,
    user_turns: usize,
    meta: serde_json::Map<String, Value>,
}

impl Features {
    /// Extracts the features of an example.
    pub fn of(ex: &Example) -> Features {
        let context_chars = match &ex.messages {
            Some(m) => m
                .iter()
                .filter(|t| t.role == crate::schema::Role::User)
                .map(|t| t.content.len())
                .max()
                .unwrap_or(0),
            None => ex.input.len().max(ex.instruction.len()),
        };
        Features {
            system: ex.system_text().to_lowercase(),
            prompt: ex.prompt_text().to_lowercase(),
            response: ex.response_text(),
            context_chars,
            user_turns: ex.user_turns(),
            meta: ex.meta.clone(),
        }
    }
}

type Test = Box<dyn Fn(&Features) -> bool + Send + Sync>;

/// One named rule.
pub struct Rule {
    /// `<domain>:<what fired>`.
    pub name: &'static str,
    /// Domain it assigns.
    pub domain: Domain,
    test: Test,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

fn prompt_re(pattern: &str) -> Test {
    let r = re(pattern);
    Box::new(move |f| r.is_match(&f.prompt))
}

fn meta_is(key: &'static str, values: &'static [&'static str]) -> Test {
    Box::new(move |f| {
        f.meta
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| values.contains(&v))
    })
}

/// The ordered rule table (first match wins). Printed in the README.
pub static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |name, domain, test| Rule { name, domain, test };
    let tool_schema = re(r#""parameters"\s*:\s*\{|"functions"\s*:|"tools"\s*:\s*\["#);
    let tool_call = re(r#"^\s*\{\s*"name"\s*:\s*"[^"]+"\s*,\s*"arguments"\s*:"#);
    let code_syntax = re(
        r"(?m)^\s*(def \w+\(|class \w+[:(]|import \w|from [\w.]+ import |#include|public (static )?\w|fn \w+\(|function \w+\(|const \w+ = |let \w+ = |SELECT .+ FROM |for \(.*;.*;)",
    );
    let numbers = re(r"\b\d+(\.\d+)?\b");
    let latex = re(r"\\frac|\\sqrt|\\cdot|\\times|\$[^$\n]{1,80}\$|\\\(|\\\[");
    vec![
        rule(
            "summarisation:dolly_category",
            Domain::Summarisation,
            meta_is("category", &["summarization"]),
        ),
        rule(
            "creative:dolly_category",
            Domain::Creative,
            meta_is("category", &["creative_writing", "brainstorming"]),
        ),
        rule(
            "reading:dolly_category",
            Domain::Reading,
            meta_is("category", &["closed_qa", "information_extraction"]),
        ),
        rule(
            "math:metamath_type",
            Domain::Math,
            Box::new(|f: &Features| {
                f.meta
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("GSM") || t.starts_with("MATH"))
            }),
        ),
        rule(
            "tool_use:schema",
            Domain::ToolUse,
            Box::new(move |f: &Features| {
                tool_schema.is_match(&f.system) || tool_schema.is_match(&f.prompt)
            }),
        ),
        rule(
            "tool_use:call",
            Domain::ToolUse,
            Box::new(move |f: &Features| tool_call.is_match(&f.response)),
        ),
        rule(
            "code:fence",
            Domain::Code,
            Box::new(|f: &Features| f.prompt.contains("```") || f.response.contains("```")),
        ),
        rule(
            "code:syntax",
            Domain::Code,
            Box::new(move |f: &Features| code_syntax.is_match(&f.response)),
        ),
        rule(
            "summarisation:keyword",
            Domain::Summarisation,
            prompt_re(
                r"\b(summari[sz]e|summari[sz]ing|summary|tl;?dr|condense|main points|key points|in a nutshell)\b",
            ),
        ),
        rule(
            "reading:passage",
            Domain::Reading,
            prompt_re(
                r"\b(passage|read the|according to the (text|passage|article|paragraph)|based on the (text|passage|article|paragraph|context)|the (following|above) (text|article|paragraph|story|context))\b",
            ),
        ),
        rule(
            "instruction_following:constraint",
            Domain::InstructionFollowing,
            prompt_re(
                r"\b(in|with|using|use|write|give) (exactly |at most |no more than |fewer than |at least |under |less than )?\d+ (words|sentences|bullet points)\b|\ball (capital|uppercase|upper-case|lowercase|lower-case) letters\b|\bin all (caps|capitals|lowercase)\b|\b(respond|answer|reply) (only )?(in|with) (valid )?json\b|\bexactly \d+ bullet points\b|\bdo not use (any )?(commas|the word)\b|\b(end|finish) your (response|answer|reply) with\b|\binclude the (key)?word\b",
            ),
        ),
        rule(
            "math:latex",
            Domain::Math,
            Box::new(move |f: &Features| latex.is_match(&f.prompt)),
        ),
        rule(
            "math:arithmetic",
            Domain::Math,
            prompt_re(r"\d\s*[+*/×÷^]\s*\(?\d|\d\s+-\s+\(?\d|\d+(\.\d+)?\s*%|\$\d"),
        ),
        rule(
            "math:keyword",
            Domain::Math,
            prompt_re(
                r"\b(calculate|compute|solve|equation|how many|how much|percent(age)?|average|probability|integral|derivative|fraction|remainder|divisible|multiply|divide|sum of|product of|area of|perimeter|total cost|final number|altogether|in total|end up with)\b",
            ),
        ),
        rule(
            "code:keyword",
            Domain::Code,
            prompt_re(
                r"\b(python|javascript|typescript|java|c\+\+|c#|rust|golang|sql|html|css|regex|code|coding|programming|program|script|algorithm|compile|debug|function that|unit tests?)\b",
            ),
        ),
        rule(
            "reading:long_context",
            Domain::Reading,
            Box::new(|f: &Features| f.context_chars >= 1200 && f.prompt.contains('?')),
        ),
        rule(
            "reasoning:keyword",
            Domain::Reasoning,
            prompt_re(
                r"\b(step[- ]by[- ]step|logic|logical|puzzle|riddle|deduce|infer|premise|hypothesis|entail(s|ment)?|syllogism|must be true|true or false|is it true that|yes, no,? or unknown|next (number|term)|the sequence|the pattern|day of the week|taller than|shorter than|older than|younger than|faster than|slower than|richer than|poorer than|heavier than|lighter than|louder than|quieter than|sits (to the )?(left|right)|in what order)\b",
            ),
        ),
        rule(
            "science:keyword",
            Domain::Science,
            prompt_re(
                r"\b(physics|chemistry|biology|atoms?|molecules?|cells?|dna|proteins?|photosynthesis|gravity|planets?|electrons?|chemical|species|evolution|ecosystems?|velocity|acceleration|organisms?|bacteria|virus(es)?|genetic|scientific|scientists?)\b",
            ),
        ),
        rule(
            "common_sense:multiple_choice",
            Domain::CommonSense,
            prompt_re(
                r"(?m)^\s*\(?[a-d][).:]\s+\S|\boptions:|\bchoose (the )?(best|correct|most)|\bmost likely\b|\bcommon sense\b",
            ),
        ),
        rule(
            "creative:keyword",
            Domain::Creative,
            prompt_re(
                r"\b(poem|poems|haiku|limerick|sonnet|lyrics|short story|a story|fairy tale|fable|fictional|imagine|slogan|tagline|creative|rap|verse)\b",
            ),
        ),
        rule(
            "math:numeric_question",
            Domain::Math,
            Box::new(move |f: &Features| {
                f.prompt.contains('?') && numbers.find_iter(&f.prompt).count() >= 2
            }),
        ),
        rule(
            "conversation:multi_turn",
            Domain::Conversation,
            Box::new(|f: &Features| f.user_turns >= 2),
        ),
    ]
});

/// Name of the rule used when nothing fires.
pub const FALLBACK_RULE: &str = "general:fallback";

/// The first firing rule's domain and name, or `general` / [`FALLBACK_RULE`].
pub fn classify(f: &Features) -> (Domain, &'static str) {
    RULES
        .iter()
        .find(|r| (r.test)(f))
        .map_or((Domain::General, FALLBACK_RULE), |r| (r.domain, r.name))
}

/// Tags one example; returns whether it carried a domain and whether the rules agree with it.
pub fn tag(ex: &mut Example, retag: bool) -> (bool, bool) {
    let (domain, rule) = classify(&Features::of(ex));
    match ex.domain {
        Some(given) if !retag => {
            if ex.domain_rule.is_none() {
                ex.domain_rule = Some(format!("{}:given", ex.source));
            }
            (true, given == domain)
        }
        given => {
            ex.domain = Some(domain);
            ex.domain_rule = Some(rule.to_owned());
            (given.is_some(), given == Some(domain))
        }
    }
}

/// Runs `domains` and returns the tagged dataset artifact.
pub fn run(args: &DomainsArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let mut cfg: DomainsConfig = crate::config::section(common.config.as_deref(), "domains")?;
    cfg.retag |= args.retag;
    let (input, data_path) = open_dataset(&args.input)?;
    let mut config = serde_json::to_value(&cfg)?;
    // The rule table is part of the config: changing a rule changes the artifact id.
    config["rules"] = RULES.iter().map(|r| r.name).collect::<Vec<_>>().into();
    let mut writer = match crate::io::start(
        common,
        DATASET_KIND,
        "domains",
        vec![input.as_input()],
        config,
    )? {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let _span = tracing::info_span!("domains", input = %input.id()).entered();
    let mut data = JsonlWriter::create(&writer, DATA_FILE)?;
    let mut domains: BTreeMap<String, u64> = BTreeMap::new();
    let mut rules: BTreeMap<String, u64> = BTreeMap::new();
    let (mut given, mut agree) = (0u64, 0u64);
    let rows = par_examples(
        &data_path,
        |_, mut ex| {
            let (had, agrees) = tag(&mut ex, cfg.retag);
            let domain = ex.domain.map_or("general", Domain::as_str);
            let rule = ex.domain_rule.clone().unwrap_or_default();
            Ok((to_line(&ex)?, domain, rule, had, agrees))
        },
        |(line, domain, rule, had, agrees)| {
            *domains.entry(domain.to_owned()).or_default() += 1;
            *rules.entry(rule).or_default() += 1;
            given += u64::from(had);
            agree += u64::from(had && agrees);
            data.write_line(&line)
        },
    )?;
    data.finish()?;
    writer.set_metric("rows", rows);
    writer.set_metric("domains", &domains);
    writer.set_metric("rules", &rules);
    writer.set_metric("rows_with_given_domain", given);
    if given > 0 {
        writer.set_metric(
            "rule_agreement_with_given",
            round4(agree as f64 / given as f64),
        );
    }
    Ok(Some(writer.commit()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Message, Role};

    fn single(instruction: &str, input: &str, output: &str) -> Example {
        Example {
            id: "x".into(),
            source: "t".into(),
            instruction: instruction.into(),
            input: input.into(),
            output: output.into(),
            ..Default::default()
        }
    }

    fn rule_of(ex: &Example) -> &'static str {
        classify(&Features::of(ex)).1
    }

    #[test]
    fn rules_fire_in_order() {
        let cases = [
            (
                single("Fix this", "", "```python\nprint(1)\n```"),
                "code:fence",
            ),
            (
                single("Write it", "", "def add(a, b):\n    return a + b"),
                "code:syntax",
            ),
            (
                single("Describe rain in exactly 20 words.", "", "x"),
                "instruction_following:constraint",
            ),
            (
                single("Summarize the text below.", "Long text", "x"),
                "summarisation:keyword",
            ),
            (single("What is 17 * 3?", "", "51"), "math:arithmetic"),
            (
                single("Solve for x: x squared equals nine", "", "3"),
                "math:keyword",
            ),
            (
                single("Explain what a Python decorator is.", "", "x"),
                "code:keyword",
            ),
            (
                single("Read the passage and answer.", "Bla", "x"),
                "reading:passage",
            ),
            (
                single("Alice is taller than Bob. Who is shortest?", "", "Bob"),
                "reasoning:keyword",
            ),
            (
                single("Why do planets orbit the sun?", "", "x"),
                "science:keyword",
            ),
            (
                single("Where do you keep milk?\nA) fridge\nB) oven", "", "A"),
                "common_sense:multiple_choice",
            ),
            (
                single("Write a haiku about autumn.", "", "x"),
                "creative:keyword",
            ),
            (single("Hello!", "", "Hi!"), FALLBACK_RULE),
        ];
        for (ex, want) in cases {
            assert_eq!(rule_of(&ex), want, "{:?}", ex.instruction);
        }
    }

    #[test]
    fn tool_schema_in_system_and_multi_turn() {
        let mut ex = Example {
            messages: Some(vec![
                Message::new(
                    Role::System,
                    r#"Tools: [{"name":"get_weather","parameters":{"type":"object"}}]"#,
                ),
                Message::new(Role::User, "Weather in Lisbon?"),
                Message::new(
                    Role::Assistant,
                    r#"{"name":"get_weather","arguments":{"city":"Lisbon"}}"#,
                ),
            ]),
            ..Default::default()
        };
        assert_eq!(rule_of(&ex), "tool_use:schema");
        ex.messages.as_mut().unwrap().remove(0);
        assert_eq!(rule_of(&ex), "tool_use:call");
        let chat = Example {
            messages: Some(vec![
                Message::new(Role::User, "Hi"),
                Message::new(Role::Assistant, "Hello"),
                Message::new(Role::User, "Thanks"),
                Message::new(Role::Assistant, "Bye"),
            ]),
            ..Default::default()
        };
        assert_eq!(rule_of(&chat), "conversation:multi_turn");
    }

    #[test]
    fn meta_rules_and_given_domains() {
        let mut ex = single("Tell me about it", "ctx", "x");
        ex.meta.insert("category".into(), "summarization".into());
        assert_eq!(rule_of(&ex), "summarisation:dolly_category");
        let mut given = single("What is 2 + 2?", "", "4");
        given.source = "synth".into();
        given.domain = Some(Domain::Math);
        assert_eq!(tag(&mut given, false), (true, true));
        assert_eq!(given.domain_rule.as_deref(), Some("synth:given"));
        let mut given = single("Hello", "", "Hi");
        given.domain = Some(Domain::Reasoning);
        assert_eq!(tag(&mut given, true), (true, false));
        assert_eq!(given.domain, Some(Domain::General));
    }
}
