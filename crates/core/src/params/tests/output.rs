//! `${setValue(key=value)}` lines and the names a body may set.

use crate::params::{declared_outputs, parse_set_values};

#[test]
fn set_value_lines() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("${setValue(rows=10)}", &[("rows", "10")]),
        ("", &[]),
        ("plain output", &[]),
        (
            "x ${setValue(a=1)} y ${setValue(b=two words)} z",
            &[("a", "1"), ("b", "two words")],
        ),
        ("${setValue(q=a=b)}", &[("q", "a=b")]),
        ("${setValue(v=f(x))}", &[("v", "f(x)")]),
        ("${setValue(v=})}", &[("v", "}")]),
        ("${setValue( k = v )}", &[("k", " v ")]),
        ("${setValue(rows=)}", &[("rows", "")]),
        ("${setValue(a.b=1)}", &[("a.b", "1")]),
        ("${setValue(name=héllo wörld)}", &[("name", "héllo wörld")]),
        (
            "${setValue(a=1)}${setValue(a=2)}",
            &[("a", "1"), ("a", "2")],
        ),
        ("${setValue(1bad=x)}", &[]),
        ("${setValue(a b=x)}", &[]),
        ("${setValue(=x)}", &[]),
        ("${setValue(rows=5", &[]),
        ("${setValue(rows)}", &[]),
        ("${setValue(bad)} ${setValue(ok=1)}", &[("ok", "1")]),
        ("${setValue(1=x)} ${setValue(ok=1)}", &[("ok", "1")]),
        ("$setValue(a=1)", &[]),
        ("{setValue(a=1)}", &[]),
        ("${setvalue(a=1)}", &[]),
        ("${setValue(a=1)", &[]),
    ];
    for (line, want) in cases {
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(parse_set_values(line), want, "{line:?}");
    }
}

#[test]
fn declared_outputs_found_in_bodies() {
    let cases: &[(&str, &[&str])] = &[
        ("echo '${setValue(rows=$n)}'", &["rows"]),
        (
            "echo \"\\${setValue(a=1)}\"\necho '${setValue( total =2)}' ${setValue(a=3)}",
            &["a", "total"],
        ),
        ("print(f\"${{setValue(rows={n})}}\")", &["rows"]),
        ("print('${setValue(%s=1)}' % k)", &[]),
        ("echo setValue", &[]),
        ("", &[]),
    ];
    for (body, want) in cases {
        assert_eq!(declared_outputs(body), *want, "{body:?}");
    }
}
