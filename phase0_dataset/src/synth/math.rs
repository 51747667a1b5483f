//! Math tasks with exact integer answers, in the style of GSM8K word problems (Cobbe et al.,
//! 2021): easy = one or two operations, hard = three to five chained operations or
//! multi-entity / rate / shopping / discount problems. Every answer is computed here, and the
//! reference solution shows each step before `Answer: N`.

use serde_json::json;

use super::Task;
use super::rng::Rng;
use super::words::{CONTAINERS, ITEMS, NAMES};
use crate::check::Check;

/// Generates one math task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    let pick = rng.below(if hard { 6 } else { 5 });
    match (hard, pick) {
        (false, 0 | 1) => {
            let n = 1 + rng.below(2);
            chain(rng, n)
        }
        (false, 2) => containers(rng),
        (false, 3) => expression(rng, false),
        (false, _) => percent_of(rng),
        (true, 0 | 1) => {
            let n = 3 + rng.below(3);
            chain(rng, n)
        }
        (true, 2) => group_totals(rng),
        (true, 3) => tank(rng),
        (true, 4) => shopping(rng),
        (true, _) => discount(rng),
    }
}

fn finish(template: &'static str, question: String, steps: Vec<String>, answer: i64) -> Task {
    let mut output = steps.join("\n");
    output.push_str(&format!("\nAnswer: {answer}"));
    Task::single(
        template,
        question,
        output,
        Check::Exact {
            value: json!(answer),
        },
    )
}

/// A start value followed by `n` operations described in words.
fn chain(rng: &mut Rng, n: usize) -> Task {
    let name = *rng.pick(NAMES);
    let friend = loop {
        let f = *rng.pick(NAMES);
        if f != name {
            break f;
        }
    };
    let (items, _) = *rng.pick(ITEMS);
    let mut v = rng.range(6, 90);
    let openers = [
        format!("{name} has {v} {items}."),
        format!("{name} starts the week with {v} {items}."),
        format!("There are {v} {items} in {name}'s collection."),
        format!("{name} collected {v} {items} last month."),
    ];
    let mut text = vec![rng.pick(&openers).clone()];
    let mut steps = vec![format!("Start with {v} {items}.")];
    let mut done = 0;
    while done < n {
        let before = v;
        let (sentence, step) = match rng.below(8) {
            0 => {
                let b = rng.range(2, 40);
                v += b;
                (
                    format!("Then {name} buys {b} more."),
                    format!("Buying {b} more: {before} + {b} = {v}."),
                )
            }
            1 => {
                let b = rng.range(2, 30);
                v += b;
                (
                    format!("{friend} gives {name} another {b} {items}."),
                    format!("Receiving {b} from {friend}: {before} + {b} = {v}."),
                )
            }
            2 if v > 10 => {
                let b = rng.range(1, v - 2);
                v -= b;
                (
                    format!("{name} gives {b} {items} to {friend}."),
                    format!("Giving {b} away: {before} - {b} = {v}."),
                )
            }
            3 if v > 6 => {
                let b = rng.range(1, v / 2);
                v -= b;
                (
                    format!("Unfortunately, {b} of the {items} are lost."),
                    format!("Losing {b}: {before} - {b} = {v}."),
                )
            }
            4 if v < 400 => {
                let k = rng.range(2, 3);
                v *= k;
                let word = if k == 2 { "doubles" } else { "triples" };
                (
                    format!("Over the next month the number of {items} {word}."),
                    format!("It {word}: {before} x {k} = {v}."),
                )
            }
            5 => {
                let k = rng.range(2, 6);
                let m = rng.range(3, 12);
                v += k * m;
                (
                    format!("{name} then receives {k} packs with {m} {items} in each pack."),
                    format!(
                        "{k} packs of {m} is {k} x {m} = {}, so {before} + {} = {v}.",
                        k * m,
                        k * m
                    ),
                )
            }
            6 => {
                let divisors: Vec<i64> = (2..=5).filter(|d| v % d == 0).collect();
                if divisors.is_empty() {
                    continue;
                }
                let d = *rng.pick(&divisors);
                v /= d;
                (
                    format!(
                        "{name} splits the {items} equally into {d} groups and keeps just one group."
                    ),
                    format!("One of {d} equal groups: {before} / {d} = {v}."),
                )
            }
            7 => {
                let fracs: Vec<(i64, &str)> = [(2, "half"), (3, "a third"), (4, "a quarter")]
                    .into_iter()
                    .filter(|(d, _)| v % d == 0)
                    .collect();
                if fracs.is_empty() {
                    continue;
                }
                let (d, word) = *rng.pick(&fracs);
                let part = v / d;
                v -= part;
                (
                    format!("{name} donates {word} of the {items} to a school."),
                    format!(
                        "{} of {before} is {part}, so {before} - {part} = {v}.",
                        super::words::capitalise(word)
                    ),
                )
            }
            _ => continue,
        };
        text.push(sentence);
        steps.push(step);
        done += 1;
    }
    let questions = [
        format!("How many {items} does {name} have now?"),
        format!("How many {items} does {name} end up with?"),
        format!("What is the final number of {items} {name} has?"),
    ];
    text.push(rng.pick(&questions).clone());
    finish("math:chain", text.join(" "), steps, v)
}

