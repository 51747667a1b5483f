//! Templates and expressions over documents, as lm-evaluation-harness evaluates its Jinja2
//! `doc_to_text` / `doc_to_choice` / `doc_to_target` (Python string methods, `str()` rendering,
//! `list.index`), on minijinja with the tokenizer crate's Python compatibility layer.

use minijinja::value::Value;
use minijinja::{Environment, Error as JinjaError, ErrorKind, State, UndefinedBehavior};

use crate::error::{Error, Result};

/// A minijinja environment configured for task templates.
pub struct Templates {
    env: Environment<'static>,
    task: String,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("task", &self.task)
            .finish()
    }
}

/// `list.index(x)` (Python) on sequences; everything else is Python's string/dict methods.
fn method(state: &State, value: &Value, name: &str, args: &[Value]) -> Result<Value, JinjaError> {
    if name == "index"
        && value.as_str().is_none()
        && let (Ok(iter), [needle]) = (value.try_iter(), args)
    {
        return iter
            .enumerate()
            .find(|(_, v)| v == needle)
            .map(|(i, _)| Value::from(i))
            .ok_or_else(|| {
                JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!("{needle} is not in list"),
                )
            });
    }
    cogumi_tokenizer::python_method(state, value, name, args)
}

/// Strips lm-eval's `{{ … }}` wrapper so `"{{choices.text}}"` and `choices.text` both work as
/// expressions.
fn as_expression(source: &str) -> &str {
    let t = source.trim();
    match t.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) {
        Some(inner) if !inner.contains("{{") => inner.trim(),
        _ => t,
    }
}

impl Templates {
    /// An environment for `task`; undefined fields are errors that name the field.
    pub fn new(task: &str) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_unknown_method_callback(method);
        env.set_formatter(cogumi_tokenizer::python_formatter);
        env.set_keep_trailing_newline(true);
        Templates {
            env,
            task: task.to_string(),
        }
    }

    /// Renders `template` with the document's fields as variables.
    pub fn render(&self, template: &str, doc: &serde_json::Value) -> Result<String> {
        self.env
            .render_str(template, doc)
            .map_err(|e| Error::task(&self.task, format!("template {template:?}: {e:#}")))
    }

    /// Evaluates an expression (`choices.text`, `answer`, `['A','B']`) against the document.
    pub fn eval(&self, expression: &str, doc: &serde_json::Value) -> Result<Value> {
        let src = as_expression(expression);
        let expr = self
            .env
            .compile_expression(src)
            .map_err(|e| Error::task(&self.task, format!("expression {src:?}: {e:#}")))?;
        expr.eval(doc)
            .map_err(|e| Error::task(&self.task, format!("expression {src:?}: {e:#}")))
    }

    /// Evaluates an expression that must give a list of strings (the choices).
    pub fn eval_strings(&self, expression: &str, doc: &serde_json::Value) -> Result<Vec<String>> {
        let v = self.eval(expression, doc)?;
        let iter = v
            .try_iter()
            .map_err(|_| Error::task(&self.task, format!("{expression:?} gave {v}, not a list")))?;
        Ok(iter.map(|x| cogumi_tokenizer::py_str(&x)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lm_eval_templates_render_as_jinja2_would() {
        let t = Templates::new("t");
        let doc = json!({"question": "  Why?  ", "choices": {"text": ["a", "b"], "label": ["A", "B"]},
                         "answerKey": "B", "answer": 3, "subject": "high_school_geography"});
        assert_eq!(
            t.render("{{question.strip()}}\nAnswer:", &doc).unwrap(),
            "Why?\nAnswer:"
        );
        assert_eq!(
            t.eval_strings("{{choices.text}}", &doc).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            t.eval("choices.label.index(answerKey)", &doc).unwrap(),
            Value::from(1)
        );
        assert_eq!(t.render("{{answer}}", &doc).unwrap(), "3");
        assert_eq!(
            t.render("about {{subject.replace('_', ' ')}}.", &doc)
                .unwrap(),
            "about high school geography."
        );
        assert_eq!(t.eval_strings("['A', 'B']", &doc).unwrap(), ["A", "B"]);
        let e = t.render("{{missing}}", &doc).unwrap_err().to_string();
        assert!(e.contains("missing") || e.contains("undefined"), "{e}");
    }
}
