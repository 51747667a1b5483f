//! Tool-use tasks: a system message lists tools as JSON schemas (OpenAI function-calling
//! shape: name, description, parameters), the user asks for something, and the answer is one
//! JSON call `{"name", "arguments"}`. Easy: one or two tools, literal values. Hard: three to
//! five tools to choose from, values that need converting (spelled-out numbers, "half past
//! seven in the evening", written dates), arrays and optional parameters.

use serde_json::{Map, Value, json};

use super::Task;
use super::rng::Rng;
use super::words::{CITIES, MONTHS, NAMES, TOPICS, number_words, surname};
use crate::check::Check;

/// Makes (request text, arguments) for the easy or hard variant of a tool.
type MakeRequest = fn(&mut Rng, bool) -> (String, Map<String, Value>);

/// A tool: its schema and a request generator.
struct Tool {
    schema: Value,
    make: MakeRequest,
}

fn tool(name: &str, description: &str, props: Value, required: &[&str]) -> Value {
    json!({
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": props, "required": required},
    })
}

fn args(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// (ISO date, written date).
fn date(rng: &mut Rng) -> (String, String) {
    let y = rng.range(2024, 2026);
    let m = rng.range(1, 12);
    let d = rng.range(1, 28);
    let suffix = match d {
        1 | 21 => "st",
        2 | 22 => "nd",
        3 | 23 => "rd",
        _ => "th",
    };
    (
        format!("{y}-{m:02}-{d:02}"),
        format!("{} {d}{suffix}, {y}", MONTHS[(m - 1) as usize]),
    )
}

/// (HH:MM, spoken form).
fn time(rng: &mut Rng) -> (String, String) {
    let h = rng.range(6, 22);
    let m = *rng.pick(&[0i64, 15, 30, 45]);
    let h12 = if h > 12 { h - 12 } else { h };
    let part = if h < 12 {
        "in the morning"
    } else if h < 17 {
        "in the afternoon"
    } else {
        "in the evening"
    };
    let spoken = match m {
        0 => format!("{} o'clock {part}", number_words(h12 as u32)),
        15 => format!("quarter past {} {part}", number_words(h12 as u32)),
        30 => format!("half past {} {part}", number_words(h12 as u32)),
        _ => {
            let next = if h12 == 12 { 1 } else { h12 + 1 };
            format!("quarter to {} {part}", number_words(next as u32))
        }
    };
    (format!("{h:02}:{m:02}"), spoken)
}

/// A count between 2 and 12, literally or in words.
fn count(rng: &mut Rng, hard: bool) -> (i64, String) {
    let n = rng.range(2, 12);
    let shown = if hard {
        number_words(n as u32)
    } else {
        n.to_string()
    };
    (n, shown)
}

fn tools() -> Vec<Tool> {
    vec![
        Tool {
            schema: tool(
                "get_weather",
                "Current weather for a city.",
                json!({
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}),
                &["city", "unit"],
            ),
            make: |r, hard| {
                let (city, country) = *r.pick(CITIES);
                let unit = *r.pick(&["celsius", "fahrenheit"]);
                let text = if hard {
                    format!(
                        "I'm packing for {city} in {country} and I think in {} degrees. What's it like there right now?",
                        if unit == "celsius" {
                            "Celsius"
                        } else {
                            "Fahrenheit"
                        }
                    )
                } else {
                    format!("What is the weather in {city} right now, in {unit}?")
                };
                (
                    text,
                    args(vec![("city", json!(city)), ("unit", json!(unit))]),
                )
            },
        },
        Tool {
            schema: tool(
                "convert_currency",
                "Convert an amount between currencies (ISO 4217 codes).",
                json!({
                "amount": {"type": "number"},
                "from_currency": {"type": "string"},
                "to_currency": {"type": "string"}}),
                &["amount", "from_currency", "to_currency"],
            ),
            make: |r, hard| {
                let cur = [
                    ("USD", "US dollars"),
                    ("EUR", "euros"),
                    ("JPY", "Japanese yen"),
                    ("GBP", "British pounds"),
                    ("CHF", "Swiss francs"),
                    ("CAD", "Canadian dollars"),
                    ("NOK", "Norwegian kroner"),
                    ("INR", "Indian rupees"),
                ];
                let pair = r.sample(&cur, 2);
                let amount = r.range(2, 99) * if hard { 1 } else { 10 };
                let text = if hard {
                    format!(
                        "How much is {} {} worth in {}?",
                        number_words(amount as u32),
                        pair[0].1,
                        pair[1].1
                    )
                } else {
                    format!("Convert {amount} {} to {}.", pair[0].0, pair[1].0)
                };
                (
                    text,
                    args(vec![
                        ("amount", json!(amount)),
                        ("from_currency", json!(pair[0].0)),
                        ("to_currency", json!(pair[1].0)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "set_alarm",
                "Set an alarm at a 24-hour HH:MM time.",
                json!({
                "time": {"type": "string", "description": "HH:MM, 24-hour"},
                "label": {"type": "string"}}),
                &["time", "label"],
            ),
            make: |r, hard| {
                let (hhmm, spoken) = time(r);
                let label = *r.pick(&[
                    "gym",
                    "take medicine",
                    "call mom",
                    "water the plants",
                    "team standup",
                    "pick up the kids",
                    "bake bread",
                    "stretch",
                    "pay rent",
                    "feed the cat",
                ]);
                let text = if hard {
                    format!("Wake me at {spoken} so I remember to {label}; label it '{label}'.")
                } else {
                    format!("Set an alarm for {hhmm} labelled '{label}'.")
                };
                (
                    text,
                    args(vec![("time", json!(hhmm)), ("label", json!(label))]),
                )
            },
        },
        Tool {
            schema: tool(
                "send_email",
                "Send an email.",
                json!({
                "to": {"type": "string"},
                "subject": {"type": "string"},
                "body": {"type": "string"}}),
                &["to", "subject", "body"],
            ),
            make: |r, hard| {
                let name = r.pick(NAMES).to_lowercase();
                let domain = *r.pick(&["example.com", "mail.org", "work.net", "school.edu"]);
                let to = format!("{name}@{domain}");
                let topic = *r.pick(TOPICS);
                let subject = format!("Notes on {topic}");
                let body = format!("Here are my notes on {topic}.");
                let text = if hard {
                    format!(
                        "Could you email {to}? Put 'Notes on {topic}' as the subject line and write exactly this as the message: 'Here are my notes on {topic}.'"
                    )
                } else {
                    format!("Send an email to {to} with subject '{subject}' and body '{body}'")
                };
                (
                    text,
                    args(vec![
                        ("to", json!(to)),
                        ("subject", json!(subject)),
                        ("body", json!(body)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "search_flights",
                "Search flights for a date (YYYY-MM-DD).",
                json!({
                "origin": {"type": "string"},
                "destination": {"type": "string"},
                "date": {"type": "string"},
                "passengers": {"type": "integer"}}),
                &["origin", "destination", "date", "passengers"],
            ),
            make: |r, hard| {
                let c = r.sample(CITIES, 2);
                let (iso, written) = date(r);
                let (n, shown) = count(r, hard);
                let text = if hard {
                    format!(
                        "We are {shown} people flying from {} to {} on {written}. Find us flights.",
                        c[0].0, c[1].0
                    )
                } else {
                    format!(
                        "Find flights from {} to {} on {iso} for {n} passengers.",
                        c[0].0, c[1].0
                    )
                };
                (
                    text,
                    args(vec![
                        ("origin", json!(c[0].0)),
                        ("destination", json!(c[1].0)),
                        ("date", json!(iso)),
                        ("passengers", json!(n)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "create_event",
                "Create a calendar event.",
                json!({
                "title": {"type": "string"},
                "date": {"type": "string"},
                "start_time": {"type": "string"},
                "duration_minutes": {"type": "integer"}}),
                &["title", "date", "start_time", "duration_minutes"],
            ),
            make: |r, hard| {
                let title = format!(
                    "{} with {}",
                    r.pick(&["Meeting", "Lunch", "Review", "Call", "Workshop", "Coffee"]),
                    surname(r)
                );
                let (iso, written) = date(r);
                let (hhmm, spoken) = time(r);
                let mins = *r.pick(&[30i64, 45, 60, 90, 120]);
                let text = if hard {
                    let dur = match mins {
                        30 => "half an hour".to_owned(),
                        60 => "an hour".to_owned(),
                        90 => "an hour and a half".to_owned(),
                        120 => "two hours".to_owned(),
                        m => format!("{} minutes", number_words(m as u32)),
                    };
                    format!(
                        "Put '{title}' in my calendar on {written}, starting at {spoken} and lasting {dur}."
                    )
                } else {
                    format!("Create an event '{title}' on {iso} at {hhmm} for {mins} minutes.")
                };
                (
                    text,
                    args(vec![
                        ("title", json!(title)),
                        ("date", json!(iso)),
                        ("start_time", json!(hhmm)),
                        ("duration_minutes", json!(mins)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "calculate_tip",
                "Compute a tip.",
                json!({
                "bill_amount": {"type": "number"},
                "tip_percent": {"type": "integer"}}),
                &["bill_amount", "tip_percent"],
            ),
            make: |r, hard| {
                let bill = r.range(12, 240);
                let pct = *r.pick(&[10i64, 12, 15, 18, 20, 25]);
                let text = if hard {
                    format!(
                        "Dinner came to {bill} dollars and the service was great, so I want to leave {} percent. How much is that?",
                        number_words(pct as u32)
                    )
                } else {
                    format!("Calculate a {pct}% tip on a bill of {bill} dollars.")
                };
                (
                    text,
                    args(vec![
                        ("bill_amount", json!(bill)),
                        ("tip_percent", json!(pct)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "book_table",
                "Reserve a restaurant table.",
                json!({
                "restaurant": {"type": "string"},
                "party_size": {"type": "integer"},
                "date": {"type": "string"},
                "time": {"type": "string"}}),
                &["restaurant", "party_size", "date", "time"],
            ),
            make: |r, hard| {
                let rest = format!(
                    "{} {}",
                    r.pick(&[
                        "Cafe",
                        "Trattoria",
                        "Bistro",
                        "Casa",
                        "The Golden",
                        "Little"
                    ]),
                    surname(r)
                );
                let (n, shown) = count(r, hard);
                let (iso, written) = date(r);
                let (hhmm, spoken) = time(r);
                let text = if hard {
                    format!("Book {rest} for {shown} of us on {written} at {spoken}, please.")
                } else {
                    format!("Reserve a table at {rest} for {n} on {iso} at {hhmm}.")
                };
                (
                    text,
                    args(vec![
                        ("restaurant", json!(rest)),
                        ("party_size", json!(n)),
                        ("date", json!(iso)),
                        ("time", json!(hhmm)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "set_thermostat",
                "Set a room's target temperature in Celsius.",
                json!({
                "room": {"type": "string"},
                "temperature_c": {"type": "integer"}}),
                &["room", "temperature_c"],
            ),
            make: |r, hard| {
                let room = *r.pick(&[
                    "living room",
                    "bedroom",
                    "kitchen",
                    "office",
                    "nursery",
                    "basement",
                    "guest room",
                    "studio",
                ]);
                let t = r.range(16, 26);
                let text = if hard {
                    format!(
                        "It's chilly in the {room}; make it {} degrees Celsius in there.",
                        number_words(t as u32)
                    )
                } else {
                    format!("Set the {room} thermostat to {t} C.")
                };
                (
                    text,
                    args(vec![("room", json!(room)), ("temperature_c", json!(t))]),
                )
            },
        },
        Tool {
            schema: tool(
                "add_task",
                "Add a to-do item.",
                json!({
                "task": {"type": "string"},
                "priority": {"type": "string", "enum": ["low", "medium", "high"]},
                "due_date": {"type": "string"}}),
                &["task", "priority"],
            ),
            make: |r, hard| {
                let task = format!(
                    "{} {}",
                    r.pick(&[
                        "Research",
                        "Write about",
                        "Read up on",
                        "Plan a trip about",
                        "Email the club about",
                        "Prepare slides on"
                    ]),
                    r.pick(TOPICS)
                );
                let pr = *r.pick(&["low", "medium", "high"]);
                if hard && r.chance(0.7) {
                    let (iso, written) = date(r);
                    let urgency = match pr {
                        "high" => "it's urgent",
                        "medium" => "it's moderately important",
                        _ => "it's not important",
                    };
                    (
                        format!(
                            "Remind me to do this by {written}: '{task}'. {}.",
                            super::words::capitalise(urgency)
                        ),
                        args(vec![
                            ("task", json!(task)),
                            ("priority", json!(pr)),
                            ("due_date", json!(iso)),
                        ]),
                    )
                } else {
                    (
                        format!("Add '{task}' to my to-do list with {pr} priority."),
                        args(vec![("task", json!(task)), ("priority", json!(pr))]),
                    )
                }
            },
        },
        Tool {
            schema: tool(
                "get_directions",
                "Route between two places.",
                json!({
                "origin": {"type": "string"},
                "destination": {"type": "string"},
                "mode": {"type": "string", "enum": ["driving", "walking", "transit", "cycling"]}}),
                &["origin", "destination", "mode"],
            ),
            make: |r, hard| {
                let places = [
                    "the train station",
                    "the airport",
                    "the old town",
                    "the university",
                    "the harbour",
                    "the museum",
                    "the stadium",
                    "the central market",
                ];
                let p = r.sample(&places, 2);
                let (city, _) = *r.pick(CITIES);
                let mode = *r.pick(&["driving", "walking", "transit", "cycling"]);
                let origin = format!("{} in {city}", p[0]);
                let dest = format!("{} in {city}", p[1]);
                let text = if hard {
                    let how = match mode {
                        "driving" => "by car",
                        "walking" => "on foot",
                        "transit" => "by public transport",
                        _ => "by bike",
                    };
                    format!("In {city}, how do I get from {} to {} {how}?", p[0], p[1])
                } else {
                    format!("Get {mode} directions from {origin} to {dest}.")
                };
                (
                    text,
                    args(vec![
                        ("origin", json!(origin)),
                        ("destination", json!(dest)),
                        ("mode", json!(mode)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "find_recipes",
                "Find recipes using ingredients.",
                json!({
                "ingredients": {"type": "array", "items": {"type": "string"}},
                "max_minutes": {"type": "integer"}}),
                &["ingredients", "max_minutes"],
            ),
            make: |r, hard| {
                let pool = [
                    "eggs",
                    "spinach",
                    "rice",
                    "chickpeas",
                    "tomatoes",
                    "lentils",
                    "mushrooms",
                    "tofu",
                    "potatoes",
                    "leeks",
                    "feta",
                    "basil",
                    "garlic",
                    "carrots",
                    "noodles",
                    "peppers",
                ];
                let k = if hard { 3 + r.below(2) } else { 2 };
                let ing = r.sample(&pool, k);
                let mins = *r.pick(&[15i64, 20, 30, 40, 45, 60]);
                let text = if hard {
                    let time = match mins {
                        60 => "an hour".to_owned(),
                        30 => "half an hour".to_owned(),
                        m => format!("{} minutes", number_words(m as u32)),
                    };
                    format!(
                        "I have {} and {} in the fridge and at most {time}. What can I cook?",
                        ing[..k - 1].join(", "),
                        ing[k - 1]
                    )
                } else {
                    format!(
                        "Find recipes with {} and {} that take at most {mins} minutes.",
                        ing[0], ing[1]
                    )
                };
                (
                    text,
                    args(vec![
                        ("ingredients", json!(ing)),
                        ("max_minutes", json!(mins)),
                    ]),
                )
            },
        },
        Tool {
            schema: tool(
                "get_news",
                "Latest headlines on a topic.",
                json!({
                "topic": {"type": "string"},
                "count": {"type": "integer"}}),
                &["topic", "count"],
            ),
            make: |r, hard| {
                let topic = *r.pick(TOPICS);
                let (n, shown) = count(r, hard);
                let text = if hard {
                    format!("Give me the {shown} latest headlines about {topic}.")
                } else {
                    format!("Show {n} news headlines on {topic}.")
                };
                (
                    text,
                    args(vec![("topic", json!(topic)), ("count", json!(n))]),
                )
            },
        },
        Tool {
            schema: tool(
                "track_package",
                "Status of a parcel by tracking number.",
                json!({
                "tracking_number": {"type": "string"},
                "carrier": {"type": "string", "enum": ["dhl", "ups", "fedex", "postal"]}}),
                &["tracking_number", "carrier"],
            ),
            make: |r, hard| {
                let num = format!(
                    "{}{:08}",
                    r.pick(&["ZX", "QA", "LP", "TR", "MB"]),
                    r.range(0, 99_999_999)
                );
                let carrier = *r.pick(&["dhl", "ups", "fedex", "postal"]);
                let shown = match carrier {
                    "dhl" => "DHL",
                    "ups" => "UPS",
                    "fedex" => "FedEx",
                    _ => "the postal service",
                };
                let text = if hard {
                    format!(
                        "My parcel was shipped with {shown} and the slip says {num}. Where is it?"
                    )
                } else {
                    format!("Track package {num} with carrier {carrier}.")
                };
                (
                    text,
                    args(vec![
                        ("tracking_number", json!(num)),
                        ("carrier", json!(carrier)),
                    ]),
                )
            },
        },
    ]
}

/// Generates one tool-use task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    let all = tools();
    let n_tools = if hard {
        3 + rng.below(3)
    } else {
        1 + rng.below(2)
    };
    let chosen: Vec<usize> = rng.sample(&(0..all.len()).collect::<Vec<_>>(), n_tools);
    let target = chosen[rng.below(chosen.len())];
    let (request, arguments) = (all[target].make)(rng, hard);
    let name = all[target].schema["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let schemas: Vec<String> = chosen.iter().map(|&i| all[i].schema.to_string()).collect();
    let system = format!(
        "You can call these tools:\n{}\nTo use a tool, reply with only a JSON object {{\"name\": <tool name>, \"arguments\": {{...}}}}.",
        schemas.join("\n")
    );
    let arguments = Value::Object(arguments);
    let output = json!({"name": name, "arguments": arguments}).to_string();
    let mut task = Task::single(
        if hard {
            "tool_use:choose_and_convert"
        } else {
            "tool_use:direct"
        },
        request,
        output,
        Check::JsonCall { name, arguments },
    );
    task.system = Some(system);
    task
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_match_schemas() {
        let mut rng = Rng::new(4, "tools-test");
        for i in 0..500 {
            let t = generate(&mut rng, i % 2 == 0);
            assert!(t.answer.verify(&t.output), "{}", t.output);
            let call: Value = serde_json::from_str(&t.output).unwrap();
            let name = call["name"].as_str().unwrap();
            let system = t.system.as_deref().unwrap();
            // The called tool is listed, and every required parameter is present.
            let schema_line = system
                .lines()
                .find(|l| l.contains(&format!("\"name\":\"{name}\"")))
                .expect("tool listed");
            let schema: Value = serde_json::from_str(schema_line).unwrap();
            for req in schema["parameters"]["required"].as_array().unwrap() {
                assert!(
                    call["arguments"].get(req.as_str().unwrap()).is_some(),
                    "{schema_line}\n{}",
                    t.output
                );
            }
            for key in call["arguments"].as_object().unwrap().keys() {
                assert!(schema["parameters"]["properties"].get(key).is_some());
            }
        }
    }

    #[test]
    fn spoken_times() {
        let mut rng = Rng::new(1, "t");
        for _ in 0..200 {
            let (hhmm, spoken) = time(&mut rng);
            let h: u32 = hhmm[..2].parse().unwrap();
            assert!(spoken.contains(if h < 12 {
                "morning"
            } else if h < 17 {
                "afternoon"
            } else {
                "evening"
            }));
        }
    }
}
