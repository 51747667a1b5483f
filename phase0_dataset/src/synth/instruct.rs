//! Instruction-following tasks with constraints a program can check, after IFEval (Zhou et
//! al., 2023): word limits, letter case, required and forbidden words, bullet counts, JSON
//! output with given keys, a fixed ending, no commas. Easy: one constraint; hard: a format plus
//! two or three compatible constraints. The reference answer is built to satisfy them and is
//! checked against them at generation time.

use serde_json::{Map, Value, json};

use super::Task;
use super::rng::Rng;
use super::words::{CITIES, DAYS, NAMES, TOPICS};
use crate::check::{Check, Constraint, word_count};

/// Comma-free sentence templates about `{t}` with slots; none uses a word from `FORBIDDEN`.
fn sentence(rng: &mut Rng, topic: &str) -> String {
    let name = *rng.pick(NAMES);
    let (city, _) = *rng.pick(CITIES);
    let n = rng.range(3, 60);
    let year = rng.range(1990, 2023);
    let day = *rng.pick(&DAYS);
    match rng.below(14) {
        0 => {
            format!("In {city} a group of {n} volunteers meets every {day} to talk about {topic}.")
        }
        1 => format!("{name} started exploring {topic} in {year} and never stopped."),
        2 => format!("Interest in {topic} has grown in towns like {city}."),
        3 => format!("Anyone curious about {topic} can begin with a small first step."),
        4 => format!("Supporters of {topic} say it saves both time and money."),
        5 => format!("Critics of {topic} ask who should pay for it."),
        6 => format!("A good guide to {topic} starts with the basics and builds from there."),
        7 => format!("Local clubs in {city} organise {n} events around {topic} each year."),
        8 => format!("Children who learn about {topic} tend to remember it for years."),
        9 => format!("The history of {topic} is longer than most guides suggest."),
        10 => format!("{name} from {city} says {topic} taught her patience."),
        11 => format!("A survey of {n} residents found strong support for {topic}."),
        12 => format!("Since {year} the number of groups devoted to {topic} has doubled."),
        _ => format!("On a {day} morning {name} likes to think about {topic}."),
    }
}

const KEYWORDS: [&str; 10] = [
    "community",
    "future",
    "balance",
    "curiosity",
    "tradition",
    "neighbours",
    "craft",
    "season",
    "effort",
    "discovery",
];
const FORBIDDEN: [&str; 8] = [
    "very",
    "really",
    "amazing",
    "thing",
    "stuff",
    "nice",
    "awesome",
    "basically",
];
const ENDINGS: [&str; 6] = [
    "Thank you for reading.",
    "That is all for now.",
    "Stay curious.",
    "Try it this week.",
    "Share this with a friend.",
    "End of note.",
];
const JSON_KEYS: [&str; 6] = ["topic", "overview", "benefit", "audience", "tip", "rating"];

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Paragraph,
    Bullets,
    Json,
}

