//! Fictional entities (towns, companies, species, expeditions) with facts, for the reading and
//! summarisation tasks. Every fact has a sentence for the passage, a question whose answer is
//! an exact span of that sentence, and a short phrase for reference summaries. Names are made
//! up, so the answer can only come from the passage.

use super::rng::Rng;
use super::words::{CITIES, capitalise, person, place_name, surname};

/// One fact about an entity.
#[derive(Clone, Debug)]
pub struct Fact {
    /// Stable key (`founded`, `product`, …).
    pub key: &'static str,
    /// The answer span as it appears in the sentence.
    pub value: String,
    /// The passage sentence stating it.
    pub sentence: String,
    /// A question asking for it.
    pub question: String,
    /// A short phrase for summaries, containing `value`.
    pub phrase: String,
    /// The value as a number, when it is a year or count.
    pub number: Option<i64>,
}

/// A fictional entity and its facts.
#[derive(Clone, Debug)]
pub struct Entity {
    /// `town`, `company`, `species`, `expedition`.
    pub kind: &'static str,
    /// Proper name.
    pub name: String,
    /// Opening sentence.
    pub intro: String,
    /// Facts in random order.
    pub facts: Vec<Fact>,
}

fn fact(
    key: &'static str,
    value: String,
    sentence: String,
    question: String,
    phrase: String,
    number: Option<i64>,
) -> Fact {
    Fact {
        key,
        value,
        sentence,
        question,
        phrase,
        number,
    }
}

/// Makes an entity of a random kind, or of `kind` when given.
pub fn entity(rng: &mut Rng, kind: Option<&'static str>) -> Entity {
    let kind = kind.unwrap_or(*rng.pick(&["town", "company", "species", "expedition"]));
    let mut e = match kind {
        "town" => town(rng),
        "company" => company(rng),
        "species" => species(rng),
        _ => expedition(rng),
    };
    rng.shuffle(&mut e.facts);
    e
}

fn town(rng: &mut Rng) -> Entity {
    let name = place_name(rng);
    let river = format!("{} River", place_name(rng));
    let year = rng.range(1610, 1925);
    let founder = person(rng);
    let pop = rng.range(900, 98_000);
    let product = *rng.pick(&[
        "wool blankets",
        "copper kettles",
        "cherry jam",
        "glass beads",
        "pipe organs",
        "smoked trout",
        "linen",
        "clay roof tiles",
        "violin strings",
        "rope",
        "pear cider",
        "wooden toys",
    ]);
    let month = *rng.pick(&["March", "May", "June", "August", "September", "October"]);
    let festival = format!(
        "{} Festival",
        rng.pick(&[
            "Lantern", "Harvest", "Kite", "River", "Bell", "Lamb", "Ice", "Orchard"
        ])
    );
    let (city, _) = *rng.pick(CITIES);
    let km = rng.range(12, 340);
    let facts = vec![
        fact(
            "founded",
            year.to_string(),
            format!("{name} was founded in {year} by {founder}."),
            format!("In what year was {name} founded?"),
            format!("founded in {year}"),
            Some(year),
        ),
        fact(
            "founder",
            founder.clone(),
            format!("Its founder, {founder}, had arrived as a surveyor."),
            format!("Who founded {name}?"),
            format!("founded by {founder}"),
            None,
        ),
        fact(
            "river",
            river.clone(),
            format!("The town lies on the banks of the {river}."),
            format!("On which river does {name} lie?"),
            format!("on the {river}"),
            None,
        ),
        fact(
            "population",
            pop.to_string(),
            format!("Today it has a population of {pop}."),
            format!("What is the population of {name}?"),
            format!("home to {pop} people"),
            Some(pop),
        ),
        fact(
            "product",
            product.to_owned(),
            format!("{name} is best known for its {product}."),
            format!("What is {name} best known for?"),
            format!("known for its {product}"),
            None,
        ),
        fact(
            "festival",
            festival.clone(),
            format!("Every {month} the town holds the {festival}."),
            format!("Which festival does {name} hold every {month}?"),
            format!("host of the {festival}"),
            None,
        ),
        fact(
            "distance",
            km.to_string(),
            format!("It is {km} kilometres from {city}."),
            format!("How many kilometres is {name} from {city}?"),
            format!("{km} km from {city}"),
            Some(km),
        ),
    ];
    Entity {
        kind: "town",
        intro: format!("{name} is a small town in a region of rolling hills."),
        name,
        facts,
    }
}

