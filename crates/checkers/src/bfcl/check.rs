//! BFCL's AST checker for Python calls, following bfcl_eval 2026.3.23
//! `eval_checker/ast_eval/ast_checker.py` (`simple_function_checker`, `type_checker`,
//! `string_checker`, `list_checker`, `dict_checker`, `list_dict_checker`,
//! `multiple_function_checker`, `parallel_function_checker_no_order`) rule for rule.
//!
//! The rules worth knowing: a parameter must be documented *and* appear in the ground truth;
//! `""` among the acceptable values means "may be omitted"; an `int` is accepted for a `float`
//! parameter (but not inside a float array); a tuple is accepted for a `tuple` parameter; if the
//! ground truth's values have another type than the documented one, the value is treated as a
//! "variable" and compared exactly; strings (also inside lists and dicts, one level deep) are
//! compared after `standardize_string`: drop ` ,./-_*^`, lowercase, `'` → `"`. Parallel calls
//! are matched greedily in ground-truth order, as BFCL does. Error types are BFCL's strings.

use super::parse::Call;
use super::value::{PyType, Value};
use super::{ExpectedCall, Failure, FunctionDoc};
use crate::error::{Error, Result};

/// Pass, or the first failure BFCL would report.
pub(super) type Check = std::result::Result<(), Failure>;

fn fail(error_type: &'static str, reason: impl Into<String>) -> Check {
    Err(Failure {
        error_type,
        reason: reason.into(),
    })
}

/// `PYTHON_TYPE_MAPPING`: a documented type name to the Python type values must have.
fn python_type(id: &str, name: &str) -> Result<PyType> {
    Ok(match name {
        "string" | "any" => PyType::Str,
        "integer" => PyType::Int,
        "float" => PyType::Float,
        "boolean" => PyType::Bool,
        "array" | "tuple" => PyType::List,
        "dict" => PyType::Dict,
        other => {
            return Err(Error::sample(
                id,
                format!("unsupported parameter type {other:?}"),
            ));
        }
    })
}

/// `standardize_string`.
pub(super) fn standardize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

/// Standardizes `v` if it is a string.
fn standardize_value(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(standardize(s)),
        other => other.clone(),
    }
}

