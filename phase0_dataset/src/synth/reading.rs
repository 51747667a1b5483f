//! Reading comprehension (answer = an exact span of the passage, SQuAD-style, Rajpurkar et
//! al., 2016) and summarisation (reference summary + key facts that must appear, within a word
//! budget). Passages describe fictional entities from `passage.rs`. Hard reading tasks add a
//! second entity of the same kind as a distractor or ask for a difference of two years.

use serde_json::json;

use super::Task;
use super::passage::{Entity, Fact, entity, filler, passage};
use super::rng::Rng;
use crate::check::{Check, word_count};

const READ_LEADS: [&str; 4] = [
    "Read the passage below and answer the question.",
    "Answer the question using only the passage.",
    "Based on the passage, answer the question that follows.",
    "Use the passage to answer the question with a short phrase from it.",
];

fn reading_task(
    rng: &mut Rng,
    template: &'static str,
    text: String,
    q: &str,
    steps: String,
    value: serde_json::Value,
) -> Task {
    let lead = *rng.pick(&READ_LEADS);
    let answer = match &value {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut t = Task::single(
        template,
        format!("{lead}\n\nQuestion: {q}"),
        format!("{steps}\nAnswer: {answer}"),
        Check::Exact { value },
    );
    t.input = text;
    t
}

/// Generates one reading task.
pub fn generate_reading(rng: &mut Rng, hard: bool) -> Task {
    if !hard {
        let e = entity(rng, None);
        let n = 4 + rng.below(3).min(e.facts.len() - 4);
        let fillers = rng.below(2);
        let text = passage(rng, &e, n, fillers);
        let f = &e.facts[rng.below(n)];
        return reading_task(
            rng,
            "reading:span",
            text,
            &f.question,
            format!("The passage says: \"{}\"", f.sentence),
            json!(f.value),
        );
    }
    let kind = *rng.pick(&["town", "company", "species", "expedition"]);
    let a = entity(rng, Some(kind));
    let b = entity(rng, Some(kind));
    if rng.chance(0.5) {
        year_gap(rng, &a, &b)
    } else {
        distractor(rng, &a, &b)
    }
}

/// Two entities; the question targets a fact of the second that the first also states.
fn distractor(rng: &mut Rng, a: &Entity, b: &Entity) -> Task {
    let n = 4 + rng.below(2);
    let fillers = 1 + rng.below(2);
    let first = passage(rng, a, n, fillers);
    let shared: Vec<&Fact> = b
        .facts
        .iter()
        .take(n)
        .filter(|f| a.facts.iter().take(n).any(|g| g.key == f.key))
        .collect();
    let target = if shared.is_empty() {
        &b.facts[0]
    } else {
        shared[rng.below(shared.len())]
    };
    let fillers = 1 + rng.below(2);
    let second = passage(rng, b, n, fillers);
    reading_task(
        rng,
        "reading:distractor",
        format!("{first}\n\n{second}"),
        &target.question,
        format!(
            "The question is about {}, not {}. The passage says: \"{}\"",
            b.name, a.name, target.sentence
        ),
        json!(target.value),
    )
}

/// Two entities; the question asks how many years apart their dated facts are.
fn year_gap(rng: &mut Rng, a: &Entity, b: &Entity) -> Task {
    let dated = |e: &Entity| -> Fact {
        e.facts
            .iter()
            .find(|f| matches!(f.key, "founded" | "discovered" | "year"))
            .cloned()
            .unwrap_or_else(|| e.facts[0].clone())
    };
    let (fa, fb) = (dated(a), dated(b));
    let (ya, yb) = (fa.number.unwrap_or(0), fb.number.unwrap_or(0));
    let build = |rng: &mut Rng, e: &Entity, f: &Fact| {
        // The dated fact first, then three more facts, with a filler.
        let mut text = format!("{} {}", e.intro, f.sentence);
        for g in e.facts.iter().filter(|g| g.key != f.key).take(3) {
            text.push(' ');
            text.push_str(&g.sentence);
        }
        text.push(' ');
        text.push_str(&filler(rng, &e.name));
        text
    };
    let text = format!("{}\n\n{}", build(rng, a, &fa), build(rng, b, &fb));
    let event = match a.kind {
        "town" | "company" => "founding",
        "species" => "first description",
        _ => "departure",
    };
    let q = format!(
        "How many years passed between the {event} of {} and the {event} of {}?",
        a.name, b.name
    );
    let gap = (ya - yb).abs();
    reading_task(
        rng,
        "reading:year_gap",
        text,
        &q,
        format!(
            "{}: {ya}. {}: {yb}. The difference is {gap} years.",
            a.name, b.name
        ),
        json!(gap),
    )
}

/// How a fact is named in a summarisation instruction.
fn label(key: &str) -> &'static str {
    match key {
        "founded" => "when it was founded",
        "founder" => "who founded it",
        "river" => "the river it lies on",
        "population" => "its population",
        "product" => "what it is known for",
        "festival" => "its festival",
        "distance" => "its distance from the nearby city",
        "hq" => "where it is based",
        "staff" => "how many people it employs",
        "ceo" => "who leads it",
        "plants" => "how many factories it runs",
        "habitat" => "where it lives",
        "length" => "its length",
        "diet" => "what it eats",
        "lifespan" => "its lifespan",
        "discovered" => "when it was described",
        "discoverer" => "who collected it first",
        "leader" => "who led it",
        "year" => "when it set out",
        "members" => "how many members it had",
        "days" => "how long it lasted",
        "found" => "what it found",
        "ship" => "the supply ship",
        _ => "the main facts",
    }
}

