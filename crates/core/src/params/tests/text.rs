//! Splitting texts into literals, references and expressions.

use super::super::text::{pieces, Piece};

#[test]
fn pieces_with_expressions() {
    use Piece::*;
    let cases: &[(&str, Vec<Piece>)] = &[
        (
            "a $[yyyyMMdd] b",
            vec![Text("a "), Expr("yyyyMMdd"), Text(" b")],
        ),
        ("${x}$[e]", vec![Ref("x"), Expr("e")]),
        ("$$[e] $${x}", vec![Text("$[e]"), Text(" "), Text("${x}")]),
        ("$[unclosed", vec![Text("$["), Text("unclosed")]),
        ("$[a\n] z", vec![Text("$["), Text("a\n] z")]),
        ("$[]", vec![Expr("")]),
        ("${arr[0]}", vec![Text("${"), Text("arr[0]}")]),
        ("é$[ü]", vec![Text("é"), Expr("ü")]),
    ];
    for (text, want) in cases {
        assert_eq!(&pieces(text, true), want, "{text:?}");
    }
}

#[test]
fn without_expressions_brackets_are_text() {
    let joined: String = pieces("a $[x] ${y}", false)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t.to_string(),
            Piece::Ref(r) => format!("<{r}>"),
            Piece::Expr(e) => format!("[{e}]"),
        })
        .collect();
    assert_eq!(joined, "a $[x] <y>");
}
