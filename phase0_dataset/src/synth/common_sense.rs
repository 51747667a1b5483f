//! Common-sense multiple choice (answer = option letter), in the spirit of CommonsenseQA and
//! PIQA (Talmor et al., 2019; Bisk et al., 2020), generated from a small knowledge base of
//! everyday objects (where they are kept, what they are for, how heavy they are), cause and
//! effect pairs, and ordered everyday procedures. Easy: one attribute, 3-4 options. Hard:
//! odd-one-out, two purposes at once, consequences, and step order, with 4-5 options.

use serde_json::json;

use super::Task;
use super::rng::Rng;
use super::words::NAMES;
use crate::check::Check;

/// (object, place, purpose, weight class 1-5)
const OBJECTS: &[(&str, &str, &str, u8)] = &[
    ("a whisk", "kitchen", "beat eggs", 1),
    ("a colander", "kitchen", "drain pasta", 2),
    ("a rolling pin", "kitchen", "flatten dough", 2),
    ("a kettle", "kitchen", "boil water", 2),
    ("a cutting board", "kitchen", "chop vegetables on", 2),
    ("an oven mitt", "kitchen", "hold a hot tray", 1),
    ("a wrench", "garage", "tighten a bolt", 2),
    ("a car jack", "garage", "lift a car", 4),
    ("a tire pump", "garage", "inflate a bicycle tire", 2),
    ("a toolbox", "garage", "store tools", 3),
    ("a toothbrush", "bathroom", "clean your teeth", 1),
    ("a bath towel", "bathroom", "dry off after a shower", 1),
    ("a hair dryer", "bathroom", "dry wet hair", 2),
    ("a bath mat", "bathroom", "keep the floor dry", 1),
    ("a watering can", "garden", "water the flowers", 2),
    ("a rake", "garden", "gather fallen leaves", 2),
    ("a wheelbarrow", "garden", "carry soil", 4),
    ("a lawnmower", "garden", "cut the grass", 4),
    ("a stapler", "office", "fasten papers together", 1),
    ("a filing cabinet", "office", "store documents", 5),
    ("a desk lamp", "office", "light up a desk", 2),
    ("a paper shredder", "office", "destroy old documents", 3),
    ("a whiteboard", "classroom", "write notes for a class", 3),
    ("a globe", "classroom", "show where countries are", 2),
    ("a pencil sharpener", "classroom", "sharpen pencils", 1),
    ("a beach umbrella", "beach", "make shade on the sand", 2),
    ("a bucket and spade", "beach", "build a sandcastle", 1),
    ("a surfboard", "beach", "ride waves", 3),
    ("a pillow", "bedroom", "rest your head at night", 1),
    ("a wardrobe", "bedroom", "hang clothes", 5),
    ("an alarm clock", "bedroom", "wake up on time", 1),
    ("a tent", "campsite", "sleep outdoors", 3),
    (
        "a sleeping bag",
        "campsite",
        "stay warm at night outdoors",
        2,
    ),
    ("a camping stove", "campsite", "cook food outdoors", 2),
    ("a stethoscope", "clinic", "listen to a heartbeat", 1),
    ("a thermometer", "clinic", "measure body temperature", 1),
    (
        "a wheelchair",
        "clinic",
        "move a patient who cannot walk",
        4,
    ),
    (
        "a shopping cart",
        "supermarket",
        "carry groceries around the store",
        4,
    ),
    ("a cash register", "supermarket", "take payments", 4),
    ("a library card", "library", "borrow books", 1),
    ("a book cart", "library", "return books to the shelves", 4),
];

