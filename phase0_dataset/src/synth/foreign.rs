//! Non-English rows planted on request (`non_english_rate`), so `lang` has real rows to find:
//! French, Spanish and German word problems, everyday questions and writing prompts, written
//! as natural sentences with slots. They keep exact, checkable answers like the English tasks.

use serde_json::json;

use super::Task;
use super::rng::Rng;
use super::words::NAMES;
use crate::check::Check;
use crate::schema::Domain;

/// ISO 639-3 codes of the planted languages.
pub const LANGS: [&str; 3] = ["fra", "spa", "deu"];

/// Items per language: (plural noun).
fn items(lang: &str) -> &'static [&'static str] {
    match lang {
        "fra" => &[
            "pommes",
            "crayons",
            "livres",
            "billes",
            "timbres",
            "gâteaux",
            "cartes postales",
            "bougies",
        ],
        "spa" => &[
            "manzanas", "lápices", "libros", "canicas", "sellos", "galletas", "postales", "velas",
        ],
        _ => &[
            "Äpfel",
            "Bleistifte",
            "Bücher",
            "Murmeln",
            "Briefmarken",
            "Kekse",
            "Postkarten",
            "Kerzen",
        ],
    }
}

/// One non-English task in `lang` and the domain it belongs to.
pub fn generate(rng: &mut Rng, lang: &str) -> (Task, Domain) {
    let name = *rng.pick(NAMES);
    let item = *rng.pick(items(lang));
    let a = rng.range(8, 60);
    let b = rng.range(2, a - 2);
    let c = rng.range(2, 30);
    let total = a - b + c;
    match rng.below(3) {
        0 => {
            let (q, sol) = match lang {
                "fra" => (
                    format!(
                        "{name} possède {a} {item}. Elle en donne {b} à sa voisine, puis elle en achète encore {c} au marché du samedi. Combien de {item} possède-t-elle maintenant ?"
                    ),
                    format!(
                        "Après le don, il lui reste {a} - {b} = {}. Après l'achat, elle en a {} + {c} = {total}.",
                        a - b,
                        a - b
                    ),
                ),
                "spa" => (
                    format!(
                        "{name} tiene {a} {item}. Le regala {b} a su vecina y después compra {c} más en el mercado del sábado. ¿Qué cantidad de {item} tiene ahora?"
                    ),
                    format!(
                        "Después del regalo le quedan {a} - {b} = {}. Después de la compra tiene {} + {c} = {total}.",
                        a - b,
                        a - b
                    ),
                ),
                _ => (
                    format!(
                        "{name} hat {a} {item}. Sie schenkt ihrer Nachbarin {b} davon und kauft danach auf dem Wochenmarkt noch {c} dazu. Wie viele {item} hat sie jetzt?"
                    ),
                    format!(
                        "Nach dem Geschenk bleiben {a} - {b} = {}. Nach dem Kauf sind es {} + {c} = {total}.",
                        a - b,
                        a - b
                    ),
                ),
            };
            (
                Task::single(
                    "foreign:math",
                    q,
                    format!("{sol}\nAnswer: {total}"),
                    Check::Exact {
                        value: json!(total),
                    },
                ),
                Domain::Math,
            )
        }
        1 => {
            let k = rng.range(2, 9);
            let (q, opts, why) = match lang {
                "fra" => (
                    format!(
                        "{name} laisse une glace au soleil pendant {k} heures en plein été. Que va-t-il se passer le plus probablement ?"
                    ),
                    [
                        "La glace fond.",
                        "La glace devient plus froide.",
                        "La glace se transforme en pierre.",
                    ],
                    "La chaleur du soleil fait fondre la glace.",
                ),
                "spa" => (
                    format!(
                        "{name} deja un helado al sol durante {k} horas en pleno verano. ¿Qué es lo más probable que ocurra?"
                    ),
                    [
                        "El helado se derrite.",
                        "El helado se vuelve más frío.",
                        "El helado se convierte en piedra.",
                    ],
                    "El calor del sol derrite el helado.",
                ),
                _ => (
                    format!(
                        "{name} lässt im Hochsommer {k} Stunden lang ein Eis in der Sonne liegen. Was passiert am wahrscheinlichsten?"
                    ),
                    [
                        "Das Eis schmilzt.",
                        "Das Eis wird kälter.",
                        "Das Eis wird zu Stein.",
                    ],
                    "Die Wärme der Sonne lässt das Eis schmelzen.",
                ),
            };
            let at = rng.below(3);
            let mut order = vec![opts[1], opts[2]];
            order.insert(at, opts[0]);
            let letters = ["A", "B", "C"];
            let listed: Vec<String> = order
                .iter()
                .enumerate()
                .map(|(i, o)| format!("{}) {o}", letters[i]))
                .collect();
            (
                Task::single(
                    "foreign:common_sense",
                    format!("{q}\n{}", listed.join("\n")),
                    format!("{why}\nAnswer: {}", letters[at]),
                    Check::Exact {
                        value: json!(letters[at]),
                    },
                ),
                Domain::CommonSense,
            )
        }
        _ => {
            let people = rng.sample(NAMES, 3);
            let (q, adj) = match lang {
                "fra" => (
                    format!(
                        "{} est plus grand que {}, et {} est plus grand que {}. Qui est le plus petit des trois amis ?",
                        people[0], people[1], people[1], people[2]
                    ),
                    "Le plus petit est donc",
                ),
                "spa" => (
                    format!(
                        "{} es más alto que {}, y {} es más alto que {}. ¿Quién es el más bajo de los tres amigos?",
                        people[0], people[1], people[1], people[2]
                    ),
                    "El más bajo es por lo tanto",
                ),
                _ => (
                    format!(
                        "{} ist größer als {}, und {} ist größer als {}. Wer ist der kleinste der drei Freunde?",
                        people[0], people[1], people[1], people[2]
                    ),
                    "Der kleinste ist also",
                ),
            };
            (
                Task::single(
                    "foreign:reasoning",
                    q,
                    format!("{adj} {}.\nAnswer: {}", people[2], people[2]),
                    Check::Exact {
                        value: json!(people[2]),
                    },
                ),
                Domain::Reasoning,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{LangConfig, Verdict};

    #[test]
    fn planted_rows_are_detected_as_their_language() {
        let cfg = LangConfig::default();
        let mut rng = Rng::new(0, "foreign-test");
        for i in 0..300 {
            let lang = LANGS[i % 3];
            let (t, _) = generate(&mut rng, lang);
            assert!(t.answer.verify(&t.output));
            match cfg.judge(&format!("{}\n{}", t.instruction, t.output)) {
                Verdict::Reject { lang: got, .. } => assert_eq!(got, lang, "{}", t.instruction),
                v => panic!("{v:?}: {}", t.instruction),
            }
        }
    }
}
