//! Renderer tests. The expected outputs marked "Go" were produced by Helm v3.21.4's engine
//! (the one troubleshoot v0.133.0's `RenderWithHelmTemplate` calls, sprig v3) with the values
//! shown, read by `sigs.k8s.io/yaml` as troubleshoot reads a values file.

use super::*;
use crate::yaml;

/// Values as troubleshoot reads a values file: YAML through JSON, so numbers are float64.
fn values(text: &str) -> Value {
    let docs = yaml::parse_documents(text).expect("values yaml");
    let v = docs
        .first()
        .map_or(Value::Nil, |d| Value::from_json(&d.to_json(), true));
    let v = match v {
        Value::Nil => Value::Map(Default::default()),
        v => v,
    };
    Value::Map([("Values".to_string(), v)].into_iter().collect())
}

fn ok(t: &str, vals: &str) -> String {
    render(t, &values(vals)).unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn fails(t: &str, vals: &str) -> Error {
    render(t, &values(vals)).expect_err(t)
}

#[test]
fn constructs_match_go() {
    // Go: trim markers, comments, if/else, range over lists and maps, with, define/template,
    // include piped, variables declared and assigned in an inner scope.
    let t = "a\n  {{- /* c */ -}}\n  b {{ if .Values.enabled -}} yes {{- else -}} no {{- end }}\n{{ range $i, $v := list \"x\" \"y\" }}{{ $i }}={{ $v }};{{ end }}{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}={{ $v }};{{ end }}{{ range .Values.none }}x{{ else }}empty{{ end }}{{ with .Values.enabled }}W{{ . }}{{ end }}{{ define \"t\" }}T({{ . }}){{ end }}{{ template \"t\" 5 }}{{ include \"t\" \"i\" | upper }}{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}";
    assert_eq!(
        ok(t, "enabled: true"),
        "ab yes\n0=x;1=y;a=1;b=2;emptyWtrueT(5)T(I)2"
    );
    assert_eq!(
        ok(t, "enabled: false"),
        "ab no\n0=x;1=y;a=1;b=2;emptyT(5)T(I)2"
    );
    // else if / else with, range over a map's values, break and continue, parentheses.
    let t =
        "{{ if eq .Values.mode \"a\" }}A{{ else if eq .Values.mode \"b\" }}B{{ else }}C{{ end }}";
    assert_eq!(ok(t, "mode: b"), "B");
    assert_eq!(ok(t, "mode: z"), "C");
    assert_eq!(
        ok(
            "{{ with .Values.x }}X{{ else with .Values.y }}Y{{ . }}{{ end }}",
            "y: 2"
        ),
        "Y2"
    );
    assert_eq!(
        ok(
            "{{ range .Values.l }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ if eq . \"d\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "l: [a, b, c, d, e]"
        ),
        "ac"
    );
    assert_eq!(
        ok("{{ (upper (printf \"%s-%s\" \"a\" .Values.b)) }}", "b: c"),
        "A-C"
    );
    assert_eq!(
        ok(
            "{{ $.Values.a }}{{ range .Values.l }}{{ $.Values.a }}{{ end }}",
            "a: z\nl: [1, 2]"
        ),
        "zzz"
    );
    assert_eq!(ok("{{- /* only a comment */ -}}\n", ""), "");
    assert_eq!(ok("x {{- 3 }} {{ -3 }}", ""), "x3 -3");
    assert_eq!(
        ok("{{ `raw \\n` }}|{{ 'a' }}|{{ 0x1F }}|{{ 1.5 }}", ""),
        "raw \\n|97|31|1.5"
    );
}

#[test]
fn missing_values_print_nothing_and_nil_fields_fail_like_go() {
    // Helm: missingkey=zero, then `<no value>` removed.
    assert_eq!(ok("[{{ .Values.missing }}]", ""), "[]");
    // Go: `print` of nil is `<nil>` (Helm keeps it).
    assert_eq!(ok("[{{ print .Values.missing }}]", ""), "[<nil>]");
    // Go: template: ...:1:10: executing ... at <.Values.a.b>: nil pointer evaluating interface {}.b
    let e = fails("{{ .Values.a.b }}", "");
    assert_eq!(e.pos, Pos { line: 1, column: 4 });
    assert_eq!(
        e.kind,
        ErrorKind::Exec("nil pointer evaluating interface {}.b".into())
    );
}

#[test]
fn numbers_from_values_files_are_floats_as_in_go() {
    // Go: "5432 1.5 1.23456789e+08 %!d(float64=5432) 5432 %!s(float64=5432) \"a\u003cb\" ..."
    let t = "{{ .Values.num }} {{ .Values.f }} {{ .Values.big }} {{ printf \"%d %v %s %q\" .Values.num .Values.num .Values.num .Values.s }} {{ toJson .Values }} {{ toYaml .Values.num }}";
    assert_eq!(
        ok(t, "num: 5432\nf: 1.5\nbig: 123456789\ns: \"a<b\""),
        "5432 1.5 1.23456789e+08 %!d(float64=5432) 5432 %!s(float64=5432) \"a<b\" {\"big\":123456789,\"f\":1.5,\"num\":5432,\"s\":\"a\\u003cb\"} 5432"
    );
    // Go: error calling eq: incompatible types for comparison: float64 and int
    let e = fails("{{ eq .Values.num 5432 }}", "num: 5432");
    assert_eq!(
        e.kind,
        ErrorKind::Exec(
            "error calling eq: incompatible types for comparison: float64 and int".into()
        )
    );
    assert_eq!(ok("{{ .Values.num | int }}", "num: 5432"), "5432");
    assert_eq!(ok("{{ eq (.Values.num | int) 5432 }}", "num: 5432"), "true");
}

#[test]
fn functions_match_go_and_sprig() {
    // Go (Helm v3.21.4, sprig v3), one template, outputs joined by `|`.
    let t = "{{ title \"hello wORLD foo_bar a-b\" }}|{{ quote nil 1 \"a\\\"b\" }}|{{ squote 1 }}|{{ default \"d\" 0 }}|{{ coalesce 0 \"\" \"x\" }}|{{ join \",\" (list 1 \"a\" nil) }}|{{ splitList \",\" \"a,b\" }}|{{ split \",\" \"a,b\" }}|{{ indent 2 \"a\\nb\" }}|{{ nindent 2 \"a\" }}|{{ b64enc \"hi!\" }}|{{ b64dec \"aGkh\" }}|{{ dict \"a\" 1 \"b\" }}|{{ hasKey (dict \"a\" 1) \"a\" }}|{{ int \"12\" }}|{{ toString 1.5 }}|{{ ternary 1 2 false }}|{{ len \"héllo\" }}|{{ index (list 1 2) 1 }}|{{ print 1 2 \"a\" 3 nil }}|{{ println 1 \"a\" }}|{{ not 0 }}|{{ and 1 0 2 }}|{{ or 0 \"\" }}";
    assert_eq!(
        ok(t, ""),
        "Hello WORLD Foo_bar A-B|\"1\" \"a\\\"b\"|'1'|d|x|1,a|[a b]|map[_0:a _1:b]|  a\n  b|\n  a|aGkh|hi!|map[a:1 b:]|true|12|1.5|2|6|2|1 2a3 <nil>|1 a\n|true|0|"
    );
    let t = "{{ upper \"a\" }}{{ lower \"B\" }}|{{ trim \"  x \" }}|{{ trimPrefix \"a\" \"abc\" }}|{{ trimSuffix \"c\" \"abc\" }}|{{ replace \"a\" \"b\" \"aXa\" }}|{{ contains \"b\" \"abc\" }}|{{ hasPrefix \"a\" \"abc\" }}|{{ hasSuffix \"a\" \"abc\" }}|{{ empty \"\" }}|{{ empty (list) }}|{{ keys (dict \"b\" 1 \"a\" 2) }}|{{ ne 1 2 }}|{{ lt 1 2 }}|{{ ge \"b\" \"a\" }}|{{ len (dict \"a\" 1) }}|{{ index (dict \"a\" (dict \"b\" 7)) \"a\" \"b\" }}";
    assert_eq!(
        ok(t, ""),
        "Ab|x|bc|ab|bXb|true|true|false|true|true|[a b]|true|true|true|1|7"
    );
    assert_eq!(
        ok(
            "{{ printf \"%5s|%-3d|%03d|%.2f|%q|%v|%t|%%\" \"ab\" 7 7 1.5 \"x\" (list 1 \"a\") true }}",
            ""
        ),
        "   ab|7  |007|1.50|\"x\"|[1 a]|true|%"
    );
    assert_eq!(ok("{{ printf \"%s %s\" \"a\" }}", ""), "a %!s(MISSING)");
    // Go: required/fail are execution errors carrying the spec's message ("execution error
    // at (...:1:33): need b": Go counts columns from 0, this engine from 1).
    let e = fails(
        "{{ tpl \"{{ .Values.a }}\" . }} {{ required \"need b\" .Values.b }}",
        "a: 1",
    );
    assert_eq!(
        (e.pos, e.kind),
        (
            Pos {
                line: 1,
                column: 34
            },
            ErrorKind::Failed("need b".into())
        )
    );
    assert_eq!(ok("{{ tpl \"{{ .Values.a }}\" . }}", "a: 1"), "1");
    assert_eq!(
        fails("{{ fail \"boom\" }}", "").kind,
        ErrorKind::Failed("boom".into())
    );
    assert_eq!(ok("{{ (fromYaml \"a: 1\\nb: [x]\").b }}", ""), "[x]");
}

#[test]
fn to_yaml_matches_go_yaml_v2() {
    // Go: toYaml of these values.
    let vals = "a: [1, 2]\nb: {c: \"true\", d: \"\", e: \"x: y\", f: \"multi\\nline\\n\", g: \"- dash\", h: 1.5, i: 1000000, j: null, k: \"123\", l: \"yes\", m: \" lead\", o: \"a #b\", p: \"multi\\nline\", q: [], r: {}, s: \"it's\", t: \"on\"}\nnested:\n  - name: x\n    list: [a, b]\n  - [1, 2]\n";
    assert_eq!(
        ok("{{ toYaml .Values }}", vals),
        "a:\n- 1\n- 2\nb:\n  c: \"true\"\n  d: \"\"\n  e: 'x: y'\n  f: |\n    multi\n    line\n  g: '- dash'\n  h: 1.5\n  i: 1000000\n  j: null\n  k: \"123\"\n  l: \"yes\"\n  m: ' lead'\n  o: 'a #b'\n  p: |-\n    multi\n    line\n  q: []\n  r: {}\n  s: it's\n  t: \"on\"\nnested:\n- list:\n  - a\n  - b\n  name: x\n- - 1\n  - 2"
    );
    let vals = "a: \"1.0\"\nb: \"0x1F\"\nc: \"1e3\"\nd: \"~\"\ne: \"Null\"\nf: \"-\"\ng: \"a:b\"\nh: \"a:\"\ni: \"@x\"\nj: \"x,y\"\nk: \"[x\"\nl: \"trailing \"\nm: \"tab\\tin\"\nn2: \"NO\"\no: \".5\"\np: \"1_000\"\nq: \"2001-12-14\"\nr: \"*\"\ns: \"?x\"\nt: \"a: \\\"q\\\"\"\nu: \"line\\n  indented\\n\"\nw: \"x  \\ny\"";
    assert_eq!(
        ok("{{ toYaml .Values }}", vals),
        "a: \"1.0\"\nb: \"0x1F\"\nc: \"1e3\"\nd: \"~\"\ne: \"Null\"\nf: '-'\ng: a:b\nh: 'a:'\ni: '@x'\nj: x,y\nk: '[x'\nl: 'trailing '\nm: \"tab\\tin\"\nn2: \"NO\"\no: \".5\"\np: \"1_000\"\nq: \"2001-12-14\"\nr: '*'\ns: ?x\nt: 'a: \"q\"'\nu: |\n  line\n    indented\nw: \"x  \\ny\""
    );
    // Go: long strings fold after column 80; literal blocks indent under their owner.
    let long = "word ".repeat(25);
    let long = long.trim();
    let vals = format!(
        "a: \"{long}\"\nb: \"{}\"\nc: \"q: {long}\"\nd:\n  - e: \"l1\\nl2\\n\"\n  - \"m\\nn\"\nf: {{g: {{h: \"deep\\n\"}}}}\n",
        "x".repeat(100)
    );
    assert_eq!(
        ok("{{ toYaml .Values }}", &vals),
        format!(
            "a: word word word word word word word word word word word word word word word word\n  word word word word word word word word word\nb: {}\nc: 'q: word word word word word word word word word word word word word word word\n  word word word word word word word word word word'\nd:\n- e: |\n    l1\n    l2\n- |-\n  m\n  n\nf:\n  g:\n    h: |\n      deep",
            "x".repeat(100)
        )
    );
}

#[test]
fn errors_name_the_function_and_position() {
    // Go: parse error at (...:1): function "nosuch" not defined
    let e = fails("a: 1\nb: {{ nosuch 1 }}", "");
    assert_eq!(e.pos, Pos { line: 2, column: 7 });
    assert_eq!(e.kind, ErrorKind::UndefinedFunction("nosuch".into()));
    assert_eq!(e.to_string(), "2:7: function \"nosuch\" not defined");
    // Helm has semverCompare; this engine does not, and says so.
    let e = fails("x\n  {{- if semverCompare \">1\" \"2\" }}{{ end }}", "");
    assert_eq!(
        e.pos,
        Pos {
            line: 2,
            column: 10
        }
    );
    assert_eq!(
        e.kind,
        ErrorKind::UnsupportedFunction("semverCompare".into())
    );
    assert!(
        e.to_string().contains("\"semverCompare\" is not supported"),
        "{e}"
    );
    let parse = |t: &str| Template::parse(t).expect_err(t).to_string();
    assert_eq!(
        parse("{{ if .X }}"),
        "1:1: unexpected EOF: {{if}} has no {{end}}"
    );
    assert_eq!(parse("ok\n{{ end }}"), "2:1: unexpected {{end}}");
    assert_eq!(parse("{{ .X"), "1:1: unclosed action (no `}}`)");
    assert_eq!(parse("{{ $y }}"), "1:4: undefined variable \"$y\"");
    assert_eq!(parse("{{ \"abc }}"), "1:4: unterminated quoted string");
    assert_eq!(parse("{{ .X | }}"), "1:7: missing command after `|`");
    let e = fails("{{ upper 3 }}", "");
    assert_eq!(
        e.kind,
        ErrorKind::Exec(
            "error calling upper: wrong type for value; expected string; got int".into()
        )
    );
    assert_eq!(
        fails("{{ template \"nope\" }}", "").kind,
        ErrorKind::Exec("no template \"nope\" associated with template".into())
    );
}

#[test]
fn truthiness_is_gos() {
    for (v, want) in [
        ("0", "F"),
        ("1", "T"),
        ("0.0", "F"),
        ("\"\"", "F"),
        ("\"0\"", "T"),
        ("[]", "F"),
        ("[0]", "T"),
        ("{}", "F"),
        ("{a: 1}", "T"),
        ("null", "F"),
        ("false", "F"),
        ("true", "T"),
    ] {
        assert_eq!(
            ok(
                "{{ if .Values.v }}T{{ else }}F{{ end }}",
                &format!("v: {v}")
            ),
            want,
            "{v}"
        );
    }
}

#[test]
fn break_outside_range_is_a_parse_error() {
    let e = Template::parse("{{ range .X }}{{ end }}{{ break }}").expect_err("break");
    assert_eq!(e.to_string(), "1:24: {{break}} outside {{range}}");
}

#[test]
fn runaway_output_is_an_error_not_an_out_of_memory() {
    assert_eq!(
        ok(
            "{{ range $i := 3 }}{{ $i }}{{ end }}{{ range 0 }}x{{ else }}none{{ end }}",
            ""
        ),
        "012none"
    );
    let e = fails("{{ range 100000000000 }}{{ \"0123456789\" }}{{ end }}", "");
    assert_eq!(
        e.kind,
        ErrorKind::Exec("the template prints more than 16777216 bytes".into())
    );
    assert!(
        fails("{{ repeat 100000000000 \"ab\" }}", "")
            .to_string()
            .contains("error calling repeat")
    );
}