/// (situation with {n}, likely outcome) pairs; other outcomes are the distractors.
const EFFECTS: &[(&str, &str)] = &[
    (
        "{n} leaves a tub of ice cream on a sunny table for an hour.",
        "The ice cream melts.",
    ),
    (
        "{n} forgets to water a potted plant for a month in summer.",
        "The plant wilts.",
    ),
    ("{n} drops a glass onto a stone floor.", "The glass breaks."),
    (
        "{n} puts a wet towel on a hot radiator.",
        "The towel dries.",
    ),
    (
        "{n} leaves bread out of its bag for a week.",
        "The bread goes stale.",
    ),
    (
        "{n} stays up all night before an exam.",
        "{n} feels tired during the exam.",
    ),
    (
        "{n} leaves a phone playing videos without charging it all day.",
        "The battery runs out.",
    ),
    ("{n} pours water on a campfire.", "The fire goes out."),
    ("{n} forgets an umbrella on a rainy day.", "{n} gets wet."),
    (
        "{n} puts a bottle of water in the freezer overnight.",
        "The water freezes.",
    ),
    (
        "{n} adds too much salt to the soup.",
        "The soup tastes too salty.",
    ),
    (
        "{n} runs a marathon without training.",
        "{n} has sore muscles the next day.",
    ),
    (
        "{n} leaves the front door of a house open in winter.",
        "The house gets cold.",
    ),
    (
        "{n} plants sunflower seeds in good soil and waters them.",
        "The seeds sprout.",
    ),
    (
        "{n} blows too much air into a balloon.",
        "The balloon pops.",
    ),
    (
        "{n} leaves milk out of the fridge for two days.",
        "The milk goes sour.",
    ),
    (
        "{n} presses the elevator button.",
        "The elevator comes to the floor.",
    ),
    (
        "{n} wears a wool sweater on a very hot day.",
        "{n} feels too warm.",
    ),
    (
        "{n} sets an alarm for six in the morning.",
        "The alarm rings at six.",
    ),
    ("{n} stirs sugar into hot tea.", "The sugar dissolves."),
];

/// Everyday procedures in order.
const PROCEDURES: &[(&str, &[&str])] = &[
    (
        "making a cup of tea",
        &[
            "boil the water",
            "put a tea bag in the cup",
            "pour the hot water",
            "let it steep",
            "remove the tea bag",
        ],
    ),
    (
        "mailing a letter",
        &[
            "write the letter",
            "fold it into an envelope",
            "seal the envelope",
            "attach a stamp",
            "drop it in a mailbox",
        ],
    ),
    (
        "planting a tree",
        &[
            "choose a sunny spot",
            "dig a hole",
            "place the sapling in the hole",
            "fill the hole with soil",
            "water the tree",
        ],
    ),
    (
        "washing clothes by machine",
        &[
            "sort the clothes",
            "load the machine",
            "add detergent",
            "start the wash",
            "hang the clothes to dry",
        ],
    ),
    (
        "baking bread",
        &[
            "mix flour, water and yeast",
            "knead the dough",
            "let the dough rise",
            "shape the loaf",
            "bake it in the oven",
        ],
    ),
    (
        "changing a flat tire",
        &[
            "loosen the wheel nuts",
            "lift the car with a jack",
            "remove the flat tire",
            "fit the spare tire",
            "lower the car",
        ],
    ),
    (
        "painting a wall",
        &[
            "move the furniture away",
            "cover the floor",
            "fill any cracks",
            "apply the paint",
            "let it dry",
        ],
    ),
    (
        "catching a train",
        &[
            "check the timetable",
            "buy a ticket",
            "go to the platform",
            "board the train",
            "find a seat",
        ],
    ),
    (
        "brushing your teeth",
        &[
            "wet the toothbrush",
            "add toothpaste",
            "brush for two minutes",
            "spit out the toothpaste",
            "rinse the toothbrush",
        ],
    ),
    (
        "cooking pasta",
        &[
            "fill a pot with water",
            "bring the water to a boil",
            "add the pasta",
            "cook until tender",
            "drain the pasta",
        ],
    ),
    (
        "making a sandwich",
        &[
            "take two slices of bread",
            "spread butter on the bread",
            "add the filling",
            "close the sandwich",
            "cut it in half",
        ],
    ),
    (
        "sending an email",
        &[
            "open the mail app",
            "write the address",
            "type the message",
            "attach any files",
            "press send",
        ],
    ),
];

const LETTERS: [&str; 5] = ["A", "B", "C", "D", "E"];