/// The items Python's `for x in answer` would visit: a list's items, a string's characters.
fn iter_items(answer: &Value) -> Option<Vec<Value>> {
    match answer {
        Value::List(items) | Value::Tuple(items) => Some(items.clone()),
        Value::Str(s) => Some(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        _ => None,
    }
}

/// `get_possible_answer_type`: the type of the first acceptable value that is not `""`.
fn answer_type(answers: &[Value]) -> Option<PyType> {
    answers
        .iter()
        .find(|a| !a.is_empty_str())
        .map(Value::py_type)
}

/// `type_checker`: `Ok(is_variable)` or the type failure.
fn type_check(
    param: &str,
    value: &Value,
    answers: &[Value],
    expected: PyType,
    nested: Option<PyType>,
) -> std::result::Result<bool, Failure> {
    let answer_ty = answer_type(answers);
    let is_variable = answer_ty.is_some_and(|t| t != expected);
    let mut nested_failed = false;
    if value.py_type() == expected {
        let Some(nested) = nested else {
            return Ok(is_variable);
        };
        let items = match value {
            Value::List(items) => items.as_slice(),
            _ => &[],
        };
        for answer in answers {
            let ok = match answer {
                Value::List(inner) => items
                    .iter()
                    .all(|item| type_check(param, item, inner, nested, None).is_ok()),
                _ => true,
            };
            if ok {
                return Ok(is_variable);
            }
        }
        nested_failed = true;
    }
    let nested_reason = || {
        format!(
            "param {param}: nested type check failed: expected {} of {}, got {value}",
            expected.name(),
            nested.map_or("?", PyType::name)
        )
    };
    if answer_ty == Some(value.py_type()) {
        if nested_failed {
            return Err(Failure {
                error_type: "type_error:nested",
                reason: nested_reason(),
            });
        }
        return Ok(true);
    }
    Err(Failure {
        error_type: "type_error:simple",
        reason: format!(
            "param {param}: expected type {}, got {} ({value})",
            expected.name(),
            value.py_type().name()
        ),
    })
}

/// `simple_function_checker` for one call against one function doc and ground-truth call.
pub(super) fn simple(
    id: &str,
    doc: &FunctionDoc,
    call: &Call,
    expected: &ExpectedCall,
) -> Result<Check> {
    if call.name != doc.name {
        return Ok(fail(
            "simple_function_checker:wrong_func_name",
            format!("wrong function: got {}, expected {}", call.name, doc.name),
        ));
    }
    for required in &doc.parameters.required {
        if call.arg(required).is_none() {
            return Ok(fail(
                "simple_function_checker:missing_required",
                format!("missing required parameter {required}"),
            ));
        }
    }
    for (param, value) in &call.args {
        let (Some(details), Some(answers)) = (
            doc.parameters.properties.get(param),
            expected.answers(param),
        ) else {
            return Ok(fail(
                "simple_function_checker:unexpected_param",
                format!("unexpected parameter {param}"),
            ));
        };
        let expected_ty = python_type(id, &details.ty)?;
        let nested = match (
            details.ty.as_str(),
            details.items.as_ref().and_then(|i| i.ty.as_deref()),
        ) {
            ("array" | "tuple", Some(item_ty)) => Some(python_type(id, item_ty)?),
            _ => None,
        };
        let value = match (details.ty.as_str(), value) {
            ("tuple", Value::Tuple(items)) => Value::List(items.clone()),
            ("float", Value::Int(i)) => Value::Float(*i as f64),
            _ => value.clone(),
        };
        let is_variable = match type_check(param, &value, answers, expected_ty, nested) {
            Ok(is_variable) => is_variable,
            Err(failure) => return Ok(Err(failure)),
        };
        if !is_variable {
            let check = match (expected_ty, nested) {
                (PyType::Dict, _) => Some(dict_check(param, &value, answers)),
                (PyType::List, Some(PyType::Dict)) => Some(list_dict_check(param, &value, answers)),
                (PyType::Str, _) => Some(string_check(param, &value, answers)),
                (PyType::List, _) => Some(list_check(param, &value, answers)),
                _ => None,
            };
            if let Some(check) = check {
                if check.is_err() {
                    return Ok(check);
                }
                continue;
            }
        }
        if !value.py_in(answers) {
            return Ok(fail(
                "value_error:others",
                format!(
                    "param {param}: value {value} not in {}",
                    Value::List(answers.to_vec())
                ),
            ));
        }
    }
    for (param, answers) in &expected.params {
        if call.arg(param).is_none() && !Value::Str(String::new()).py_in(answers) {
            return Ok(fail(
                "simple_function_checker:missing_optional",
                format!(
                    "parameter {param} not provided but the ground truth does not mark it optional"
                ),
            ));
        }
    }
    Ok(Ok(()))
}

/// `string_checker`.
fn string_check(param: &str, value: &Value, answers: &[Value]) -> Check {
    let Value::Str(s) = value else {
        return fail(
            "value_error:string",
            format!("param {param}: {value} is not a string"),
        );
    };
    let got = standardize(s);
    if answers
        .iter()
        .any(|a| matches!(a, Value::Str(t) if standardize(t) == got))
    {
        return Ok(());
    }
    fail(
        "value_error:string",
        format!(
            "param {param}: value {value} not in {} (case-insensitive, punctuation ignored)",
            Value::List(answers.to_vec())
        ),
    )
}

/// `list_checker`: the list, with its string items standardized, must equal one answer.
fn list_check(param: &str, value: &Value, answers: &[Value]) -> Check {
    let got: Vec<Value> = iter_items(value)
        .unwrap_or_default()
        .iter()
        .map(standardize_value)
        .collect();
    let got = Value::List(got);
    let matched = answers.iter().filter_map(iter_items).any(|answer| {
        let answer = Value::List(answer.iter().map(standardize_value).collect());
        got.py_eq(&answer)
    });
    if matched {
        return Ok(());
    }
    fail(
        "value_error:list/tuple",
        format!(
            "param {param}: value {value} not in {}",
            Value::List(answers.to_vec())
        ),
    )
}

/// `dict_checker`: some non-`""` answer dict must accept every key and value of `value`, and
/// `value` must have every key that answer does not mark optional.
fn dict_check(param: &str, value: &Value, answers: &[Value]) -> Check {
    let Value::Dict(pairs) = value else {
        return fail(
            "dict_checker:unclear",
            format!("param {param}: {value} is not a dict"),
        );
    };
    let mut result = fail(
        "dict_checker:unclear",
        format!("param {param}: no acceptable dict given"),
    );
    for answer in answers.iter().filter(|a| !a.is_empty_str()) {
        result = Ok(());
        for (key, v) in pairs {
            let Some(acceptable) = answer.dict_get(key) else {
                result = fail(
                    "value_error:dict_key",
                    format!("param {param}: unexpected dict key {key}"),
                );
                break;
            };
            let acceptable: Vec<Value> = iter_items(acceptable)
                .unwrap_or_else(|| vec![acceptable.clone()])
                .iter()
                .map(standardize_value)
                .collect();
            if !standardize_value(v).py_in(&acceptable) {
                result = fail(
                    "value_error:dict_value",
                    format!(
                        "param {param}: dict key {key}: value {v} not in {}",
                        Value::List(acceptable)
                    ),
                );
                break;
            }
        }
        if let Value::Dict(answer_pairs) = answer {
            for (key, acceptable) in answer_pairs {
                let optional = iter_items(acceptable)
                    .is_some_and(|items| Value::Str(String::new()).py_in(&items));
                if !pairs.iter().any(|(k, _)| k.py_eq(key)) && !optional {
                    result = fail(
                        "value_error:dict_key",
                        format!("param {param}: missing dict key {key}"),
                    );
                    break;
                }
            }
        }
        if result.is_ok() {
            return result;
        }
    }
    result
}

/// `list_dict_checker`: the list of dicts must match some answer list item by item.
fn list_dict_check(param: &str, value: &Value, answers: &[Value]) -> Check {
    let items = iter_items(value).unwrap_or_default();
    let mut result = fail(
        "list_dict_checker:unclear",
        format!("param {param}: no acceptable list of dicts given"),
    );
    for answer in answers {
        let Some(answer_items) = iter_items(answer) else {
            continue;
        };
        if answer_items.len() != items.len() {
            result = fail(
                "value_error:list_dict_count",
                format!("param {param}: wrong number of dicts in the list"),
            );
            continue;
        }
        result = items
            .iter()
            .zip(&answer_items)
            .try_for_each(|(item, answer_item)| {
                dict_check(param, item, std::slice::from_ref(answer_item))
            });
        if result.is_ok() {
            return result;
        }
    }
    result
}

/// The function doc named `name` (BFCL's `find_description`).
fn find_doc<'a>(id: &str, docs: &'a [FunctionDoc], name: &str) -> Result<&'a FunctionDoc> {
    docs.iter().find(|d| d.name == name).ok_or_else(|| {
        Error::sample(
            id,
            format!("ground truth names {name}, which has no function doc"),
        )
    })
}

