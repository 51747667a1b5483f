//! Decoding a model's tool calls from text, as bfcl_eval `model_handler/utils.py`
//! `default_decode_ast_prompting` + `ast_parse` + `resolve_ast_by_type` do, without Python.
//!
//! BFCL strips "`", newlines and spaces from both ends, wraps the text in `[...]` if it is not
//! already, parses it with `ast.parse(mode="eval")` and requires every list element to be a
//! call; only keyword arguments are kept. Argument values are literals (`ast.Constant`, lists,
//! tuples, dicts, `-x`), bare names (kept as their text), arithmetic (BFCL `eval`s it), and nested
//! calls (a dict `{name: kwargs}`, or their source text when they have no keywords).
//!
//! Departures, all on inputs BFCL handles oddly or not at all: `+x` is `x` (BFCL negates any
//! unary operand), arithmetic is limited to numbers (and `str + str`), integers must fit in
//! `i64`, and lambdas, subscripts, f-strings, bytes, sets and `*`/`**` unpacking are rejected.
//! As an extension, a JSON list (or object) of calls is also accepted: `{"name", "arguments"}`
//! (arguments as an object or a JSON string), `{"function", "parameters"}` (BFCL's JSON format)
//! or OpenAI's `{"type": "function", "function": {...}}`.

use serde::Serialize;

use super::syntax::{Cursor, ParseError};
use super::value::Value;

/// One decoded function call: BFCL's `{name: {param: value}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Call {
    /// The (possibly dotted) function name.
    pub name: String,
    /// Keyword arguments in source order.
    pub args: Vec<(String, Value)>,
}