fn company(rng: &mut Rng) -> Entity {
    let name = format!(
        "{} {}",
        surname(rng),
        rng.pick(&[
            "Labs",
            "Works",
            "Systems",
            "Instruments",
            "Textiles",
            "Robotics",
            "Foods",
            "Optics"
        ])
    );
    let year = rng.range(1950, 2021);
    let founder = person(rng);
    let (hq, _) = *rng.pick(CITIES);
    let staff = rng.range(12, 9_000);
    let product = *rng.pick(&[
        "solar water pumps",
        "bicycle gearboxes",
        "hearing aids",
        "seed drills",
        "weather balloons",
        "ceramic filters",
        "electric ferries",
        "braille printers",
        "soil sensors",
        "wooden skis",
    ]);
    let ceo = person(rng);
    let plants = rng.range(2, 19);
    let facts = vec![
        fact(
            "founded",
            year.to_string(),
            format!("{name} was founded in {year}."),
            format!("When was {name} founded?"),
            format!("founded in {year}"),
            Some(year),
        ),
        fact(
            "founder",
            founder.clone(),
            format!("The company was started by the engineer {founder}."),
            format!("Who started {name}?"),
            format!("started by {founder}"),
            None,
        ),
        fact(
            "hq",
            hq.to_owned(),
            format!("Its headquarters are in {hq}."),
            format!("Where are the headquarters of {name}?"),
            format!("based in {hq}"),
            None,
        ),
        fact(
            "staff",
            staff.to_string(),
            format!("It employs {staff} people."),
            format!("How many people does {name} employ?"),
            format!("{staff} employees"),
            Some(staff),
        ),
        fact(
            "product",
            product.to_owned(),
            format!("Its main product is {product}."),
            format!("What is the main product of {name}?"),
            format!("maker of {product}"),
            None,
        ),
        fact(
            "ceo",
            ceo.clone(),
            format!("The current chief executive is {ceo}."),
            format!("Who is the chief executive of {name}?"),
            format!("led by {ceo}"),
            None,
        ),
        fact(
            "plants",
            plants.to_string(),
            format!("The company runs {plants} factories."),
            format!("How many factories does {name} run?"),
            format!("{plants} factories"),
            Some(plants),
        ),
    ];
    Entity {
        kind: "company",
        intro: format!(
            "{name} is a manufacturer that few people outside its industry have heard of."
        ),
        name,
        facts,
    }
}

fn species(rng: &mut Rng) -> Entity {
    let name = format!(
        "{} {}",
        place_name(rng),
        rng.pick(&[
            "finch", "newt", "beetle", "shrew", "orchid", "moth", "frog", "lizard"
        ])
    );
    let habitat = *rng.pick(&[
        "mossy cloud forests",
        "salt marshes",
        "limestone caves",
        "alpine meadows",
        "mangrove swamps",
        "dry scrubland",
        "bamboo thickets",
        "volcanic slopes",
    ]);
    let len = rng.range(2, 60);
    let diet = *rng.pick(&[
        "ants",
        "fallen fruit",
        "snails",
        "pollen",
        "mosquito larvae",
        "seeds",
        "beetle grubs",
        "algae",
    ]);
    let life = rng.range(2, 25);
    let year = rng.range(1860, 2022);
    let finder = person(rng);
    let facts = vec![
        fact(
            "habitat",
            habitat.to_owned(),
            format!("It lives in {habitat}."),
            format!("Where does the {name} live?"),
            format!("found in {habitat}"),
            None,
        ),
        fact(
            "length",
            len.to_string(),
            format!("Adults grow to about {len} centimetres long."),
            format!("How long, in centimetres, do adult {name}s grow?"),
            format!("{len} cm long"),
            Some(len),
        ),
        fact(
            "diet",
            diet.to_owned(),
            format!("It feeds mainly on {diet}."),
            format!("What does the {name} mainly feed on?"),
            format!("eats {diet}"),
            None,
        ),
        fact(
            "lifespan",
            life.to_string(),
            format!("It can live for {life} years."),
            format!("How many years can the {name} live?"),
            format!("lives {life} years"),
            Some(life),
        ),
        fact(
            "discovered",
            year.to_string(),
            format!("Scientists first described it in {year}."),
            format!("In what year was the {name} first described?"),
            format!("described in {year}"),
            Some(year),
        ),
        fact(
            "discoverer",
            finder.clone(),
            format!("The first specimen was collected by {finder}."),
            format!("Who collected the first {name} specimen?"),
            format!("first collected by {finder}"),
            None,
        ),
    ];
    Entity {
        kind: "species",
        intro: format!("The {name} is a rarely seen species."),
        name,
        facts,
    }
}

