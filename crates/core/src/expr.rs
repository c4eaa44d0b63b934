//! Conditions of `switch` cases, once their params are substituted: a CEL expression
//! (`42 > 100`, `'prod' == 'prod' && 3 >= 2`) that must give true or false.

/// Evaluates a substituted condition.
pub fn eval_condition(text: &str) -> Result<bool, String> {
    let program = cel::Program::compile(text).map_err(|e| format!("cannot read `{text}`: {e}"))?;
    match program.execute(&cel::Context::default()) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("`{text}` gives {other:?}, not true or false")),
        Err(e) => Err(format!("cannot evaluate `{text}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_of_numbers_and_strings() {
        assert!(!eval_condition("42 > 100").unwrap());
        assert!(eval_condition("42 > 10 && 'prod' == 'prod'").unwrap());
        assert!(eval_condition("1.5 < 2 || false").unwrap());
        assert!(eval_condition("!(3 == 4)").unwrap());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = eval_condition(" > 100").unwrap_err();
        assert!(e.contains("cannot read ` > 100`"), "{e}");
        let e = eval_condition("1 + 2").unwrap_err();
        assert!(e.contains("not true or false"), "{e}");
        let e = eval_condition("rows > 1").unwrap_err();
        assert!(e.contains("cannot evaluate"), "{e}");
    }
}
