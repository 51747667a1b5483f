//! Folding the arithmetic BFCL `eval`s (`resolve_ast_by_type` on `ast.BinOp`) when both
//! operands are literals, with Python's semantics: `/` is true division, `//` and `%` round
//! toward negative infinity, `int ** negative` is a float, `str + str` concatenates. Integer
//! results must fit in `i64`.

use super::parse::Expr;
use super::value::Value;

/// Binary operators that BFCL would `eval`.
#[derive(Clone, Copy)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

/// Computes `left op right` for constant operands with Python's semantics.
pub(super) fn fold(op: Op, left: Expr, right: Expr) -> Result<Expr, String> {
    let (Expr::Const(a), Expr::Const(b)) = (&left, &right) else {
        return Err("arithmetic is only supported on literals".into());
    };
    if let (Op::Add, Value::Str(x), Value::Str(y)) = (op, a, b) {
        return Ok(Expr::Const(Value::Str(format!("{x}{y}"))));
    }
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    let float = |v: &Value| match v {
        Value::Float(f) => Some(*f),
        other => int(other).map(|i| i as f64),
    };
    let overflow = || "integer arithmetic overflows 64 bits".to_owned();
    let value = match (int(a), int(b)) {
        (Some(x), Some(y)) => match op {
            Op::Add => Value::Int(x.checked_add(y).ok_or_else(overflow)?),
            Op::Sub => Value::Int(x.checked_sub(y).ok_or_else(overflow)?),
            Op::Mul => Value::Int(x.checked_mul(y).ok_or_else(overflow)?),
            Op::Div if y == 0 => return Err("division by zero".into()),
            Op::Div => Value::Float(x as f64 / y as f64),
            Op::FloorDiv | Op::Mod if y == 0 => return Err("division by zero".into()),
            Op::FloorDiv | Op::Mod => {
                // Python rounds the quotient toward -inf; the remainder takes the divisor's sign.
                let q = x.checked_div_euclid(y).ok_or_else(overflow)?;
                let r = x.checked_rem_euclid(y).ok_or_else(overflow)?;
                let (q, r) = if y < 0 && r != 0 {
                    (q - 1, r + y)
                } else {
                    (q, r)
                };
                Value::Int(if matches!(op, Op::FloorDiv) { q } else { r })
            }
            Op::Pow if y < 0 => Value::Float((x as f64).powf(y as f64)),
            Op::Pow => Value::Int(
                u32::try_from(y)
                    .ok()
                    .and_then(|e| x.checked_pow(e))
                    .ok_or_else(overflow)?,
            ),
        },
        _ => {
            let (Some(x), Some(y)) = (float(a), float(b)) else {
                return Err("arithmetic is only supported on numbers".into());
            };
            match op {
                Op::Add => Value::Float(x + y),
                Op::Sub => Value::Float(x - y),
                Op::Mul => Value::Float(x * y),
                Op::Div | Op::FloorDiv | Op::Mod if y == 0.0 => {
                    return Err("division by zero".into());
                }
                Op::Div => Value::Float(x / y),
                Op::FloorDiv => Value::Float((x / y).floor()),
                Op::Mod => Value::Float(x - y * (x / y).floor()),
                Op::Pow => Value::Float(x.powf(y)),
            }
        }
    };
    Ok(Expr::Const(value))
}

#[cfg(test)]
mod tests {
    use crate::bfcl::parse::Expr;
    use crate::bfcl::syntax::Cursor;

    fn eval(src: &str) -> String {
        match Cursor::new(src).expr() {
            Ok(Expr::Const(v)) => v.to_string(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn arithmetic_matches_python() {
        assert_eq!(eval("-7 // 2"), "-4");
        assert_eq!(eval("7 // -2"), "-4");
        assert_eq!(eval("-7 % 3"), "2");
        assert_eq!(eval("7 % -3"), "-2");
        assert_eq!(eval("-7 % -2"), "-1");
        assert_eq!(eval("-2 ** 2"), "-4");
        assert_eq!(eval("2 ** -1"), "0.5");
        assert_eq!(eval("1 + 2 * 3"), "7");
        assert_eq!(eval("(1 + 2) * 3"), "9");
        assert_eq!(eval("3 / 2"), "1.5");
        assert_eq!(eval("7.5 // 2"), "3.0");
        assert_eq!(eval("True + 1"), "2");
        assert_eq!(eval("'a' + 'b'"), "'ab'");
        assert!(eval("1 / 0").starts_with("error"));
        assert!(eval("2 ** 64").starts_with("error"));
        assert!(eval("'a' * 2").starts_with("error"));
    }
}
