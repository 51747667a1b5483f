//! Python literal values as BFCL's checker sees them after `ast.parse` (model output) or
//! `json.loads` (ground truth), with Python's `==` and `repr`.
//!
//! bfcl_eval's `ast_checker.py` compares with `type(x) == T` and `x in list`, so the value model
//! keeps Python's distinctions: `bool` is not `int` for type checks but `True == 1` for
//! equality, `1 == 1.0`, and a tuple never equals a list.

use std::fmt;

use serde::Serialize;

/// A Python literal value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// `None` / JSON `null`.
    None,
    /// `True`/`False`.
    Bool(bool),
    /// An `int` (literals beyond `i64` are rejected by the parser).
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<Value>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A `dict`, in source order.
    Dict(Vec<(Value, Value)>),
}

/// Python's type of a [`Value`] (what `type(x)` would return).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyType {
    /// `NoneType`.
    NoneType,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `str`.
    Str,
    /// `list`.
    List,
    /// `tuple`.
    Tuple,
    /// `dict`.
    Dict,
}

impl PyType {
    /// Python's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            PyType::NoneType => "NoneType",
            PyType::Bool => "bool",
            PyType::Int => "int",
            PyType::Float => "float",
            PyType::Str => "str",
            PyType::List => "list",
            PyType::Tuple => "tuple",
            PyType::Dict => "dict",
        }
    }
}

impl Value {
    /// `type(self)`.
    pub fn py_type(&self) -> PyType {
        match self {
            Value::None => PyType::NoneType,
            Value::Bool(_) => PyType::Bool,
            Value::Int(_) => PyType::Int,
            Value::Float(_) => PyType::Float,
            Value::Str(_) => PyType::Str,
            Value::List(_) => PyType::List,
            Value::Tuple(_) => PyType::Tuple,
            Value::Dict(_) => PyType::Dict,
        }
    }

    /// True for `""`, BFCL's marker for "this optional parameter may be omitted".
    pub fn is_empty_str(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_empty())
    }

    /// Python `self == other`.
    pub fn py_eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Str(a), Str(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Dict(a), Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k.py_eq(k2) && v.py_eq(v2)))
            }
            _ => match (self.as_number(), other.as_number()) {
                (Some(Num::Int(a)), Some(Num::Int(b))) => a == b,
                (Some(a), Some(b)) => a.as_f64() == b.as_f64(),
                _ => false,
            },
        }
    }

    /// Python `self in items`.
    pub fn py_in(&self, items: &[Value]) -> bool {
        items.iter().any(|item| item.py_eq(self))
    }

    /// The value of `key` in a dict (Python `d[key]`), or `None` if absent or not a dict.
    pub fn dict_get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs.iter().find(|(k, _)| k.py_eq(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts `json.loads` output (ground truth) to a value: integers stay `int`, numbers
    /// with a fraction or exponent become `float`, objects become dicts with `str` keys.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::None,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Dict(
                map.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn as_number(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(i64::from(*b))),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Python `repr`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, items: &[Value]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) if x.is_nan() => f.write_str("nan"),
            Value::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "inf" } else { "-inf" })
            }
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 1e16 => write!(f, "{x:.1}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write_py_str(f, s),
            Value::List(items) => {
                f.write_str("[")?;
                seq(f, items)?;
                f.write_str("]")
            }
            Value::Tuple(items) => {
                f.write_str("(")?;
                seq(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Value::Dict(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Writes `s` quoted as Python's `repr` does (single quotes unless the text has one and no `"`).
fn write_py_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    f.write_str(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_follows_python() {
        assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(!Value::Str("1".into()).py_eq(&Value::Int(1)));
        let list = Value::List(vec![Value::Int(1), Value::Int(2)]);
        let tuple = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
        assert!(!list.py_eq(&tuple));
        let d1 = Value::Dict(vec![
            (Value::Str("a".into()), Value::Int(1)),
            (Value::Str("b".into()), Value::Int(2)),
        ]);
        let d2 = Value::Dict(vec![
            (Value::Str("b".into()), Value::Float(2.0)),
            (Value::Str("a".into()), Value::Int(1)),
        ]);
        assert!(d1.py_eq(&d2));
        assert!(!Value::Float(f64::NAN).py_eq(&Value::Float(f64::NAN)));
    }

    #[test]
    fn repr_follows_python() {
        let v = Value::List(vec![
            Value::Int(4),
            Value::Str("4".into()),
            Value::Float(2.0),
            Value::Float(0.5),
            Value::Str("it's".into()),
            Value::Tuple(vec![Value::None]),
            Value::Dict(vec![(Value::Str("k".into()), Value::Bool(true))]),
        ]);
        assert_eq!(
            v.to_string(),
            r#"[4, '4', 2.0, 0.5, "it's", (None,), {'k': True}]"#
        );
    }

    #[test]
    fn json_numbers_keep_int_and_float_apart() {
        let j: serde_json::Value =
            serde_json::from_str(r#"[1, 1.0, 2.5e3, "x", null, {"a": [true]}]"#).unwrap();
        let v = Value::from_json(&j);
        assert_eq!(v.to_string(), "[1, 1.0, 2500.0, 'x', None, {'a': [True]}]");
        let Value::List(items) = v else { panic!() };
        assert_eq!(items[0].py_type(), PyType::Int);
        assert_eq!(items[1].py_type(), PyType::Float);
    }
}
