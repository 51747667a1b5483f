//! Reasoning tasks with exact answers, after the ordering / date / sequence / propositional
//! families of BIG-Bench Hard (Suzgun et al., 2022): orderings from pairwise comparisons,
//! day-of-week arithmetic, next term of a number sequence, and modus ponens / tollens chains.
//! Easy: few entities or one inference; hard: more entities, shuffled and reversed clues,
//! several inferences.

use serde_json::json;

use super::Task;
use super::rng::Rng;
use super::words::{DAYS, NAMES, ordinal};
use crate::check::Check;

/// Generates one reasoning task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    match rng.below(4) {
        0 => ordering(rng, hard),
        1 => weekday(rng, hard),
        2 => sequence(rng, hard),
        _ => conditional(rng, hard),
    }
}

fn exact(template: &'static str, q: String, steps: Vec<String>, answer: String) -> Task {
    let output = format!("{}\nAnswer: {answer}", steps.join("\n"));
    Task::single(
        template,
        q,
        output,
        Check::Exact {
            value: json!(answer),
        },
    )
}

/// (more, less, superlative-most, superlative-least)
const RELATIONS: [(&str, &str, &str, &str); 6] = [
    ("taller than", "shorter than", "tallest", "shortest"),
    ("older than", "younger than", "oldest", "youngest"),
    ("faster than", "slower than", "fastest", "slowest"),
    ("heavier than", "lighter than", "heaviest", "lightest"),
    ("richer than", "poorer than", "richest", "poorest"),
    ("louder than", "quieter than", "loudest", "quietest"),
];

fn ordering(rng: &mut Rng, hard: bool) -> Task {
    let n = if hard { 5 + rng.below(2) } else { 3 };
    let people = rng.sample(NAMES, n); // index 0 is the "most"
    let (more, less, most, least) = *rng.pick(&RELATIONS);
    // Adjacent comparisons fix the whole order; shuffle them and phrase some in reverse.
    let mut clues: Vec<String> = (0..n - 1)
        .map(|i| {
            if hard && rng.chance(0.5) {
                format!("{} is {less} {}.", people[i + 1], people[i])
            } else {
                format!("{} is {more} {}.", people[i], people[i + 1])
            }
        })
        .collect();
    rng.shuffle(&mut clues);
    let (question, answer) = if hard {
        let k = 2 + rng.below(n - 2);
        if rng.chance(0.5) {
            (format!("Who is the {} {most}?", ordinal(k)), people[k - 1])
        } else {
            (format!("Who is the {} {least}?", ordinal(k)), people[n - k])
        }
    } else if rng.chance(0.5) {
        (format!("Who is the {most}?"), people[0])
    } else {
        (format!("Who is the {least}?"), people[n - 1])
    };
    let chain: Vec<&str> = people.iter().map(|s| &**s).collect();
    let steps = vec![
        "Chaining the comparisons gives one order.".to_owned(),
        format!("From {most} to {least}: {}.", chain.join(", ")),
    ];
    exact(
        "reasoning:ordering",
        format!("{} {question}", clues.join(" ")),
        steps,
        answer.to_owned(),
    )
}

fn weekday(rng: &mut Rng, hard: bool) -> Task {
    let start = rng.below(7);
    if !hard {
        let k = rng.range(2, 60);
        let ans = DAYS[(start + k as usize) % 7];
        let q = format!(
            "Today is {}. What day of the week will it be in {k} days?",
            DAYS[start]
        );
        return exact(
            "reasoning:weekday",
            q,
            vec![format!(
                "{k} mod 7 = {}, so move {} days forward from {}.",
                k % 7,
                k % 7,
                DAYS[start]
            )],
            ans.to_owned(),
        );
    }
    // Anchor relative to today, then an offset relative to another day.
    let anchors: [(&str, i64); 4] = [
        ("yesterday", -1),
        ("the day before yesterday", -2),
        ("tomorrow", 1),
        ("the day after tomorrow", 2),
    ];
    let (anchor, a_off) = *rng.pick(&anchors);
    let (target, t_off) = *rng.pick(&anchors);
    let k = rng.range(10, 400);
    let anchor_day = DAYS[(start as i64 + a_off).rem_euclid(7) as usize];
    let ans = DAYS[(start as i64 + t_off + k).rem_euclid(7) as usize];
    let verb = if a_off < 0 { "was" } else { "will be" };
    let q = format!(
        "If {anchor} {verb} a {anchor_day}, what day of the week will it be {k} days after {target}?"
    );
    let steps = vec![
        format!(
            "{} is {} day(s) from today, so today is {}.",
            capital(anchor),
            a_off,
            DAYS[start]
        ),
        format!(
            "{} is {t_off} day(s) from today; adding {k} gives {} days from today.",
            capital(target),
            t_off + k
        ),
        format!(
            "{} mod 7 = {}, so the day is {ans}.",
            t_off + k,
            (t_off + k).rem_euclid(7)
        ),
    ];
    exact("reasoning:weekday_relative", q, steps, ans.to_owned())
}

