//! A small recursive-descent parser for the Python expression subset found in tool calls:
//! literals (Python 3 lexical rules for strings and numbers), names, calls, lists, tuples,
//! dicts, unary minus/plus and numeric arithmetic (folded as Python would compute it).
//!
//! Literals are lexed in `literal.rs`, arithmetic folded in `arith.rs`.
//!
//! Grammar, after the Python reference "Expressions" chapter, trimmed to what BFCL resolves:
//! `expr := term (('+'|'-') term)*`, `term := unary (('*'|'/'|'//'|'%') unary)*`,
//! `unary := ('-'|'+') unary | power`, `power := atom ['**' unary]`.

use super::arith::{Op, fold};
use super::parse::Expr;
use super::value::Value;

/// Why the text is not a decodable call list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at character {at}: {message}")]
pub struct ParseError {
    /// Character offset in the (bracket-wrapped) text.
    pub at: usize,
    /// What was wrong.
    pub message: String,
}

impl ParseError {
    pub(super) fn new(at: usize, message: impl Into<String>) -> Self {
        ParseError {
            at,
            message: message.into(),
        }
    }
}

pub(super) type PResult<T> = Result<T, ParseError>;

/// A position in the source text.
pub(super) struct Cursor {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
}

impl Cursor {
    pub(super) fn new(source: &str) -> Self {
        Cursor {
            chars: source.chars().collect(),
            pos: 0,
        }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.pos, message)
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    pub(super) fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, c)| self.peek_at(k) == Some(c))
    }

    /// Skips whitespace, comments and backslash line continuations.
    pub(super) fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += 1;
            } else if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
            } else if c == '\\' && self.peek_at(1) == Some('\n') {
                self.pos += 2;
            } else {
                break;
            }
        }
    }

    /// Consumes `s` (after whitespace) if it is next and not the start of a longer operator.
    fn eat_op(&mut self, s: &str, not_followed_by: &[char]) -> bool {
        self.skip_ws();
        let next = self.peek_at(s.chars().count());
        if self.starts_with(s) && !next.is_some_and(|c| not_followed_by.contains(&c)) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> PResult<()> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected {c:?}")))
        }
    }

    /// `expr := term (('+'|'-') term)*`.
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        let mut left = self.term()?;
        loop {
            let at = self.pos;
            let op = if self.eat_op("+", &['=']) {
                Op::Add
            } else if self.eat_op("-", &['=']) {
                Op::Sub
            } else {
                return Ok(left);
            };
            let right = self.term()?;
            left = fold(op, left, right).map_err(|m| ParseError::new(at, m))?;
        }
    }

    fn term(&mut self) -> PResult<Expr> {
        let mut left = self.unary()?;
        loop {
            let at = self.pos;
            let op = if self.eat_op("//", &['=']) {
                Op::FloorDiv
            } else if self.eat_op("/", &['=', '/']) {
                Op::Div
            } else if self.eat_op("*", &['=', '*']) {
                Op::Mul
            } else if self.eat_op("%", &['=']) {
                Op::Mod
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = fold(op, left, right).map_err(|m| ParseError::new(at, m))?;
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        let at = self.pos;
        if self.eat_op("-", &[]) {
            let operand = self.unary()?;
            return fold(Op::Sub, Expr::Const(Value::Int(0)), operand)
                .map_err(|_| ParseError::new(at, "unary minus needs a number"));
        }
        if self.eat_op("+", &[]) {
            return self.unary();
        }
        let base = self.atom()?;
        let at = self.pos;
        if self.eat_op("**", &['=']) {
            let exponent = self.unary()?;
            return fold(Op::Pow, base, exponent).map_err(|m| ParseError::new(at, m));
        }
        Ok(base)
    }

    fn atom(&mut self) -> PResult<Expr> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of text"));
        };
        match c {
            '[' => {
                self.pos += 1;
                Ok(Expr::List(self.items(']')?))
            }
            '(' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    self.pos += 1;
                    return Ok(Expr::Tuple(vec![]));
                }
                let first = self.expr()?;
                self.skip_ws();
                if self.peek() == Some(')') {
                    self.pos += 1;
                    return Ok(first);
                }
                self.expect(',')?;
                let mut items = vec![first];
                items.extend(self.items(')')?);
                Ok(Expr::Tuple(items))
            }
            '{' => {
                self.pos += 1;
                self.dict()
            }
            '.' if self.starts_with("...") => {
                self.pos += 3;
                Ok(Expr::Const(Value::Str("...".into())))
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.number()
            }
            '"' | '\'' => self.strings(),
            c if is_ident_start(c) => self.name_or_call(),
            c => Err(self.error(format!("unexpected {c:?}"))),
        }
    }

    /// Comma-separated expressions up to `close` (a trailing comma is allowed).
    fn items(&mut self, close: char) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.expr()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(self.error(format!("expected ',' or {close:?}"))),
            }
        }
    }

    fn dict(&mut self) -> PResult<Expr> {
        let mut pairs = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Expr::Dict(pairs));
            }
            if self.starts_with("**") {
                return Err(self.error("dict unpacking is not supported"));
            }
            let key = self.expr()?;
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(self.error("expected ':' (set literals are not supported)"));
            }
            self.pos += 1;
            let value = self.expr()?;
            pairs.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn name_or_call(&mut self) -> PResult<Expr> {
        let start = self.pos;
        let first = self.ident();
        // String prefixes: r, u, b, f and their combinations, directly before a quote.
        if first.len() <= 2 && matches!(self.peek(), Some('"' | '\'')) {
            let lower = first.to_ascii_lowercase();
            if lower.contains('f') || lower.contains('b') {
                return Err(ParseError::new(
                    start,
                    "f-strings and bytes are not supported",
                ));
            }
            if ["r", "u"].contains(&lower.as_str()) {
                self.pos = start;
                return self.strings();
            }
        }
        match first.as_str() {
            "True" => return Ok(Expr::Const(Value::Bool(true))),
            "False" => return Ok(Expr::Const(Value::Bool(false))),
            "None" => return Ok(Expr::Const(Value::None)),
            "lambda" | "not" | "and" | "or" | "if" | "for" | "in" | "is" | "await" | "yield" => {
                return Err(ParseError::new(
                    start,
                    format!("`{first}` is not supported"),
                ));
            }
            _ => {}
        }
        let mut name = first;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek() == Some('.') {
                self.pos += 1;
                self.skip_ws();
                if self.peek().is_some_and(is_ident_start) {
                    name.push('.');
                    name.push_str(&self.ident());
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            return Ok(Expr::Name(name));
        }
        self.pos += 1;
        let (positional, keywords) = self.arguments()?;
        Ok(Expr::Call {
            name,
            positional,
            keywords,
        })
    }

    /// Call arguments after `(`, through `)`.
    #[allow(clippy::type_complexity)]
    fn arguments(&mut self) -> PResult<(Vec<Expr>, Vec<(String, Expr)>)> {
        let (mut positional, mut keywords) = (Vec::new(), Vec::<(String, Expr)>::new());
        loop {
            self.skip_ws();
            if self.peek() == Some(')') {
                self.pos += 1;
                return Ok((positional, keywords));
            }
            if self.peek() == Some('*') {
                return Err(self.error("argument unpacking is not supported"));
            }
            let start = self.pos;
            let keyword = if self.peek().is_some_and(is_ident_start) {
                let name = self.ident();
                self.skip_ws();
                if self.peek() == Some('=') && self.peek_at(1) != Some('=') {
                    self.pos += 1;
                    Some(name)
                } else {
                    self.pos = start;
                    None
                }
            } else {
                None
            };
            let value = self.expr()?;
            match keyword {
                Some(k) if keywords.iter().any(|(seen, _)| *seen == k) => {
                    return Err(ParseError::new(
                        start,
                        format!("keyword argument repeated: {k}"),
                    ));
                }
                Some(k) => keywords.push((k, value)),
                None if !keywords.is_empty() => {
                    return Err(ParseError::new(
                        start,
                        "positional argument follows keyword argument",
                    ));
                }
                None => positional.push(value),
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {}
                _ => return Err(self.error("expected ',' or ')'")),
            }
        }
    }
}

pub(super) fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

pub(super) fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}