fn question(
    template: &'static str,
    stem: String,
    options: Vec<String>,
    correct: usize,
    why: String,
) -> Task {
    let listed: Vec<String> = options
        .iter()
        .enumerate()
        .map(|(i, o)| format!("{}) {o}", LETTERS[i]))
        .collect();
    let letter = LETTERS[correct];
    Task::single(
        template,
        format!("{stem}\n{}", listed.join("\n")),
        format!("{why}\nAnswer: {letter}"),
        Check::Exact {
            value: json!(letter),
        },
    )
}

/// Puts `correct` among `others` at a random position; returns the options and its index.
fn shuffle_in(rng: &mut Rng, correct: String, mut others: Vec<String>) -> (Vec<String>, usize) {
    let at = rng.below(others.len() + 1);
    others.insert(at, correct);
    (others, at)
}

fn strip_article(s: &str) -> &str {
    s.trim_start_matches("a ").trim_start_matches("an ")
}

/// Generates one common-sense task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    if hard {
        match rng.below(4) {
            0 => odd_one_out(rng),
            1 => two_purposes(rng),
            2 => consequence(rng),
            _ => step_order(rng),
        }
    } else {
        match rng.below(3) {
            0 => location(rng),
            1 => purpose(rng),
            _ => heaviest(rng),
        }
    }
}

fn location(rng: &mut Rng) -> Task {
    let (obj, place, _, _) = *rng.pick(OBJECTS);
    let n = 2 + rng.below(2);
    let others: Vec<String> = rng
        .sample(OBJECTS, 12)
        .into_iter()
        .filter(|o| o.1 != place)
        .take(n)
        .map(|o| o.0.to_owned())
        .collect();
    let (opts, at) = shuffle_in(rng, obj.to_owned(), others);
    let stem = match rng.below(2) {
        0 => format!("Which of these would you most likely find in a {place}?"),
        _ => format!("Where you would expect it, which item belongs in a {place}?"),
    };
    question(
        "common_sense:location",
        stem,
        opts,
        at,
        format!(
            "{} is usually kept in a {place}.",
            super::words::capitalise(obj)
        ),
    )
}

fn purpose(rng: &mut Rng) -> Task {
    let (obj, _, purpose, _) = *rng.pick(OBJECTS);
    let name = *rng.pick(NAMES);
    let n = 2 + rng.below(2);
    let others: Vec<String> = rng
        .sample(OBJECTS, 12)
        .into_iter()
        .filter(|o| o.0 != obj && o.2 != purpose)
        .take(n)
        .map(|o| o.0.to_owned())
        .collect();
    let (opts, at) = shuffle_in(rng, obj.to_owned(), others);
    let stem = match rng.below(2) {
        0 => format!("{name} needs to {purpose}. Which item should {name} use?"),
        _ => format!("What would you use to {purpose}?"),
    };
    question(
        "common_sense:purpose",
        stem,
        opts,
        at,
        format!("{} is used to {purpose}.", super::words::capitalise(obj)),
    )
}

fn heaviest(rng: &mut Rng) -> Task {
    let lightest = rng.chance(0.5);
    // One object per weight class, so the answer is unambiguous.
    let mut by_class: Vec<&(&str, &str, &str, u8)> = Vec::new();
    for class in 1..=5u8 {
        let pool: Vec<_> = OBJECTS.iter().filter(|o| o.3 == class).collect();
        by_class.push(pool[rng.below(pool.len())]);
    }
    let k = 3 + rng.below(2);
    let mut chosen = rng.sample(&by_class, k);
    chosen.sort_by_key(|o| o.3);
    let target = if lightest { chosen[0] } else { chosen[k - 1] };
    let mut opts: Vec<String> = chosen.iter().map(|o| o.0.to_owned()).collect();
    rng.shuffle(&mut opts);
    let at = opts.iter().position(|o| o == target.0).unwrap_or(0);
    let word = if lightest { "lightest" } else { "heaviest" };
    question(
        "common_sense:weight",
        format!("Which of these is usually the {word}?"),
        opts,
        at,
        format!(
            "Of these, {} is typically the {word}.",
            strip_article(target.0)
        ),
    )
}