fn expedition(rng: &mut Rng) -> Entity {
    let place = place_name(rng);
    let name = format!("the {place} Expedition");
    let leader = person(rng);
    let year = rng.range(1820, 1990);
    let members = rng.range(4, 40);
    let days = rng.range(20, 400);
    let found = *rng.pick(&[
        "a hidden lake",
        "a ruined watchtower",
        "a new species of fern",
        "an ancient shipwreck",
        "a glacier cave",
        "a meteorite",
        "a forgotten trade route",
        "fossil footprints",
    ]);
    let ship = format!(
        "the {}",
        rng.pick(&[
            "Albatross",
            "North Star",
            "Heron",
            "Resolute",
            "Wren",
            "Meridian"
        ])
    );
    let facts = vec![
        fact(
            "leader",
            leader.clone(),
            format!("It was led by {leader}."),
            format!("Who led {name}?"),
            format!("led by {leader}"),
            None,
        ),
        fact(
            "year",
            year.to_string(),
            format!("The team set out in {year}."),
            format!("In what year did {name} set out?"),
            format!("set out in {year}"),
            Some(year),
        ),
        fact(
            "members",
            members.to_string(),
            format!("The party had {members} members."),
            format!("How many members did {name} have?"),
            format!("{members} members"),
            Some(members),
        ),
        fact(
            "days",
            days.to_string(),
            format!("The journey lasted {days} days."),
            format!("How many days did {name} last?"),
            format!("lasting {days} days"),
            Some(days),
        ),
        fact(
            "found",
            found.to_owned(),
            format!("Its most famous result was finding {found}."),
            format!("What was the most famous find of {name}?"),
            format!("which found {found}"),
            None,
        ),
        fact(
            "ship",
            ship.clone(),
            format!("Supplies travelled aboard {ship}."),
            format!("Aboard which ship did the supplies of {name} travel?"),
            format!("supplied by {ship}"),
            None,
        ),
    ];
    Entity {
        kind: "expedition",
        intro: format!(
            "{} was a little-known journey of exploration.",
            capitalise(&name)
        ),
        name,
        facts,
    }
}

/// Filler sentences with no facts, to make passages longer and questions harder.
pub fn filler(rng: &mut Rng, name: &str) -> String {
    let adj = *rng.pick(&[
        "quiet",
        "remarkable",
        "curious",
        "modest",
        "unusual",
        "lively",
        "patient",
        "careful",
    ]);
    let noun = *rng.pick(&[
        "local historians",
        "visiting students",
        "newspaper reporters",
        "older residents",
        "amateur photographers",
        "travel writers",
        "retired teachers",
    ]);
    match rng.below(8) {
        0 => format!("Many {noun} describe {name} as {adj}."),
        1 => format!("Records about {name} are kept in a small archive."),
        2 => format!("Opinions about {name} differ, and {noun} still debate its importance."),
        3 => format!(
            "Some of the early documents were lost in a fire, so details are {adj} to reconstruct."
        ),
        4 => format!(
            "{} have written several short articles about it.",
            capitalise(noun)
        ),
        5 => format!("A {adj} exhibition once featured photographs connected to {name}."),
        6 => format!("Interest in the subject grew after {noun} shared old letters."),
        _ => format!("Even so, {noun} agree that the story is worth telling."),
    }
}

/// A passage: intro, the facts' sentences and `fillers` filler sentences mixed in.
pub fn passage(rng: &mut Rng, e: &Entity, n_facts: usize, fillers: usize) -> String {
    let mut sentences: Vec<String> = e
        .facts
        .iter()
        .take(n_facts)
        .map(|f| f.sentence.clone())
        .collect();
    for _ in 0..fillers {
        let at = rng.below(sentences.len() + 1);
        let f = filler(rng, &e.name);
        sentences.insert(at, f);
    }
    let mut out = e.intro.clone();
    for s in sentences {
        out.push(' ');
        out.push_str(&s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_values_appear_in_their_sentences_and_phrases() {
        let mut rng = Rng::new(1, "passage");
        for _ in 0..400 {
            let e = entity(&mut rng, None);
            for f in &e.facts {
                assert!(
                    f.sentence.contains(&f.value),
                    "{} / {}",
                    f.sentence,
                    f.value
                );
                assert!(f.phrase.contains(&f.value), "{} / {}", f.phrase, f.value);
            }
            let p = passage(&mut rng, &e, 4, 2);
            assert!(p.starts_with(&e.intro));
            for f in e.facts.iter().take(4) {
                assert!(p.contains(&f.sentence));
            }
        }
    }
}