fn capital(s: &str) -> String {
    super::words::capitalise(s)
}

fn sequence(rng: &mut Rng, hard: bool) -> Task {
    let shown = if hard { 5 } else { 4 };
    let kind = if hard { rng.below(4) } else { rng.below(2) };
    let (terms, rule): (Vec<i64>, String) = match kind {
        0 => {
            let a = rng.range(-20, 40);
            let d = *rng.pick(&[-9i64, -7, -5, -3, 2, 3, 4, 6, 7, 8, 11, 12, 13]);
            (
                (0..=shown).map(|i| a + d * i as i64).collect(),
                format!("add {d} each time"),
            )
        }
        1 => {
            let a = rng.range(1, 9);
            let r = rng.range(2, 4);
            (
                (0..=shown as u32).map(|i| a * r.pow(i)).collect(),
                format!("multiply by {r} each time"),
            )
        }
        2 => {
            // Second differences constant: a, a+d, a+2d+c, ...
            let a = rng.range(0, 20);
            let d = rng.range(1, 6);
            let c = rng.range(1, 4);
            let mut v = vec![a];
            let mut step = d;
            for _ in 0..shown {
                let last = *v.last().unwrap_or(&0);
                v.push(last + step);
                step += c;
            }
            (
                v,
                format!("the differences grow by {c} each time, starting at {d}"),
            )
        }
        _ => {
            // Alternating operations: +p, *q.
            let a = rng.range(1, 9);
            let p = rng.range(1, 9);
            let q = rng.range(2, 3);
            let mut v = vec![a];
            for i in 0..shown {
                let last = *v.last().unwrap_or(&0);
                v.push(if i % 2 == 0 { last + p } else { last * q });
            }
            (v, format!("alternately add {p} and multiply by {q}"))
        }
    };
    let (given, next) = terms.split_at(shown);
    let list = given
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let q = match rng.below(3) {
        0 => format!("What number comes next in the sequence {list}, ...?"),
        1 => format!("Find the next term: {list}, ?"),
        _ => format!("Continue the pattern {list} with one more number."),
    };
    exact(
        if hard {
            "reasoning:sequence_hard"
        } else {
            "reasoning:sequence"
        },
        q,
        vec![format!("The rule is: {rule}.")],
        next[0].to_string(),
    )
}

/// (condition, consequence, negated consequence, negated condition) about a named person.
const RULES: [(&str, &str, &str, &str); 10] = [
    (
        "it rains",
        "{n} takes the bus",
        "{n} does not take the bus",
        "it does not rain",
    ),
    (
        "the shop is open",
        "{n} buys bread",
        "{n} does not buy bread",
        "the shop is not open",
    ),
    (
        "the alarm rings",
        "{n} wakes up early",
        "{n} does not wake up early",
        "the alarm does not ring",
    ),
    (
        "the train is late",
        "{n} misses the meeting",
        "{n} does not miss the meeting",
        "the train is not late",
    ),
    (
        "the library is quiet",
        "{n} finishes the essay",
        "{n} does not finish the essay",
        "the library is not quiet",
    ),
    (
        "the printer works",
        "{n} hands in the report",
        "{n} does not hand in the report",
        "the printer does not work",
    ),
    (
        "the river floods",
        "{n} closes the gate",
        "{n} does not close the gate",
        "the river does not flood",
    ),
    (
        "the oven is hot",
        "{n} bakes a pie",
        "{n} does not bake a pie",
        "the oven is not hot",
    ),
    (
        "the battery is charged",
        "{n} goes cycling",
        "{n} does not go cycling",
        "the battery is not charged",
    ),
    (
        "the concert is sold out",
        "{n} stays home",
        "{n} does not stay home",
        "the concert is not sold out",
    ),
];

