//! Cutting the code out of a model generation before it is assembled into a test program.
//!
//! Two conventions exist in the references. Base-model harnesses (Codex paper §3.1, human-eval,
//! bigcode-evaluation-harness `humaneval.py`/`mbpp.py`) truncate the raw continuation at the
//! first stop sequence. Chat-model harnesses (lm-eval `mbpp/utils.py` `extract_code_blocks`)
//! take the first fenced code block. [`extract_code`] does the latter when a fence is present
//! and the former otherwise.

/// bigcode-evaluation-harness `humaneval.py` stop words: a new top-level statement ends the
/// function body the model was asked to complete.
pub const HUMANEVAL_STOP: &[&str] = &[
    "\nclass",
    "\ndef",
    "\n#",
    "\n@",
    "\nprint",
    "\nif",
    "\n```",
    "<file_sep>",
];

/// bigcode-evaluation-harness `mbpp.py` stop words (the model writes a whole function; tests or
/// prints after it are cut).
pub const MBPP_STOP: &[&str] = &[
    "\nclass", "\nassert", "\n\"\"\"", "\nprint", "\nif", "\n<|/", "\n```",
];

/// Languages whose fenced blocks count as Python (the empty tag included).
const PYTHON_TAGS: &[&str] = &["", "python", "python3", "py"];

/// The code in `generation`:
///
/// 1. the body of the first fenced block (```` ``` ```` or `~~~`) whose tag is empty,
///    `python`, `python3` or `py` (case-insensitive), up to its closing fence or the end of
///    the text if it is unclosed (a generation cut by the token limit);
/// 2. otherwise the text before the earliest of the `stop` sequences (all of it if none occurs).
///
/// Blocks tagged with another language are skipped.
pub fn extract_code(generation: &str, stop: &[&str]) -> String {
    if let Some(block) = first_python_block(generation) {
        return block.to_owned();
    }
    let end = stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| generation.find(s))
        .min()
        .unwrap_or(generation.len());
    generation[..end].to_owned()
}

/// The body of the first Python (or untagged) fenced block, if any.
fn first_python_block(text: &str) -> Option<&str> {
    let mut rest = text;
    let mut offset = 0;
    loop {
        let (start, fence) = next_fence(rest)?;
        let after_fence = &rest[start + fence.len()..];
        let line_end = after_fence.find('\n');
        let tag = after_fence[..line_end.unwrap_or(after_fence.len())].trim();
        let body_start = start + fence.len() + line_end.map_or(after_fence.len(), |i| i + 1);
        let body = &rest[body_start..];
        let close = find_closing(body, fence);
        let is_python = PYTHON_TAGS.iter().any(|t| t.eq_ignore_ascii_case(tag));
        if is_python && line_end.is_some() {
            return Some(
                &text[offset + body_start..offset + body_start + close.unwrap_or(body.len())],
            );
        }
        // Skip this block (and its closing fence) and look for the next one.
        let skip = body_start + close.map_or(body.len(), |c| c + fence.len());
        offset += skip;
        rest = &rest[skip..];
    }
}

/// The earliest opening fence at the start of a line: its byte offset and the fence string.
fn next_fence(text: &str) -> Option<(usize, &'static str)> {
    ["```", "~~~"]
        .into_iter()
        .filter_map(|fence| {
            let mut from = 0;
            while let Some(i) = text[from..].find(fence) {
                let at = from + i;
                let line_start = text[..at].rfind('\n').map_or(0, |j| j + 1);
                if text[line_start..at].trim().is_empty() {
                    return Some((at, fence));
                }
                from = at + fence.len();
            }
            None
        })
        .min_by_key(|&(at, _)| at)
}

/// Offset in `body` of the closing `fence` (at the start of a line, possibly indented).
fn find_closing(body: &str, fence: &str) -> Option<usize> {
    let mut line_start = 0;
    for line in body.split_inclusive('\n') {
        if line.trim_start().starts_with(fence) {
            return Some(line_start);
        }
        line_start += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_python_block() {
        let g = "Here you go:\n```python\ndef f():\n    return 1\n```\nand\n```python\nx = 2\n```";
        assert_eq!(extract_code(g, HUMANEVAL_STOP), "def f():\n    return 1\n");
    }

    #[test]
    fn untagged_and_py_blocks_count() {
        assert_eq!(extract_code("```\nx = 1\n```", &[]), "x = 1\n");
        assert_eq!(extract_code("```Py\nx = 1\n```", &[]), "x = 1\n");
        assert_eq!(extract_code("~~~python3\nx = 1\n~~~", &[]), "x = 1\n");
    }

    #[test]
    fn skips_other_languages() {
        let g = "```bash\npip install x\n```\n```python\nimport x\n```";
        assert_eq!(extract_code(g, &[]), "import x\n");
    }

    #[test]
    fn unclosed_block_runs_to_the_end() {
        assert_eq!(
            extract_code("```python\ndef f():\n    pass", &[]),
            "def f():\n    pass"
        );
    }

    #[test]
    fn inline_backticks_are_not_fences() {
        let g = "    return x  # see ```python``` docs\n\ndef g():\n    pass";
        assert_eq!(
            extract_code(g, HUMANEVAL_STOP),
            "    return x  # see ```python``` docs\n"
        );
    }

    #[test]
    fn stops_at_the_earliest_stop_sequence() {
        let g = "    return a + b\n\n\ndef test():\n    assert add(1, 2) == 3\nprint(1)";
        assert_eq!(extract_code(g, HUMANEVAL_STOP), "    return a + b\n\n");
        let m = "def add(a, b):\n    return a + b\nassert add(1, 2) == 3\n";
        assert_eq!(
            extract_code(m, MBPP_STOP),
            "def add(a, b):\n    return a + b"
        );
    }

    #[test]
    fn no_fence_and_no_stop_keeps_everything() {
        assert_eq!(extract_code("    return 1\n", &["\ndef"]), "    return 1\n");
    }
}
