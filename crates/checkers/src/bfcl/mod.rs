//! BFCL-style (Berkeley Function-Calling Leaderboard) checking of a model's tool calls against
//! ground truth, following bfcl_eval 2026.3.23: `eval_checker/eval_runner.py` for the category
//! dispatch and the (ir)relevance rule, `eval_checker/ast_eval/ast_checker.py` for the AST
//! checks (`check.rs`), `model_handler/utils.py` for decoding ([`parse_calls`]).
//!
//! Python-syntax categories only (`simple_python`, `multiple`, `parallel`, `parallel_multiple`,
//! their `live_` twins, `irrelevance`, `live_irrelevance`, `live_relevance`); Java/JavaScript
//! type conversion and multi-turn execution are out of scope. Function names are compared
//! exactly (BFCL's `underscore_to_dot` renaming applies only to some API models).

mod arith;
mod check;
mod literal;
mod parse;
mod syntax;
mod value;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use parse::{Call, parse_calls};
pub use syntax::ParseError;
pub use value::{PyType, Value};

/// How a sample is checked, derived from BFCL's test category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Exactly one call to the single documented function.
    Simple,
    /// One call, choosing the right function among several.
    Multiple,
    /// Several calls to one function, in any order.
    Parallel,
    /// Several calls to several functions, in any order.
    ParallelMultiple,
    /// The functions cannot answer: pass iff the output holds no call.
    Irrelevance,
    /// Some function is relevant: pass iff the output holds at least one call.
    Relevance,
}

impl Category {
    /// The category of a BFCL test category or sample id (`simple_python_0`,
    /// `live_parallel_multiple_3-2-1`, ...), or `None` for unsupported ones (Java, JavaScript,
    /// multi-turn, memory, web search, format sensitivity).
    pub fn from_id(id: &str) -> Option<Category> {
        // Strip the trailing index (`_12` or `_27-7-0`).
        let name = match id.rsplit_once('_') {
            Some((head, tail))
                if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '-') =>
            {
                head
            }
            _ => id,
        };
        let name = name.strip_prefix("live_").unwrap_or(name);
        Some(match name {
            "simple" | "simple_python" => Category::Simple,
            "multiple" => Category::Multiple,
            "parallel" => Category::Parallel,
            "parallel_multiple" => Category::ParallelMultiple,
            "irrelevance" => Category::Irrelevance,
            "relevance" => Category::Relevance,
            _ => return None,
        })
    }
}

/// A function's documentation, as in a BFCL question row's `function` list.
#[derive(Clone, Debug, Deserialize)]
pub struct FunctionDoc {
    /// The (possibly dotted) function name.
    pub name: String,
    /// Its parameters.
    pub parameters: ParametersDoc,
}

/// The `parameters` object of a [`FunctionDoc`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ParametersDoc {
    /// Parameter name to its documentation.
    #[serde(default)]
    pub properties: BTreeMap<String, ParamDoc>,
    /// Names of the required parameters.
    #[serde(default)]
    pub required: Vec<String>,
}

/// One documented parameter.
#[derive(Clone, Debug, Deserialize)]
pub struct ParamDoc {
    /// `string`, `integer`, `float`, `boolean`, `array`, `tuple`, `dict` or `any`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Item documentation for `array`/`tuple`.
    #[serde(default)]
    pub items: Option<ItemsDoc>,
}

/// The `items` of an array parameter.
#[derive(Clone, Debug, Deserialize)]
pub struct ItemsDoc {
    /// The items' type name.
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
}

/// One ground-truth call: `{func_name: {param: [acceptable values...]}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedCall {
    /// The function that must be called.
    pub name: String,
    /// Each parameter's acceptable values; `""` among them means it may be omitted.
    pub params: Vec<(String, Vec<Value>)>,
}

impl ExpectedCall {
    /// The acceptable values of `param`.
    pub fn answers(&self, param: &str) -> Option<&[Value]> {
        self.params
            .iter()
            .find(|(p, _)| p == param)
            .map(|(_, v)| v.as_slice())
    }

    /// Parses a possible-answer row's `ground_truth` list.
    pub fn list_from_json(id: &str, ground_truth: &serde_json::Value) -> Result<Vec<ExpectedCall>> {
        let bad = |what: &str| Error::sample(id, format!("malformed ground truth: {what}"));
        let items = ground_truth.as_array().ok_or_else(|| bad("not a list"))?;
        items
            .iter()
            .map(|item| {
                let obj = item
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .ok_or_else(|| bad("entry is not {name: params}"))?;
                let (name, params) = obj.iter().next().ok_or_else(|| bad("empty entry"))?;
                let params = params
                    .as_object()
                    .ok_or_else(|| bad("params are not an object"))?;
                let params = params
                    .iter()
                    .map(|(p, values)| {
                        let values = values
                            .as_array()
                            .ok_or_else(|| bad("acceptable values are not a list"))?;
                        Ok((p.clone(), values.iter().map(Value::from_json).collect()))
                    })
                    .collect::<Result<_>>()?;
                Ok(ExpectedCall {
                    name: name.clone(),
                    params,
                })
            })
            .collect()
    }
}