fn conditional(rng: &mut Rng, hard: bool) -> Task {
    let name = *rng.pick(NAMES);
    let fill = |s: &str| s.replace("{n}", name);
    if !hard {
        let (cond, cons, ncons, ncond) = *rng.pick(&RULES);
        let tollens = rng.chance(0.5);
        let (fact, question, answer, step) = if tollens {
            (
                format!("{}.", super::words::capitalise(&fill(ncons))),
                format!("Is it true that {cond}? Answer yes, no, or unknown."),
                "no",
                format!(
                    "If {cond}, then {}. That did not happen, so {ncond} (modus tollens).",
                    fill(cons)
                ),
            )
        } else {
            (
                format!("{}.", super::words::capitalise(cond)),
                format!(
                    "Is it true that {}? Answer yes, no, or unknown.",
                    fill(cons)
                ),
                "yes",
                format!("The condition holds, so {} (modus ponens).", fill(cons)),
            )
        };
        let q = format!("If {cond}, then {}. {fact} {question}", fill(cons));
        return exact("reasoning:conditional", q, vec![step], answer.to_owned());
    }
    // A chain A -> B -> C; given A or not-C, ask about the other end; or an invalid inference.
    let picks = rng.sample(&RULES, 2);
    let (c1, _, _, nc1) = picks[0];
    let (c2, _, _, nc2) = picks[1];
    let (_, cons3, ncons3, _) = picks[1];
    let mode = rng.below(3);
    let rules_text = format!("If {c1}, then {c2}. If {c2}, then {}.", fill(cons3));
    let (fact, question, answer, steps) = match mode {
        0 => (
            format!("{}.", super::words::capitalise(c1)),
            format!("Is it true that {}?", fill(cons3)),
            "yes",
            vec![
                format!("{} gives {c2}.", capital(c1)),
                format!("{} gives {}.", capital(c2), fill(cons3)),
            ],
        ),
        1 => (
            format!("{}.", super::words::capitalise(&fill(ncons3))),
            format!("Is it true that {c1}?"),
            "no",
            vec![
                format!("Not {} means {nc2} (modus tollens).", fill(cons3)),
                format!("{} means {nc1}.", capital(nc2)),
            ],
        ),
        _ => (
            format!("{}.", super::words::capitalise(nc1)),
            format!("Is it true that {}?", fill(cons3)),
            "unknown",
            vec![
                format!(
                    "The rules only say what follows when {c1}; {nc1} tells us nothing about {c2} (denying the antecedent is invalid)."
                ),
                "So it cannot be determined.".to_owned(),
            ],
        ),
    };
    let q = format!("{rules_text} {fact} {question} Answer yes, no, or unknown.");
    exact("reasoning:conditional_chain", q, steps, answer.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_check() {
        let mut rng = Rng::new(8, "reasoning-test");
        for i in 0..2000 {
            let t = generate(&mut rng, i % 2 == 0);
            assert!(
                t.answer.verify(&t.output),
                "{}\n{}",
                t.instruction,
                t.output
            );
        }
    }

    #[test]
    fn ordering_answer_is_implied_by_clues() {
        // Rebuild the order from the clues alone and compare with the stated answer.
        let mut rng = Rng::new(3, "ord");
        for _ in 0..300 {
            let t = ordering(&mut rng, true);
            let Check::Exact { value } = &t.answer else {
                panic!()
            };
            let (more, less, most, least) = RELATIONS
                .iter()
                .find(|r| t.instruction.contains(r.0) || t.instruction.contains(r.1))
                .copied()
                .unwrap();
            let mut edges = Vec::new(); // (greater, smaller)
            for clue in t.instruction.split(". ") {
                if let Some((a, b)) = clue.split_once(&format!(" is {more} ")) {
                    edges.push((
                        a.trim().to_owned(),
                        b.trim_end_matches('.').trim().to_owned(),
                    ));
                } else if let Some((a, b)) = clue.split_once(&format!(" is {less} ")) {
                    edges.push((
                        b.trim_end_matches('.').trim().to_owned(),
                        a.trim().to_owned(),
                    ));
                }
            }
            // Rank = number of people known to be greater (chain => unique ranks).
            let names: std::collections::BTreeSet<String> = edges
                .iter()
                .flat_map(|(a, b)| [a.clone(), b.clone()])
                .collect();
            let greater = |x: &str| -> usize {
                let mut seen = std::collections::BTreeSet::new();
                let mut stack = vec![x.to_owned()];
                while let Some(y) = stack.pop() {
                    for (g, s) in &edges {
                        if *s == y && seen.insert(g.clone()) {
                            stack.push(g.clone());
                        }
                    }
                }
                seen.len()
            };
            let mut order: Vec<&String> = names.iter().collect();
            order.sort_by_key(|n| greater(n));
            let q = t.instruction.rsplit("Who is the ").next().unwrap();
            let k = (1..=8).find(|k| q.starts_with(ordinal(*k))).unwrap();
            let want = if q.contains(most) {
                order[k - 1]
            } else {
                order[order.len() - k]
            };
            assert!(q.contains(most) || q.contains(least));
            assert_eq!(value.as_str().unwrap(), want.as_str(), "{}", t.instruction);
        }
    }
}