fn odd_one_out(rng: &mut Rng) -> Task {
    let places = [
        "kitchen",
        "garage",
        "bathroom",
        "garden",
        "office",
        "classroom",
        "beach",
        "bedroom",
        "campsite",
        "clinic",
    ];
    let place = *rng.pick(&places);
    let same: Vec<&str> = OBJECTS
        .iter()
        .filter(|o| o.1 == place)
        .map(|o| o.0)
        .collect();
    let k = 3.min(same.len());
    let mut opts: Vec<String> = rng
        .sample(&same, k)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let odd = loop {
        let o = rng.pick(OBJECTS);
        if o.1 != place {
            break o;
        }
    };
    let at = rng.below(opts.len() + 1);
    opts.insert(at, odd.0.to_owned());
    question(
        "common_sense:odd_one_out",
        format!("Three of these are usually found in a {place}. Which one does not belong there?"),
        opts,
        at,
        format!(
            "{} belongs in a {}, not a {place}.",
            super::words::capitalise(odd.0),
            odd.1
        ),
    )
}

fn two_purposes(rng: &mut Rng) -> Task {
    let name = *rng.pick(NAMES);
    let pair = rng.sample(OBJECTS, 2);
    let correct = format!("{} and {}", pair[0].0, pair[1].0);
    let mut others = Vec::new();
    while others.len() < 3 {
        let wrong = rng.sample(OBJECTS, 2);
        // At least one item must not serve either purpose.
        if wrong.iter().any(|w| w.0 == pair[0].0 || w.0 == pair[1].0) {
            continue;
        }
        let s = format!("{} and {}", wrong[0].0, wrong[1].0);
        if !others.contains(&s) {
            others.push(s);
        }
    }
    let (opts, at) = shuffle_in(rng, correct, others);
    question(
        "common_sense:two_purposes",
        format!(
            "{name} wants to {} and then {}. Which pair of items should {name} get?",
            pair[0].2, pair[1].2
        ),
        opts,
        at,
        format!(
            "{} is for the first task and {} for the second.",
            super::words::capitalise(pair[0].0),
            pair[1].0
        ),
    )
}

fn consequence(rng: &mut Rng) -> Task {
    let name = *rng.pick(NAMES);
    let i = rng.below(EFFECTS.len());
    let (situation, effect) = EFFECTS[i];
    let k = 3 + rng.below(2);
    let others: Vec<String> = rng
        .sample(
            &(0..EFFECTS.len()).filter(|&j| j != i).collect::<Vec<_>>(),
            k,
        )
        .into_iter()
        .map(|j| EFFECTS[j].1.replace("{n}", name))
        .collect();
    let (opts, at) = shuffle_in(rng, effect.replace("{n}", name), others);
    question(
        "common_sense:consequence",
        format!(
            "{} What is the most likely result?",
            situation.replace("{n}", name)
        ),
        opts,
        at,
        format!("The most likely result is: {}", effect.replace("{n}", name)),
    )
}

fn step_order(rng: &mut Rng) -> Task {
    let (task, steps) = *rng.pick(PROCEDURES);
    let k = 4;
    let idx = {
        let mut v: Vec<usize> = rng.sample(&(0..steps.len()).collect::<Vec<_>>(), k);
        v.sort_unstable();
        v
    };
    let first = rng.chance(0.5);
    let target = if first { idx[0] } else { idx[k - 1] };
    let mut opts: Vec<String> = idx.iter().map(|&j| steps[j].to_owned()).collect();
    rng.shuffle(&mut opts);
    let at = opts.iter().position(|o| o == steps[target]).unwrap_or(0);
    let which = if first { "first" } else { "last" };
    question(
        "common_sense:step_order",
        format!("When {task}, which of these steps comes {which}?"),
        opts,
        at,
        format!("Of these steps, \"{}\" comes {which}.", steps[target]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_distinct_and_answer_checks() {
        let mut rng = Rng::new(11, "cs-test");
        for i in 0..2000 {
            let t = generate(&mut rng, i % 2 == 0);
            assert!(t.answer.verify(&t.output), "{}", t.output);
            let opts: Vec<&str> = t.instruction.lines().skip(1).collect();
            assert!(opts.len() >= 3, "{}", t.instruction);
            let set: std::collections::HashSet<&str> = opts.iter().map(|o| &o[3..]).collect();
            assert_eq!(set.len(), opts.len(), "{}", t.instruction);
        }
    }
}
