//! The minijinja environment chat templates run in, configured like transformers 4.57's
//! `_compile_jinja_template` (`transformers/utils/chat_template_utils.py`): `trim_blocks`,
//! `lstrip_blocks`, loop controls, no autoescaping, the `raise_exception` and `strftime_now` globals
//! and a `tojson` filter that behaves like Python's `json.dumps(ensure_ascii=False)`.
//!
//! minijinja is not Jinja2, so the places where templates see Python semantics are patched here:
//! printed values use Python's `str()` (`None`, `True`, `1e+20`, `['a', 1]`), `trim`/`strip` use
//! Python's whitespace set, `is iterable` / `is sequence` follow Python's protocols, and Python
//! string/dict methods come from minijinja-contrib's `pycompat`. The golden test
//! `fixtures/chat_templates/compat.jinja` pins each of these against Jinja2 3.1.6.

use std::fmt::Write as _;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};

use crate::strftime;

/// The error a template's `raise_exception(message)` call carries as its source, so that
/// [`crate::Error::TemplateRaised`] can be told apart from other render errors.
#[derive(Debug)]
pub(crate) struct Raised(pub String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// Builds the environment every chat template is compiled in. `now` fixes the time `strftime_now`
/// formats; `None` uses the current UTC time (transformers uses local time, which is UTC in our
/// containers).
pub(crate) fn environment(now: Option<time::OffsetDateTime>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_formatter(python_formatter);
    env.set_unknown_method_callback(python_method);
    env.add_filter("tojson", tojson);
    env.add_filter("trim", trim);
    env.add_test("iterable", is_iterable);
    env.add_test("sequence", is_sequence);
    env.add_function("raise_exception", raise_exception);
    set_clock(&mut env, now);
    env
}

/// (Re)registers `strftime_now` with a fixed or live clock.
pub(crate) fn set_clock(env: &mut Environment<'static>, now: Option<time::OffsetDateTime>) {
    env.add_function(
        "strftime_now",
        move |format: &str| -> Result<String, Error> {
            let at = now.unwrap_or_else(time::OffsetDateTime::now_utc);
            Ok(strftime::format(format, &at))
        },
    );
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message.clone()).with_source(Raised(message)))
}

/// Python's `str.isspace()` set: Rust's `White_Space` plus the four ASCII separators U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip<'a>(s: &'a str, chars: Option<&str>, left: bool, right: bool) -> &'a str {
    let matches = |c: char| match chars {
        Some(set) => set.contains(c),
        None => is_py_space(c),
    };
    let s = if left {
        s.trim_start_matches(matches)
    } else {
        s
    };
    if right {
        s.trim_end_matches(matches)
    } else {
        s
    }
}

/// Jinja2's `trim(value, chars=None)` is `str(value).strip(chars)`.
fn trim(value: &Value, chars: Option<String>) -> String {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => py_str(value),
    };
    py_strip(&text, chars.as_deref(), true, true).to_string()
}

/// Python method calls on template values (`s.strip()`, `d.items()`…): `strip`/`lstrip`/`rstrip`
/// with Python's whitespace set; everything else goes to minijinja-contrib's pycompat.
pub fn python_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let (Some(s), "strip" | "lstrip" | "rstrip") = (value.as_str(), method) {
        let chars = match args {
            [] => None,
            [v] if v.is_none() => None,
            [v] => Some(v.as_str().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{method} arg must be None or str"),
                )
            })?),
            _ => return Err(Error::from(ErrorKind::TooManyArguments)),
        };
        let (left, right) = match method {
            "strip" => (true, true),
            "lstrip" => (true, false),
            _ => (false, true),
        };
        return Ok(Value::from(py_strip(s, chars, left, right)));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Python's `iter(value)` succeeds: strings, lists, dicts and Jinja2's `Undefined`; not `None`.
fn is_iterable(value: &Value) -> bool {
    match value.kind() {
        ValueKind::None | ValueKind::Number | ValueKind::Bool => false,
        ValueKind::Undefined => true,
        _ => value.try_iter().is_ok(),
    }
}

/// Jinja2's `sequence` test: the value has `__len__` and `__getitem__` (strings, lists, dicts and
/// `Undefined`).
fn is_sequence(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::String
            | ValueKind::Seq
            | ValueKind::Map
            | ValueKind::Undefined
            | ValueKind::Bytes
    )
}

/// Renders values as Python's `str()` does (`None`, `True`, repr of lists and dicts).
pub fn python_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Seq | ValueKind::Map => {
            out.write_str(&py_str(value)).map_err(|e| {
                Error::new(ErrorKind::WriteFailure, "formatting failed").with_source(e)
            })
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Python's `str(value)` (strings are returned unquoted).
pub fn py_str(value: &Value) -> String {
    match value.as_str() {
        Some(s) if value.kind() == ValueKind::String => s.to_string(),
        _ => py_repr(value),
    }
}

/// Python's `repr(value)` for the types JSON and templates produce.
pub(crate) fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&py_number(value, false)),
        ValueKind::String => write_str_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key);
                    out.push_str(": ");
                    write_repr(out, &value.get_item(&key).unwrap_or_default());
                }
            }
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                }
            }
            out.push(']');
        }
        _ => out.push_str(&value.to_string()),
    }
}

/// Python's string repr: single quotes unless the text has a single quote and no double quote;
/// control characters escaped. (Python also escapes non-printable non-ASCII characters; such
/// characters do not occur in chat templates' data, so they are kept as they are.)
fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A number as Python prints it: integers in decimal, floats with `float.__repr__`
/// (`json` spells the non-finite ones `NaN`/`Infinity`).
fn py_number(value: &Value, json: bool) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => py_float(f, json),
        Err(_) => value.to_string(),
    }
}

