//! Word banks for the synthetic generator: names, places, objects and topics, plus a
//! syllable-based name maker for fictional towns, companies and species (so reading passages
//! never repeat a real-world fact the model could answer without reading).

use super::rng::Rng;

/// Weekday names, Monday first (ISO order).
pub const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Month names, January first.
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// First names.
pub const NAMES: &[&str] = &[
    "Amara", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keiko",
    "Liam", "Maya", "Nikhil", "Olivia", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wes", "Ximena", "Yusuf", "Zoe", "Aditi", "Bruno", "Carmen", "Dario", "Esther", "Felix",
    "Greta", "Hassan", "Ivy", "Jamal", "Kira", "Leon", "Mina", "Noah", "Oscar", "Priya", "Ravi",
    "Sofia", "Tomas", "Uma", "Victor", "Wanda", "Yara", "Zane", "Anika", "Boris", "Celia",
    "Duncan", "Elif", "Gideon", "Hana", "Idris", "Julia", "Kofi",
];

/// Countable objects for word problems (plural, singular).
pub const ITEMS: &[(&str, &str)] = &[
    ("apples", "apple"),
    ("pencils", "pencil"),
    ("stickers", "sticker"),
    ("marbles", "marble"),
    ("cookies", "cookie"),
    ("books", "book"),
    ("stamps", "stamp"),
    ("seashells", "seashell"),
    ("trading cards", "trading card"),
    ("beads", "bead"),
    ("cupcakes", "cupcake"),
    ("tomatoes", "tomato"),
    ("bottles of water", "bottle of water"),
    ("notebooks", "notebook"),
    ("tulip bulbs", "tulip bulb"),
    ("postcards", "postcard"),
    ("batteries", "battery"),
    ("candles", "candle"),
    ("puzzle pieces", "puzzle piece"),
    ("eggs", "egg"),
    ("oranges", "orange"),
    ("paper cranes", "paper crane"),
    ("coins", "coin"),
    ("balloons", "balloon"),
    ("chess pieces", "chess piece"),
    ("comic books", "comic book"),
    ("muffins", "muffin"),
    ("buttons", "button"),
    ("crayons", "crayon"),
    ("screws", "screw"),
];

/// Containers for multiplication problems.
pub const CONTAINERS: &[&str] = &[
    "box", "crate", "bag", "jar", "basket", "tray", "carton", "bin", "pack", "tin",
];

/// Cities (with country) for tools and passages.
pub const CITIES: &[(&str, &str)] = &[
    ("Lisbon", "Portugal"),
    ("Oslo", "Norway"),
    ("Nairobi", "Kenya"),
    ("Lima", "Peru"),
    ("Hanoi", "Vietnam"),
    ("Montreal", "Canada"),
    ("Krakow", "Poland"),
    ("Accra", "Ghana"),
    ("Osaka", "Japan"),
    ("Seville", "Spain"),
    ("Perth", "Australia"),
    ("Denver", "USA"),
    ("Bergen", "Norway"),
    ("Porto", "Portugal"),
    ("Cusco", "Peru"),
    ("Tunis", "Tunisia"),
    ("Valparaiso", "Chile"),
    ("Tbilisi", "Georgia"),
    ("Chiang Mai", "Thailand"),
    ("Edinburgh", "UK"),
    ("Ghent", "Belgium"),
    ("Lyon", "France"),
    ("Munich", "Germany"),
    ("Bologna", "Italy"),
    ("Izmir", "Turkey"),
    ("Cebu", "Philippines"),
    ("Hobart", "Australia"),
    ("Austin", "USA"),
    ("Quito", "Ecuador"),
    ("Zagreb", "Croatia"),
    ("Riga", "Latvia"),
    ("Busan", "South Korea"),
    ("Kochi", "India"),
    ("Marrakesh", "Morocco"),
    ("Halifax", "Canada"),
    ("Tallinn", "Estonia"),
    ("Cordoba", "Argentina"),
    ("Dakar", "Senegal"),
    ("Reykjavik", "Iceland"),
    ("Salzburg", "Austria"),
];

/// Topics for writing tasks.
pub const TOPICS: &[&str] = &[
    "public libraries",
    "urban gardening",
    "night trains",
    "tide pools",
    "open-source software",
    "bicycle commuting",
    "community radio",
    "rainwater harvesting",
    "board games",
    "beekeeping",
    "street food markets",
    "solar cookers",
    "migratory birds",
    "handwritten letters",
    "river cleanups",
    "local museums",
    "sourdough baking",
    "mountain huts",
    "repair cafes",
    "amateur astronomy",
    "tree planting",
    "chess clubs",
    "wind farms",
    "wildflower meadows",
    "second-hand bookshops",
    "learning a new language",
    "morning walks",
    "volunteer firefighters",
    "coral reefs",
    "lighthouses",
    "public parks",
    "composting",
    "folk music",
    "ferry crossings",
    "recycling electronics",
    "desert oases",
    "school choirs",
    "quiet hours in cafes",
    "tiny houses",
    "kite festivals",
    "dog shelters",
    "glacier hikes",
    "tea ceremonies",
    "farmers markets",
    "robotics clubs",
    "pottery classes",
    "night markets",
    "seed libraries",
];

/// Syllables for made-up proper names.
const SYL_A: &[&str] = &[
    "Mar", "Esk", "Vel", "Dor", "Tal", "Bren", "Cal", "Hal", "Lun", "Ost", "Quin", "Rav", "Sel",
    "Thorn", "Ul", "Wes", "Yar", "Zen", "Ash", "Bel", "Cor", "Fen", "Gal", "Kel", "Mor", "Nor",
    "Pel", "Stan", "Tre", "Vin",
];
const SYL_B: &[&str] = &[
    "a", "e", "i", "o", "ar", "en", "il", "or", "un", "ow", "ay", "el",
];
const SYL_C: &[&str] = &[
    "by", "ford", "holt", "mere", "stead", "wick", "dale", "haven", "ton", "field", "brook",
    "moor", "crest", "gate", "wood", "port",
];

/// A made-up place name like "Velarford".
pub fn place_name(rng: &mut Rng) -> String {
    format!("{}{}{}", rng.pick(SYL_A), rng.pick(SYL_B), rng.pick(SYL_C))
}

/// A made-up surname like "Tal-Oswick" or "Brenholt".
pub fn surname(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SYL_A), rng.pick(SYL_C))
}

/// A full name: real first name + made-up surname.
pub fn person(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(NAMES), surname(rng))
}

/// Spells 0..=99 in English words (for tool-use argument conversion).
pub fn number_words(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    match n {
        0..=19 => ONES[n as usize].to_owned(),
        20..=99 if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_owned(),
        20..=99 => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
        _ => n.to_string(),
    }
}

/// Ordinal words for positions 1..=8.
pub fn ordinal(n: usize) -> &'static str {
    const ORD: [&str; 9] = [
        "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
    ];
    ORD.get(n).copied().unwrap_or("last")
}

/// Capitalises the first letter.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_words_spelling() {
        assert_eq!(number_words(7), "seven");
        assert_eq!(number_words(40), "forty");
        assert_eq!(number_words(73), "seventy-three");
    }

    #[test]
    fn made_up_names_vary() {
        let mut r = Rng::new(0, "n");
        let names: std::collections::HashSet<String> =
            (0..200).map(|_| place_name(&mut r)).collect();
        assert!(names.len() > 150, "{}", names.len());
        assert_eq!(capitalise("tide pools"), "Tide pools");
    }
}