/// `multiple_function_checker`: as many calls as ground-truth entries (one), checked against it.
pub(super) fn multiple(
    id: &str,
    docs: &[FunctionDoc],
    calls: &[Call],
    expected: &[ExpectedCall],
) -> Result<Check> {
    if calls.len() != expected.len() {
        return Ok(fail(
            "multiple_function_checker:wrong_count",
            format!("expected {} call(s), got {}", expected.len(), calls.len()),
        ));
    }
    let (Some(call), Some(want)) = (calls.first(), expected.first()) else {
        return Ok(Ok(()));
    };
    simple(id, find_doc(id, docs, &want.name)?, call, want)
}

/// `parallel_function_checker_no_order`: every ground-truth call must match a distinct model
/// call; each is given the first unmatched model call that passes.
pub(super) fn parallel(
    id: &str,
    docs: &[FunctionDoc],
    calls: &[Call],
    expected: &[ExpectedCall],
) -> Result<Check> {
    if calls.len() != expected.len() {
        return Ok(fail(
            "parallel_function_checker_no_order:wrong_count",
            format!("expected {} calls, got {}", expected.len(), calls.len()),
        ));
    }
    let mut matched = vec![false; calls.len()];
    for (i, want) in expected.iter().enumerate() {
        let doc = find_doc(id, docs, &want.name)?;
        let mut reasons = Vec::new();
        let mut found = false;
        for (j, call) in calls.iter().enumerate().filter(|(j, _)| !matched[*j]) {
            match simple(id, doc, call, want)? {
                Ok(()) => {
                    matched[j] = true;
                    found = true;
                    break;
                }
                Err(failure) => reasons.push(format!("call {j}: {}", failure.reason)),
            }
        }
        if !found {
            return Ok(fail(
                "parallel_function_checker_no_order:cannot_find_match",
                format!(
                    "no call matches expected call {i} ({}): {}",
                    want.name,
                    reasons.join("; ")
                ),
            ));
        }
    }
    Ok(Ok(()))
}