/// Why a sample failed: BFCL's `error_type` and a readable reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// BFCL's error type, e.g. `simple_function_checker:wrong_func_name`.
    pub error_type: &'static str,
    /// What was wrong, e.g. `wrong function: got foo, expected bar`.
    pub reason: String,
}

/// The result of checking one output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The output is correct.
    Pass,
    /// The output is wrong.
    Fail(Failure),
}

impl Verdict {
    /// True for [`Verdict::Pass`].
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass)
    }
}

impl From<check::Check> for Verdict {
    fn from(check: check::Check) -> Self {
        match check {
            Ok(()) => Verdict::Pass,
            Err(failure) => Verdict::Fail(failure),
        }
    }
}

/// One BFCL sample: its function docs and (for AST categories) ground truth.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The sample id, e.g. `simple_python_0`.
    pub id: String,
    /// How it is checked.
    pub category: Category,
    /// The functions offered to the model.
    pub functions: Vec<FunctionDoc>,
    /// The acceptable calls (empty for (ir)relevance).
    pub ground_truth: Vec<ExpectedCall>,
}

impl Entry {
    /// Builds an entry from a BFCL question row (`{"id", "function", ...}`) and, for AST
    /// categories, its possible-answer row (`{"id", "ground_truth"}`); the category comes from
    /// the id.
    pub fn from_rows(
        question: &serde_json::Value,
        answer: Option<&serde_json::Value>,
    ) -> Result<Entry> {
        let id = question
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("<no id>")
            .to_owned();
        let category = Category::from_id(&id)
            .ok_or_else(|| Error::sample(&id, "unsupported BFCL category"))?;
        let functions = question
            .get("function")
            .map(|f| serde_json::from_value::<Vec<FunctionDoc>>(f.clone()))
            .transpose()
            .map_err(|e| Error::sample(&id, format!("malformed function docs: {e}")))?
            .unwrap_or_default();
        let ground_truth = match answer.and_then(|a| a.get("ground_truth")) {
            Some(gt) => ExpectedCall::list_from_json(&id, gt)?,
            None if matches!(category, Category::Irrelevance | Category::Relevance) => vec![],
            None => return Err(Error::sample(&id, "AST category without ground truth")),
        };
        Ok(Entry {
            id,
            category,
            functions,
            ground_truth,
        })
    }

    /// Checks a model's raw text output.
    pub fn check(&self, output: &str) -> Result<Verdict> {
        match parse_calls(output) {
            Ok(calls) => self.check_calls(&calls),
            Err(e) => Ok(match self.category {
                Category::Irrelevance => Verdict::Pass,
                Category::Relevance => Verdict::Fail(Failure {
                    error_type: "relevance_error:decoder_failed",
                    reason: format!("no function call could be decoded: {e}"),
                }),
                _ => Verdict::Fail(Failure {
                    error_type: "ast_decoder:decoder_failed",
                    reason: format!("invalid syntax, failed to decode: {e}"),
                }),
            }),
        }
    }

    /// Checks already-decoded calls (e.g. native tool calls from an API).
    pub fn check_calls(&self, calls: &[Call]) -> Result<Verdict> {
        // BFCL's is_empty_output: a decoded `[]` is "no call".
        let no_call = calls.is_empty();
        let id = self.id.as_str();
        let check = match self.category {
            Category::Irrelevance if no_call => Ok(()),
            Category::Irrelevance => Err(Failure {
                error_type: "irrelevance_error:decoder_success",
                reason: format!("expected no function call, got {}", names(calls)),
            }),
            Category::Relevance if no_call => Err(Failure {
                error_type: "relevance_error:decoder_failed",
                reason: "expected a function call, got none".into(),
            }),
            Category::Relevance => Ok(()),
            Category::Simple => {
                if calls.len() != 1 {
                    Err(Failure {
                        error_type: "simple_function_checker:wrong_count",
                        reason: format!("expected 1 call, got {}", calls.len()),
                    })
                } else {
                    let doc = self
                        .functions
                        .first()
                        .ok_or_else(|| Error::sample(id, "no function docs"))?;
                    let want = self
                        .ground_truth
                        .first()
                        .ok_or_else(|| Error::sample(id, "empty ground truth"))?;
                    check::simple(id, doc, &calls[0], want)?
                }
            }
            Category::Multiple => check::multiple(id, &self.functions, calls, &self.ground_truth)?,
            Category::Parallel | Category::ParallelMultiple => {
                check::parallel(id, &self.functions, calls, &self.ground_truth)?
            }
        };
        Ok(check.into())
    }
}

fn names(calls: &[Call]) -> String {
    calls
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
