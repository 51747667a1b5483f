//! Python 3 string and number literals, per the Python reference "Lexical analysis"
//! (string prefixes `r`/`u`, all escapes but `\N{...}`, implicit concatenation; decimal,
//! hex/octal/binary integers, floats with `_` separators). f-strings, bytes and complex numbers
//! are rejected, as BFCL's resolver cannot use them either.

use super::parse::Expr;
use super::syntax::{Cursor, PResult, ParseError, is_ident_char};
use super::value::Value;

impl Cursor {
    pub(super) fn number(&mut self) -> PResult<Expr> {
        let start = self.pos;
        let radix = match (self.peek(), self.peek_at(1).map(|c| c.to_ascii_lowercase())) {
            (Some('0'), Some('x')) => 16,
            (Some('0'), Some('o')) => 8,
            (Some('0'), Some('b')) => 2,
            _ => 10,
        };
        if radix != 10 {
            self.pos += 2;
            let digits: String = self
                .take_while(|c| c.is_ascii_alphanumeric() || c == '_')
                .replace('_', "");
            let value = i64::from_str_radix(&digits, radix)
                .map_err(|e| ParseError::new(start, format!("bad integer literal: {e}")))?;
            return Ok(Expr::Const(Value::Int(value)));
        }
        let mut text = self.take_while(|c| c.is_ascii_digit() || c == '_');
        let mut is_float = false;
        if self.peek() == Some('.') && !self.starts_with("...") {
            self.pos += 1;
            text.push('.');
            text.push_str(&self.take_while(|c| c.is_ascii_digit() || c == '_'));
            is_float = true;
        }
        if matches!(self.peek(), Some('e' | 'E'))
            && (self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek_at(1), Some('+' | '-'))
                    && self.peek_at(2).is_some_and(|c| c.is_ascii_digit())))
        {
            text.push('e');
            self.pos += 1;
            if let Some(sign @ ('+' | '-')) = self.peek() {
                text.push(sign);
                self.pos += 1;
            }
            text.push_str(&self.take_while(|c| c.is_ascii_digit() || c == '_'));
            is_float = true;
        }
        if self.peek().is_some_and(is_ident_char) {
            return Err(self.error("bad number literal (complex numbers are not supported)"));
        }
        let text = text.replace('_', "");
        if is_float {
            let value: f64 = text
                .parse()
                .map_err(|_| ParseError::new(start, "bad float literal"))?;
            return Ok(Expr::Const(Value::Float(value)));
        }
        if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
            return Err(ParseError::new(
                start,
                "leading zeros in decimal integer literals are not permitted",
            ));
        }
        let value: i64 = text
            .parse()
            .map_err(|_| ParseError::new(start, "integer literal does not fit in 64 bits"))?;
        Ok(Expr::Const(Value::Int(value)))
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// One or more adjacent string literals (concatenated, as Python does).
    pub(super) fn strings(&mut self) -> PResult<Expr> {
        let mut out = self.string()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            let prefixed = self.peek().is_some_and(|c| "rRuU".contains(c))
                && matches!(self.peek_at(1), Some('"' | '\''));
            if matches!(self.peek(), Some('"' | '\'')) || prefixed {
                out.push_str(&self.string()?);
            } else {
                self.pos = save;
                return Ok(Expr::Const(Value::Str(out)));
            }
        }
    }

    /// One string literal with an optional `r`/`u` prefix.
    fn string(&mut self) -> PResult<String> {
        let start = self.pos;
        let mut raw = false;
        while let Some(c @ ('r' | 'R' | 'u' | 'U')) = self.peek() {
            raw |= c.eq_ignore_ascii_case(&'r');
            self.pos += 1;
        }
        let quote = self.peek().ok_or_else(|| self.error("expected a string"))?;
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::new(start, "unterminated string"));
            };
            if c == quote
                && (!triple || (self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote)))
            {
                self.pos += if triple { 3 } else { 1 };
                return Ok(out);
            }
            if c == '\n' && !triple {
                return Err(ParseError::new(start, "unterminated string"));
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else { continue };
            self.pos += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(e),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut code = e.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                code = code * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                'x' | 'u' | 'U' => {
                    let len = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..len).filter_map(|k| self.peek_at(k)).collect();
                    let code = (hex.len() == len)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or_else(|| self.error(format!("bad \\{e} escape")))?;
                    self.pos += len;
                    out.push(code);
                }
                'N' => return Err(self.error("\\N{...} escapes are not supported")),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(src: &str) -> String {
        let mut cursor = Cursor::new(src);
        let first = cursor.peek().unwrap_or(' ');
        let parsed = if first == '"' || first == '\'' || first.is_alphabetic() {
            cursor.strings()
        } else {
            cursor.number()
        };
        match parsed {
            Ok(Expr::Const(v)) => v.to_string(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn numbers_and_strings() {
        assert_eq!(literal("1_000.5e-1"), "100.05");
        assert_eq!(literal("0b101"), "5");
        assert_eq!(literal("0o17"), "15");
        assert_eq!(literal("1."), "1.0");
        assert!(literal("007").starts_with("error"));
        assert!(literal("3j").starts_with("error"));
        assert_eq!(literal(r"'\x41\101\u00e9\q'"), r"'AAé\\q'");
        assert_eq!(literal(r#"R"a\"b""#), r#"'a\\"b'"#);
        assert_eq!(literal("\"\"\"a\"b\"\"\""), r#"'a"b'"#);
        assert_eq!(literal("'a' \"b\""), "'ab'");
        assert!(literal("'abc").starts_with("error"));
    }
}