/// `float.__repr__`: the shortest round-trip digits, fixed notation for decimal exponents in
/// [-4, 16), scientific (`1e+16`, `1.5e-07`) outside.
pub(crate) fn py_float(f: f64, json: bool) -> String {
    if f.is_nan() {
        return if json { "NaN" } else { "nan" }.to_string();
    }
    if f.is_infinite() {
        let s = if json { "Infinity" } else { "inf" };
        return if f < 0.0 {
            format!("-{s}")
        } else {
            s.to_string()
        };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.5e-7", "1e20", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let decpt = exp + 1;
    let body = if (-3..=16).contains(&decpt) {
        let n = digits.len() as i32;
        if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= n {
            format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
        } else {
            format!(
                "{}.{}",
                &digits[..decpt as usize],
                &digits[decpt as usize..]
            )
        }
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{}{}e{}{:02}", &digits[..1], rest, esign, exp.abs())
    };
    format!("{sign}{body}")
}

/// Options of transformers' `tojson` filter, i.e. of `json.dumps`.
struct JsonOptions {
    ensure_ascii: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
}

/// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
fn tojson(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let positional = args.0;
    if positional.len() > 4 {
        return Err(Error::from(ErrorKind::TooManyArguments));
    }
    let get = |i: usize, name: &str| -> Result<Option<Value>, Error> {
        if kwargs.has(name) {
            return Ok(Some(kwargs.get::<Value>(name)?));
        }
        Ok(positional.get(i).cloned())
    };
    let ensure_ascii = get(0, "ensure_ascii")?.is_some_and(|v| v.is_true());
    let indent = match get(1, "indent")? {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) if v.kind() == ValueKind::String => {
            Some(v.as_str().unwrap_or_default().to_string())
        }
        Some(v) => match v.as_i64() {
            Some(n) => Some(" ".repeat(n.max(0) as usize)),
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson indent must be an int or a string",
                ));
            }
        },
    };
    let (item_sep, key_sep) = match get(2, "separators")? {
        Some(v) if !v.is_none() => {
            let parts: Vec<Value> = v.try_iter()?.collect();
            match parts.as_slice() {
                [a, b] if a.as_str().is_some() && b.as_str().is_some() => (
                    a.as_str().unwrap_or_default().to_string(),
                    b.as_str().unwrap_or_default().to_string(),
                ),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson separators must be a pair of strings",
                    ));
                }
            }
        }
        _ if indent.is_some() => (",".to_string(), ": ".to_string()),
        _ => (", ".to_string(), ": ".to_string()),
    };
    let sort_keys = get(3, "sort_keys")?.is_some_and(|v| v.is_true());
    kwargs.assert_all_used()?;
    let options = JsonOptions {
        ensure_ascii,
        indent,
        item_sep,
        key_sep,
        sort_keys,
    };
    let mut out = String::new();
    write_json(&mut out, value, &options, 0)?;
    Ok(Value::from(out))
}

fn write_newline(out: &mut String, options: &JsonOptions, level: usize) {
    if let Some(indent) = &options.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(indent);
        }
    }
}

/// A map key as `json.dumps` writes it: strings as they are, numbers/bools/None converted.
fn json_key(key: &Value) -> Result<String, Error> {
    Ok(match key.kind() {
        ValueKind::String => key.as_str().unwrap_or_default().to_string(),
        ValueKind::Number => py_number(key, true),
        ValueKind::Bool => if key.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::None => "null".to_string(),
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: keys must be str, int, float, bool or None, not {kind}"),
            ));
        }
    })
}

fn write_json(
    out: &mut String,
    value: &Value,
    options: &JsonOptions,
    level: usize,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&py_number(value, true)),
        ValueKind::String => write_json_str(
            out,
            value.as_str().unwrap_or_default(),
            options.ensure_ascii,
        ),
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                entries.push((json_key(&key)?, item));
            }
            if options.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&options.item_sep);
                }
                write_newline(out, options, level + 1);
                write_json_str(out, key, options.ensure_ascii);
                out.push_str(&options.key_sep);
                write_json(out, item, options, level + 1)?;
            }
            write_newline(out, options, level);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&options.item_sep);
                }
                write_newline(out, options, level + 1);
                write_json(out, item, options, level + 1)?;
            }
            write_newline(out, options, level);
            out.push(']');
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: object of type {kind} is not JSON serializable"),
            ));
        }
    }
    Ok(())
}

/// `json.dumps` string escaping: `\"`, `\\`, the short escapes for \b \f \n \r \t, `\u00XX` for
/// other control characters; with `ensure_ascii` every non-ASCII character becomes `\uXXXX`
/// (UTF-16 surrogate pairs above the BMP) and DEL becomes `\u007f`.
fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && (c as u32) >= 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Hand-checked against CPython 3.11's repr().
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (2.5e-300, "2.5e-300"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float(f, false), want, "{f:e}");
        }
        assert_eq!(py_float(f64::NAN, true), "NaN");
        assert_eq!(py_float(f64::NEG_INFINITY, true), "-Infinity");
    }

    #[test]
    fn python_whitespace_includes_ascii_separators() {
        assert_eq!(py_strip("\u{1f} x \u{a0}", None, true, true), "x");
        assert_eq!(py_strip("xxhixx", Some("x"), true, false), "hixx");
    }
}