fn containers(rng: &mut Rng) -> Task {
    let c = *rng.pick(CONTAINERS);
    let (items, _) = *rng.pick(ITEMS);
    let per = rng.range(4, 36);
    let n = rng.range(3, 25);
    let name = *rng.pick(NAMES);
    let q = match rng.below(3) {
        0 => format!("Each {c} holds {per} {items}. How many {items} are in {n} full {c}es?"),
        1 => format!(
            "{name} fills {n} {c}es with {per} {items} each. How many {items} is that in total?"
        ),
        _ => format!(
            "A shop stocks {n} {c}es of {items}, and every {c} contains {per}. How many {items} does the shop have?"
        ),
    };
    let q = fix_plural(&q, c);
    let total = per * n;
    finish(
        "math:containers",
        q,
        vec![format!("{n} x {per} = {total}.")],
        total,
    )
}

/// "boxes", "bags", "jares" -> correct plurals for our container words.
fn fix_plural(text: &str, c: &str) -> String {
    let wrong = format!("{c}es");
    let right = if c.ends_with('x') || c.ends_with("sh") || c.ends_with("ch") {
        wrong.clone()
    } else {
        format!("{c}s")
    };
    text.replace(&wrong, &right)
}

fn expression(rng: &mut Rng, _hard: bool) -> Task {
    let a = rng.range(2, 60);
    let b = rng.range(2, 15);
    let c = rng.range(2, 15);
    let (q, steps, v) = match rng.below(3) {
        0 => (
            format!("Compute {a} + {b} x {c}."),
            vec![
                format!("Multiplication first: {b} x {c} = {}.", b * c),
                format!("Then {a} + {} = {}.", b * c, a + b * c),
            ],
            a + b * c,
        ),
        1 => (
            format!("What is ({a} - {b}) x {c}?"),
            vec![
                format!("Parentheses first: {a} - {b} = {}.", a - b),
                format!("Then {} x {c} = {}.", a - b, (a - b) * c),
            ],
            (a - b) * c,
        ),
        _ => {
            let prod = b * c;
            (
                format!("Evaluate {prod} / {b} + {a}."),
                vec![
                    format!("Division first: {prod} / {b} = {c}."),
                    format!("Then {c} + {a} = {}.", c + a),
                ],
                c + a,
            )
        }
    };
    finish("math:expression", q, steps, v)
}

fn percent_of(rng: &mut Rng) -> Task {
    let p = *rng.pick(&[5i64, 10, 15, 20, 25, 30, 40, 50, 60, 75]);
    let n = 20 * rng.range(1, 40);
    if (p * n) % 100 != 0 {
        return percent_of(rng);
    }
    let v = p * n / 100;
    let name = *rng.pick(NAMES);
    let (items, _) = *rng.pick(ITEMS);
    let q = match rng.below(2) {
        0 => format!("What is {p}% of {n}?"),
        _ => format!(
            "{name} has {n} {items} and gives away {p}% of them. How many {items} does {name} give away?"
        ),
    };
    finish(
        "math:percent",
        q,
        vec![format!("{p}% of {n} is {n} x {p} / 100 = {v}.")],
        v,
    )
}

fn group_totals(rng: &mut Rng) -> Task {
    let people = rng.sample(NAMES, 3);
    let (items, _) = *rng.pick(ITEMS);
    let x = rng.range(3, 40);
    let k = rng.range(2, 5);
    let y = x * k;
    let d = rng.range(1, y - 1);
    let z = y - d;
    let total = x + y + z;
    let q = format!(
        "{} has {x} {items}. {} has {k} times as many {items} as {}. {} has {d} fewer {items} than {}. How many {items} do the three of them have altogether?",
        people[0], people[1], people[0], people[2], people[1]
    );
    finish(
        "math:group_totals",
        q,
        vec![
            format!("{} has {x} x {k} = {y}.", people[1]),
            format!("{} has {y} - {d} = {z}.", people[2]),
            format!("Together: {x} + {y} + {z} = {total}."),
        ],
        total,
    )
}

fn tank(rng: &mut Rng) -> Task {
    let s = rng.range(10, 400);
    let r = rng.range(5, 40);
    let l = rng.range(1, r - 1);
    let t = rng.range(3, 45);
    let net = r - l;
    let v = s + net * t;
    let vessel = *rng.pick(&["tank", "pool", "reservoir", "barrel", "cistern"]);
    let q = format!(
        "A {vessel} contains {s} liters of water. Water flows in at {r} liters per minute while {l} liters per minute drain out. How many liters are in the {vessel} after {t} minutes?"
    );
    finish(
        "math:rate",
        q,
        vec![
            format!("Net gain per minute: {r} - {l} = {net} liters."),
            format!("Over {t} minutes: {net} x {t} = {} liters.", net * t),
            format!("Total: {s} + {} = {v} liters.", net * t),
        ],
        v,
    )
}