/// Generates one instruction-following task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    let topic = *rng.pick(TOPICS);
    let format = match rng.below(4) {
        0 => Format::Bullets,
        1 => Format::Json,
        _ => Format::Paragraph,
    };
    let mut constraints = Vec::new();
    let mut asks = Vec::new();
    let keyword = rng
        .chance(if hard { 0.5 } else { 0.0 })
        .then(|| *rng.pick(&KEYWORDS));
    let (lead, mut body) = match format {
        Format::Paragraph => {
            let k = 2 + rng.below(3);
            let mut s: Vec<String> = (0..k).map(|_| sentence(rng, topic)).collect();
            if let Some(kw) = keyword {
                s.insert(
                    rng.below(k + 1),
                    format!("For many it is a lesson in {kw}."),
                );
            }
            let lead = match rng.below(3) {
                0 => format!("Write a short paragraph about {topic}."),
                1 => format!("Write a few sentences about {topic}."),
                _ => format!("Describe {topic} in a brief paragraph."),
            };
            (lead, s.join(" "))
        }
        Format::Bullets => {
            let n = 2 + rng.below(4);
            let mut lines: Vec<String> = (0..n)
                .map(|_| format!("- {}", sentence(rng, topic)))
                .collect();
            if let Some(kw) = keyword {
                let i = rng.below(n);
                lines[i] = format!("{} It builds {kw}.", lines[i]);
            }
            constraints.push(Constraint::BulletCount { n });
            asks.push(format!(
                "Give exactly {n} bullet points, each line starting with '- '."
            ));
            (
                format!("List facts about {topic} as bullet points."),
                lines.join("\n"),
            )
        }
        Format::Json => {
            let k = 2 + rng.below(3);
            let keys = rng.sample(&JSON_KEYS, k);
            let mut obj = Map::new();
            for key in &keys {
                let v = match *key {
                    "topic" => json!(topic),
                    "rating" => json!(rng.range(1, 10)),
                    "audience" => json!(format!("people in {}", rng.pick(CITIES).0)),
                    _ => json!(sentence(rng, topic)),
                };
                obj.insert((*key).to_owned(), v);
            }
            if let Some(kw) = keyword {
                obj.insert(keys[0].to_owned(), json!(format!("{topic} and {kw}")));
            }
            let shown: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
            constraints.push(Constraint::JsonObject {
                keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            });
            asks.push(format!(
                "Respond only with valid JSON: one object with exactly the keys {}.",
                shown.join(", ")
            ));
            (
                format!("Describe {topic} in a structured way."),
                Value::Object(obj).to_string(),
            )
        }
    };
    if let Some(kw) = keyword {
        constraints.push(Constraint::IncludeKeyword {
            keyword: kw.to_owned(),
        });
        asks.push(format!("Include the word '{kw}'."));
    }
    // Extra modifiers: easy paragraphs get one, hard tasks enough to reach two or three.
    let extra = match (hard, format) {
        (false, Format::Paragraph) => 1,
        (false, _) => 0,
        (true, Format::Paragraph) => 2 + rng.below(2) - usize::from(keyword.is_some()),
        (true, _) => 1,
    };
    let mut pool: Vec<u8> = match format {
        Format::Paragraph => vec![0, 1, 2, 3, 4, 5, 6],
        Format::Bullets => vec![1, 2, 4, 6],
        Format::Json => vec![6],
    };
    rng.shuffle(&mut pool);
    // Case changes and the fixed ending exclude each other (either would break the other).
    let mut chosen: Vec<u8> = Vec::new();
    for m in pool {
        if chosen.len() == extra {
            break;
        }
        let clash = matches!(m, 1..=3) && chosen.iter().any(|c| matches!(c, 1..=3));
        if !clash {
            chosen.push(m);
        }
    }
    // Text-changing modifiers first, then the ones that measure the final text.
    chosen.sort_by_key(|m| match m {
        1..=3 => 0,
        _ => 1,
    });
    for m in chosen {
        match m {
            0 => {
                let n = word_count(&body) + rng.range(0, 8) as usize;
                constraints.push(Constraint::MaxWords { n });
                asks.push(format!("Answer in at most {n} words."));
            }
            1 => {
                body = body.to_uppercase();
                constraints.push(Constraint::AllCaps);
                asks.push("Write your whole answer in all capital letters.".into());
            }
            2 => {
                body = body.to_lowercase();
                constraints.push(Constraint::AllLowercase);
                asks.push("Write your whole answer in all lowercase letters.".into());
            }
            3 => {
                let end = *rng.pick(&ENDINGS);
                body = format!("{body} {end}");
                constraints.push(Constraint::EndsWith {
                    phrase: end.to_owned(),
                });
                asks.push(format!("End your response with the exact phrase \"{end}\""));
            }
            4 => {
                constraints.push(Constraint::NoCommas);
                asks.push("Do not use any commas.".into());
            }
            5 => {
                let n = word_count(&body)
                    .saturating_sub(rng.range(0, 5) as usize)
                    .max(1);
                constraints.push(Constraint::MinWords { n });
                asks.push(format!("Use at least {n} words."));
            }
            _ => {
                let w = *rng.pick(&FORBIDDEN);
                constraints.push(Constraint::ExcludeWord { word: w.to_owned() });
                asks.push(format!("Do not use the word '{w}'."));
            }
        }
    }
    if format == Format::Paragraph && constraints.is_empty() {
        let n = word_count(&body) + 5;
        constraints.push(Constraint::MaxWords { n });
        asks.push(format!("Answer in at most {n} words."));
    }
    let instruction = format!("{lead} {}", asks.join(" "));
    let template = match format {
        Format::Paragraph => "instruction_following:paragraph",
        Format::Bullets => "instruction_following:bullets",
        Format::Json => "instruction_following:json",
    };
    Task::single(
        template,
        instruction,
        body,
        Check::Constraints { constraints },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_satisfy_their_constraints() {
        let mut rng = Rng::new(12, "if-test");
        let mut counts = [0usize; 4];
        for i in 0..3000 {
            let hard = i % 2 == 0;
            let t = generate(&mut rng, hard);
            assert!(
                t.answer.verify(&t.output),
                "{}\n{}\n{:?}",
                t.instruction,
                t.output,
                t.answer
            );
            let Check::Constraints { constraints } = &t.answer else {
                panic!()
            };
            counts[constraints.len().min(3)] += 1;
            if !hard {
                assert_eq!(constraints.len(), 1, "{}", t.instruction);
            } else {
                assert!(constraints.len() >= 2, "{}", t.instruction);
            }
        }
        assert_eq!(counts[0], 0);
    }

    #[test]
    fn sentences_are_comma_free_and_avoid_forbidden_words() {
        let mut rng = Rng::new(1, "s");
        for _ in 0..2000 {
            let s = sentence(&mut rng, "tide pools");
            assert!(!s.contains(','), "{s}");
            for w in FORBIDDEN {
                assert!(Constraint::ExcludeWord { word: w.into() }.holds(&s), "{s}");
            }
        }
    }
}