/// Generates one summarisation task.
pub fn generate_summary(rng: &mut Rng, hard: bool) -> Task {
    let e = entity(rng, None);
    let (n_facts, fillers, keep) = if hard {
        (e.facts.len().min(6 + rng.below(2)), 3 + rng.below(3), 4)
    } else {
        (4, 1, 2)
    };
    let text = passage(rng, &e, n_facts, fillers);
    let key: Vec<&Fact> = e.facts.iter().take(n_facts).take(keep).collect();
    let noun = match e.kind {
        "town" => "a town",
        "company" => "a company",
        "species" => "a species",
        _ => "an expedition",
    };
    let phrases: Vec<&str> = key.iter().map(|f| f.phrase.as_str()).collect();
    let (last, rest) = phrases.split_last().expect("at least two key facts");
    let summary = format!(
        "{} is {noun} {}{}{last}.",
        super::words::capitalise(&e.name),
        rest.join(", "),
        if rest.is_empty() { "" } else { " and " },
    );
    let max_words = word_count(&summary) + if hard { 6 } else { 10 };
    let labels: Vec<&str> = key.iter().map(|f| label(f.key)).collect();
    let (l_last, l_rest) = labels.split_last().expect("at least two key facts");
    let mention = format!("{} and {l_last}", l_rest.join(", "));
    let lead = match rng.below(3) {
        0 => {
            format!("Summarize the text in at most {max_words} words. Mention its name, {mention}.")
        }
        1 => format!(
            "Write a one-sentence summary (no more than {max_words} words) of the text below that states the name, {mention}."
        ),
        _ => format!(
            "Condense this passage into a summary of {max_words} words or fewer, including the name, {mention}."
        ),
    };
    let mut facts = vec![e.name.clone()];
    facts.extend(key.iter().map(|f| f.value.clone()));
    let mut t = Task::single(
        if hard {
            "summarisation:long"
        } else {
            "summarisation:short"
        },
        lead,
        summary,
        Check::KeyFacts { facts, max_words },
    );
    t.input = text;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_answers_are_spans_or_gaps() {
        let mut rng = Rng::new(6, "reading-test");
        for i in 0..1000 {
            let t = generate_reading(&mut rng, i % 2 == 0);
            assert!(t.answer.verify(&t.output), "{}", t.output);
            let Check::Exact { value } = &t.answer else {
                panic!()
            };
            match value {
                serde_json::Value::String(s) => {
                    assert!(t.input.contains(s.as_str()), "{s} not in {}", t.input)
                }
                serde_json::Value::Number(_) => assert_eq!(t.template, "reading:year_gap"),
                _ => panic!(),
            }
        }
    }

    #[test]
    fn summaries_meet_their_own_check() {
        let mut rng = Rng::new(7, "summary-test");
        for i in 0..1000 {
            let t = generate_summary(&mut rng, i % 2 == 0);
            assert!(t.answer.verify(&t.output), "{}\n{:?}", t.output, t.answer);
            let Check::KeyFacts { facts, .. } = &t.answer else {
                panic!()
            };
            for f in facts {
                let lower = t.input.to_lowercase();
                assert!(lower.contains(&f.to_lowercase()), "{f} not in passage");
            }
        }
    }
}
