//! Conditions of `switch` cases: a CEL expression (`42 > 100`, `'prod' == 'prod' && 3 >= 2`)
//! that must give true or false, with the params it refers to bound as variables (see
//! [`crate::params::embed::cel`]).

use crate::params::{Binding, Condition};

/// Evaluates a resolved condition; errors show the condition with its values written in.
pub fn eval(condition: &Condition) -> Result<bool, String> {
    let text = &condition.shown;
    let program = cel::Program::compile(&condition.program)
        .map_err(|e| format!("cannot read `{text}`: {e}"))?;
    let mut context = cel::Context::default();
    for (name, binding) in &condition.bindings {
        let value = match binding {
            Binding::Int(i) => cel::Value::Int(*i),
            Binding::Float(f) => cel::Value::Float(*f),
            Binding::Bool(b) => cel::Value::Bool(*b),
            Binding::Str(s) => cel::Value::from(s.clone()),
        };
        context.add_variable_from_value(name.clone(), value);
    }
    match program.execute(&context) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("`{text}` gives {other:?}, not true or false")),
        Err(e) => Err(format!("cannot evaluate `{text}`: {e}")),
    }
}

/// Evaluates a condition without variables.
pub fn eval_condition(text: &str) -> Result<bool, String> {
    eval(&Condition {
        program: text.to_string(),
        bindings: Vec::new(),
        shown: text.to_string(),
    })
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