fn shopping(rng: &mut Rng) -> Task {
    let name = *rng.pick(NAMES);
    let two = rng.sample(ITEMS, 2);
    let (a, p) = (rng.range(2, 9), rng.range(1, 15));
    let (b, q) = (rng.range(2, 9), rng.range(1, 15));
    let cost = a * p + b * q;
    let bill = *[20i64, 50, 100, 200]
        .iter()
        .find(|&&x| x > cost)
        .unwrap_or(&500);
    let change = bill - cost;
    let text = format!(
        "{name} buys {a} {} at ${p} each and {b} {} at ${q} each, paying with a ${bill} bill. How many dollars of change does {name} get?",
        two[0].0, two[1].0
    );
    finish(
        "math:shopping",
        text,
        vec![
            format!("{a} x ${p} = ${}.", a * p),
            format!("{b} x ${q} = ${}.", b * q),
            format!("Total cost: ${} + ${} = ${cost}.", a * p, b * q),
            format!("Change: ${bill} - ${cost} = ${change}."),
        ],
        change,
    )
}

fn discount(rng: &mut Rng) -> Task {
    // Amounts in cents, so discounts and taxes stay exact.
    let money = |c: i64| {
        if c % 100 == 0 {
            format!("${}", c / 100)
        } else {
            format!("${}.{:02}", c / 100, c % 100)
        }
    };
    loop {
        let price = rng.range(15, 400);
        let d = *rng.pick(&[10i64, 15, 20, 25, 30, 40, 50]);
        let t = *rng.pick(&[5i64, 8, 10, 12, 20]);
        let after = price * (100 - d);
        if (after * t) % 100 != 0 {
            continue;
        }
        let tax = after * t / 100;
        let fin = after + tax;
        let thing = *rng.pick(&[
            "jacket",
            "lamp",
            "backpack",
            "bicycle helmet",
            "kettle",
            "desk chair",
            "tent",
            "pair of boots",
            "guitar",
            "rug",
            "coffee grinder",
            "telescope",
            "sleeping bag",
            "printer",
            "bookshelf",
            "rain coat",
            "blender",
            "scooter",
            "camera bag",
            "mattress",
        ]);
        let name = *rng.pick(NAMES);
        let store = format!(
            "{} {}",
            super::words::surname(rng),
            rng.pick(&["Outlet", "Market", "Store", "Emporium", "Goods", "Traders"])
        );
        let q = match rng.below(4) {
            0 => format!(
                "A {thing} costs ${price}. It is discounted by {d}%, and then a {t}% sales tax is added to the discounted price. What is the final price in dollars?"
            ),
            1 => format!(
                "{name} wants a {thing} priced at ${price} at {store}. The shop takes {d}% off, then charges {t}% tax on the reduced price. How many dollars does {name} pay?"
            ),
            2 => format!(
                "At {store}, a ${price} {thing} is on sale for {d}% off. Sales tax of {t}% applies to the sale price. What does the {thing} cost in the end, in dollars?"
            ),
            _ => format!(
                "{name} buys a {thing} listed at ${price}. With a {d}% coupon and {t}% tax added afterwards on the discounted amount, what is the total in dollars?"
            ),
        };
        let steps = [
            format!(
                "Discount: {d}% of ${price} is {}, so the price becomes {}.",
                money(price * 100 - after),
                money(after)
            ),
            format!(
                "Tax: {t}% of {} is {}, so the final price is {}.",
                money(after),
                money(tax),
                money(fin)
            ),
        ];
        let shown = money(fin).trim_start_matches('$').to_owned();
        let mut output = steps.join("\n");
        output.push_str(&format!("\nAnswer: {shown}"));
        return Task::single(
            "math:discount",
            q,
            output,
            Check::Exact {
                value: json!(fin as f64 / 100.0),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_checks_its_own_answer() {
        let mut rng = Rng::new(5, "math-test");
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
    fn chain_steps_recompute() {
        // The worked steps are arithmetic identities: check each "a op b = c" in the text.
        let mut rng = Rng::new(9, "chain");
        let re = regex::Regex::new(r"(\d+) ([-+x/]) (\d+) = (\d+)").unwrap();
        for _ in 0..500 {
            let t = chain(&mut rng, 4);
            for c in re.captures_iter(&t.output) {
                let (a, b, r): (i64, i64, i64) = (
                    c[1].parse().unwrap(),
                    c[3].parse().unwrap(),
                    c[4].parse().unwrap(),
                );
                let want = match &c[2] {
                    "+" => a + b,
                    "-" => a - b,
                    "x" => a * b,
                    _ => a / b,
                };
                assert_eq!(want, r, "{}", t.output);
            }
        }
    }

    #[test]
    fn plurals() {
        assert_eq!(fix_plural("3 boxes", "box"), "3 boxes");
        assert_eq!(fix_plural("3 bages", "bag"), "3 bags");
    }
}