impl Call {
    /// The argument named `name`.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A parsed expression, before BFCL's `resolve_ast_by_type` turns it into a [`Value`].
#[derive(Clone, Debug)]
pub(super) enum Expr {
    /// A literal (or folded arithmetic).
    Const(Value),
    /// A bare or dotted name.
    Name(String),
    /// A call.
    Call {
        name: String,
        positional: Vec<Expr>,
        keywords: Vec<(String, Expr)>,
    },
    /// `[...]`.
    List(Vec<Expr>),
    /// `(...)` with a comma.
    Tuple(Vec<Expr>),
    /// `{k: v, ...}`.
    Dict(Vec<(Expr, Expr)>),
}

/// Decodes the calls in a model's output. An empty list (`[]`, or empty text) decodes to no
/// calls. Output wrapped in a Markdown fence fails, as it does in BFCL.
pub fn parse_calls(output: &str) -> Result<Vec<Call>, ParseError> {
    if let Some(calls) = parse_json_calls(output.trim()) {
        return Ok(calls);
    }
    // default_decode_ast_prompting, then ast_parse's `.strip().strip("'")`.
    let trimmed = output.trim_matches(['`', '\n', ' ']);
    let mut wrapped = String::with_capacity(trimmed.len() + 2);
    if !trimmed.starts_with('[') {
        wrapped.push('[');
    }
    wrapped.push_str(trimmed);
    if !trimmed.ends_with(']') {
        wrapped.push(']');
    }
    let source = wrapped.trim().trim_matches('\'');
    let mut cursor = Cursor::new(source);
    let expr = cursor.expr()?;
    cursor.skip_ws();
    if !cursor.at_end() {
        return Err(cursor.error("unexpected text after the expression"));
    }
    let elements = match expr {
        call @ Expr::Call { .. } => vec![call],
        Expr::List(items) | Expr::Tuple(items) => items,
        _ => return Err(ParseError::new(0, "expected a list of function calls")),
    };
    elements
        .into_iter()
        .enumerate()
        .map(|(i, e)| match e {
            Expr::Call { name, keywords, .. } => Ok(Call {
                name,
                args: keywords
                    .into_iter()
                    .map(|(k, v)| Ok((k, resolve(v)?)))
                    .collect::<Result<_, String>>()
                    .map_err(|m| ParseError::new(0, m))?,
            }),
            other => Err(ParseError::new(
                0,
                format!("element {i} is not a function call: {}", unparse(&other)),
            )),
        })
        .collect()
}

/// BFCL's `resolve_ast_by_type`.
fn resolve(expr: Expr) -> Result<Value, String> {
    Ok(match expr {
        Expr::Const(v) => v,
        Expr::Name(n) if !n.contains('.') => Value::Str(n),
        Expr::Name(n) => return Err(format!("unsupported value: attribute {n}")),
        call @ Expr::Call { .. } => {
            let Expr::Call { name, keywords, .. } = &call else {
                unreachable!()
            };
            if keywords.is_empty() {
                Value::Str(unparse(&call))
            } else {
                let kwargs = keywords
                    .iter()
                    .map(|(k, v)| Ok((Value::Str(k.clone()), resolve(v.clone())?)))
                    .collect::<Result<_, String>>()?;
                Value::Dict(vec![(Value::Str(name.clone()), Value::Dict(kwargs))])
            }
        }
        Expr::List(items) => Value::List(items.into_iter().map(resolve).collect::<Result<_, _>>()?),
        Expr::Tuple(items) => {
            Value::Tuple(items.into_iter().map(resolve).collect::<Result<_, _>>()?)
        }
        Expr::Dict(pairs) => Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| Ok((resolve(k)?, resolve(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Source text for an expression, close to `ast.unparse`.
fn unparse(expr: &Expr) -> String {
    let join = |items: &[Expr]| items.iter().map(unparse).collect::<Vec<_>>().join(", ");
    match expr {
        Expr::Const(v) => v.to_string(),
        Expr::Name(n) => n.clone(),
        Expr::Call {
            name,
            positional,
            keywords,
        } => {
            let mut args: Vec<String> = positional.iter().map(unparse).collect();
            args.extend(keywords.iter().map(|(k, v)| format!("{k}={}", unparse(v))));
            format!("{name}({})", args.join(", "))
        }
        Expr::List(items) => format!("[{}]", join(items)),
        Expr::Tuple(items) if items.len() == 1 => format!("({},)", unparse(&items[0])),
        Expr::Tuple(items) => format!("({})", join(items)),
        Expr::Dict(pairs) => {
            let body: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", unparse(k), unparse(v)))
                .collect();
            format!("{{{}}}", body.join(", "))
        }
    }
}

/// Calls written as JSON, or `None` if `text` is not JSON of that shape.
fn parse_json_calls(text: &str) -> Option<Vec<Call>> {
    if !(text.starts_with('[') || text.starts_with('{')) {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    match &json {
        serde_json::Value::Array(items) => items.iter().map(json_call).collect(),
        serde_json::Value::Object(_) => Some(vec![json_call(&json)?]),
        _ => None,
    }
}

fn json_call(item: &serde_json::Value) -> Option<Call> {
    let obj = item.as_object()?;
    let (name, args) = match (obj.get("function"), obj.get("name")) {
        (Some(serde_json::Value::Object(f)), _) => (f.get("name")?, f.get("arguments")),
        (Some(name @ serde_json::Value::String(_)), None) => (name, obj.get("parameters")),
        (None, Some(name)) => (name, obj.get("arguments").or_else(|| obj.get("parameters"))),
        _ => return None,
    };
    let name = name.as_str()?.to_owned();
    let parsed;
    let args = match args {
        None | Some(serde_json::Value::Null) => return Some(Call { name, args: vec![] }),
        Some(serde_json::Value::String(s)) => {
            parsed = serde_json::from_str::<serde_json::Value>(s).ok()?;
            &parsed
        }
        Some(other) => other,
    };
    let args = args
        .as_object()?
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_json(v)))
        .collect();
    Some(Call { name, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Call {
        let mut calls = parse_calls(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(calls.len(), 1, "{src}");
        calls.remove(0)
    }

    #[test]
    fn bracketed_and_bare_calls() {
        let calls =
            parse_calls(r#"[func_name(a=1, b="x"), other(c=[1,2], d={"k": 0.5})]"#).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "func_name");
        assert_eq!(calls[0].arg("b"), Some(&Value::Str("x".into())));
        assert_eq!(calls[1].arg("d").unwrap().to_string(), "{'k': 0.5}");
        let call = one("math.factorial(number=5)");
        assert_eq!(
            (call.name.as_str(), call.arg("number")),
            ("math.factorial", Some(&Value::Int(5)))
        );
        assert_eq!(parse_calls("f(a=1), g(b=2)").unwrap().len(), 2);
        assert_eq!(
            one("```\nf(a=True)\n```").arg("a"),
            Some(&Value::Bool(true))
        );
    }

    #[test]
    fn literals() {
        let c = one(
            r#"f(a=-3, b=1e3, c=.5, d=0x1F, e=1_000, f=None, g=(1,), h=(), i=(2), j='it\'s', k="\u00e9\n", l=r'\d', m='a' "b", n=[], o={})"#,
        );
        let got: Vec<String> = c.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            got,
            [
                "a=-3",
                "b=1000.0",
                "c=0.5",
                "d=31",
                "e=1000",
                "f=None",
                "g=(1,)",
                "h=()",
                "i=2",
                r#"j="it's""#,
                r"k='é\n'",
                r"l='\\d'",
                "m='ab'",
                "n=[]",
                "o={}"
            ]
        );
        assert_eq!(
            one("f(s='''multi\nline''')").arg("s"),
            Some(&Value::Str("multi\nline".into()))
        );
    }

    #[test]
    fn names_calls_and_arithmetic_follow_bfcl() {
        let c = one("f(a=x, b=g(1, 2), c=h(k=1), d=2**10, e=1/4, f=-(3), g=7//2, h=...)");
        assert_eq!(c.arg("a"), Some(&Value::Str("x".into())));
        assert_eq!(c.arg("b"), Some(&Value::Str("g(1, 2)".into())));
        assert_eq!(c.arg("c").unwrap().to_string(), "{'h': {'k': 1}}");
        assert_eq!(c.arg("d"), Some(&Value::Int(1024)));
        assert_eq!(c.arg("e"), Some(&Value::Float(0.25)));
        assert_eq!(c.arg("f"), Some(&Value::Int(-3)));
        assert_eq!(c.arg("g"), Some(&Value::Int(3)));
        assert_eq!(c.arg("h"), Some(&Value::Str("...".into())));
        // Positional arguments are dropped, as in BFCL's resolve_ast_call.
        assert!(one("f(1, b=2)").arg("b").is_some());
        assert_eq!(one("f(1, b=2)").args.len(), 1);
    }

    #[test]
    fn json_calls() {
        let calls = parse_calls(r#"[{"name": "f", "arguments": {"a": 1, "b": [1.0]}}, {"name": "g", "arguments": "{\"c\": true}"}]"#).unwrap();
        assert_eq!(calls[0].arg("b").unwrap().to_string(), "[1.0]");
        assert_eq!(calls[1].arg("c"), Some(&Value::Bool(true)));
        let bfcl = one(r#"[{"function": "f", "parameters": {"x": "y"}}]"#);
        assert_eq!(bfcl.arg("x"), Some(&Value::Str("y".into())));
        let oai = one(r#"{"type": "function", "function": {"name": "f", "arguments": "{}"}}"#);
        assert!(oai.args.is_empty());
        assert!(parse_calls("[]").unwrap().is_empty());
        assert!(parse_calls("").unwrap().is_empty());
    }

    #[test]
    fn rejects_what_bfcl_cannot_decode() {
        for bad in [
            "I cannot help with that.",
            "```python\n[f(a=1)]\n```",
            "[f(a=1), 3]",
            "f(a=1",
            "f(a=1, a=2)",
            "f(a={1, 2})",
            "f(a=f'{x}')",
            "f(a=1, 2)",
            "f(**kw)",
            "f(a=[1 2])",
            "f(a=99999999999999999999)",
        ] {
            assert!(parse_calls(bad).is_err(), "{bad:?} should not decode");
        }
    }
}
