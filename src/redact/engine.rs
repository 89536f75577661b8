//! Streaming redaction of one file.
//!
//! - Lines are split on `\n`; the `\n` is not part of what the patterns see, and a missing final newline
//!   stays missing.
//! - Binary rule: a NUL byte in the first [`BINARY_SNIFF`] bytes marks the file binary, and it is copied
//!   byte-for-byte (the same heuristic git and grep use; text formats in a bundle never contain NUL).
//! - Long lines: troubleshoot fails a file with a line over 10 MiB. Here such a line is redacted in
//!   windows of at most [`MAX_LINE`] bytes, each treated as a line of its own, cut after a delimiter
//!   (`,` `;` `"` `}` `]` space…) near the window end so a token is rarely split; memory stays bounded.
//!   Each such line is counted in [`Counts::oversized_lines`]. A secret straddling a window cut can
//!   survive: that is the documented cost of not failing the file.
//! - All line redactors run in one pass with per-redactor multi-line state, which is equivalent to
//!   troubleshoot's chain of readers because no line redactor adds or removes line breaks.
//! - A yamlPath redactor needs the whole document, so a file that has one in its chain is staged in
//!   memory around it.

use super::goregex::already_masked;
use super::rules::{Compiled, LineKind, LineRedactor, Op, YamlRedactor};
use super::tokenize::Tokenizer;
use super::{MASK, MAX_LINE, RedactError, yaml_path};
use regex::bytes::SetMatches;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, Cursor, Read, Write};

/// How many leading bytes are checked for NUL to decide that a file is binary.
pub const BINARY_SNIFF: usize = 8000;

/// Window cuts look back at most this far for a delimiter.
const CUT_LOOKBACK: usize = 64 * 1024;

/// What happened to one file: match counts per redactor name (never the values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Replacements per redaction name.
    pub by_redactor: BTreeMap<String, u64>,
    /// Lines longer than [`MAX_LINE`], redacted in windows.
    pub oversized_lines: u64,
    /// The file was detected as binary and copied untouched.
    pub binary: bool,
}

impl Counts {
    /// Adds `n` replacements for a redactor.
    fn add(&mut self, name: &str, n: u64) {
        if n > 0 {
            *self.by_redactor.entry(name.to_string()).or_insert(0) += n;
        }
    }

    /// Total replacements.
    pub fn total(&self) -> u64 {
        self.by_redactor.values().sum()
    }
}

/// One stage of a file's chain: a run of line redactors, or a run of yamlPath redactors.
enum Stage<'a> {
    Lines(Vec<&'a LineRedactor>),
    Yaml(Vec<&'a YamlRedactor>),
}

/// Groups consecutive ops of the same kind so each group is one pass.
fn stages<'a>(ops: Vec<&'a Op>) -> Vec<Stage<'a>> {
    let mut out: Vec<Stage<'a>> = Vec::new();
    for op in ops {
        match (op, out.last_mut()) {
            (Op::Line(l), Some(Stage::Lines(v))) => v.push(l),
            (Op::Yaml(y), Some(Stage::Yaml(v))) => v.push(y),
            (Op::Line(l), _) => out.push(Stage::Lines(vec![l])),
            (Op::Yaml(y), _) => out.push(Stage::Yaml(vec![y])),
        }
    }
    out
}

/// Redacts `input` into `output` with the chain for bundle-relative `path`, adding to `counts`.
pub fn redact_stream(
    input: impl BufRead,
    output: impl Write,
    rules: &Compiled,
    path: &str,
    counts: &mut Counts,
) -> Result<(), RedactError> {
    redact_stream_with(input, output, rules, path, counts, None)
}

/// [`redact_stream`], replacing masked values with tokens when `tok` is given.
pub fn redact_stream_with(
    mut input: impl BufRead,
    mut output: impl Write,
    rules: &Compiled,
    path: &str,
    counts: &mut Counts,
    tok: Option<&Tokenizer>,
) -> Result<(), RedactError> {
    let io = |e| RedactError::io(path, e);
    // Sniff without losing the bytes: read the head, then chain it back in front.
    let mut head = Vec::with_capacity(BINARY_SNIFF);
    (&mut input)
        .take(BINARY_SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let mut input = Cursor::new(head).chain(input);
    if input.get_ref().0.get_ref().contains(&0) {
        counts.binary = true;
        std::io::copy(&mut input, &mut output).map_err(io)?;
        return output.flush().map_err(io);
    }
    let stages = stages(rules.ops_for(path));
    match stages.as_slice() {
        [] => {
            std::io::copy(&mut input, &mut output).map_err(io)?;
        }
        [Stage::Lines(ops)] => {
            redact_lines(input, &mut output, rules, ops, counts, tok).map_err(io)?
        }
        _ => {
            // Whole-document stages: buffer between stages.
            let mut buf = Vec::new();
            input.read_to_end(&mut buf).map_err(io)?;
            for stage in &stages {
                buf = match stage {
                    Stage::Lines(ops) => {
                        let mut out = Vec::with_capacity(buf.len());
                        redact_lines(&buf[..], &mut out, rules, ops, counts, tok).map_err(io)?;
                        out
                    }
                    Stage::Yaml(ys) => redact_yaml(buf, ys, counts, tok),
                };
            }
            output.write_all(&buf).map_err(io)?;
        }
    }
    output.flush().map_err(io)
}

/// Runs a yamlPath stage over a whole document.
fn redact_yaml(
    buf: Vec<u8>,
    ys: &[&YamlRedactor],
    counts: &mut Counts,
    tok: Option<&Tokenizer>,
) -> Vec<u8> {
    let paths: Vec<(&[String], &str)> = ys
        .iter()
        .map(|y| (y.path.as_slice(), y.name.as_str()))
        .collect();
    match yaml_path::redact_document_with(&buf, &paths, tok) {
        Some((out, per_path)) => {
            for (y, n) in ys.iter().zip(per_path) {
                counts.add(&y.name, n);
            }
            out
        }
        None => buf,
    }
}

/// Per-file state of the line redactors.
struct LineState<'a, 'r> {
    rules: &'r Compiled,
    ops: &'a [&'a LineRedactor],
    /// `armed[k]`: multi-line redactor k saw its selector on the previous line.
    armed: Vec<bool>,
    counts: &'a mut Counts,
    /// Replaces masked values with tokens when set.
    tok: Option<&'r Tokenizer>,
}

impl LineState<'_, '_> {
    /// Redacts one line (without its `\n`).
    fn line<'l>(&mut self, line: &'l [u8]) -> Cow<'l, [u8]> {
        let filter = &self.rules.filter;
        let mut hits: SetMatches = filter.matches(line);
        // Exact skip: if nothing can match the unchanged line and no redactor waits for it, the first
        // redactor leaves it unchanged, and so by induction does every later one.
        if !hits.matched_any() && !self.rules.unfilterable && !self.armed.contains(&true) {
            return Cow::Borrowed(line);
        }
        let mut cur: Cow<'l, [u8]> = Cow::Borrowed(line);
        for (k, op) in self.ops.iter().enumerate() {
            match &op.kind {
                LineKind::Single(rep) => {
                    if op.scan.is_some_and(|s| !hits.matched(s)) {
                        continue;
                    }
                    // The agent's own secrets always get the plain mask: a token would put the
                    // value into the token map, readable by whoever holds its key.
                    let tok = self
                        .tok
                        .filter(|_| !super::rules::is_agent_secret(&op.name));
                    if let Some((new, n)) =
                        rep.replace_with(&cur, tok.map(|t| (t, op.name.as_str())))
                    {
                        self.counts.add(&op.name, n);
                        hits = filter.matches(&new);
                        cur = Cow::Owned(new);
                    }
                }
                LineKind::Multi {
                    selector,
                    selector_scan,
                    redactor,
                } => {
                    if self.armed[k] {
                        // Line N+1 of a pair: redact it, and it is never itself a selector line.
                        self.armed[k] = false;
                        if let Some((new, n)) =
                            redactor.replace_with(&cur, self.tok.map(|t| (t, op.name.as_str())))
                        {
                            self.counts.add(&op.name, n);
                            hits = filter.matches(&new);
                            cur = Cow::Owned(new);
                        }
                    } else {
                        let scan_ok = selector_scan.is_none_or(|s| hits.matched(s));
                        self.armed[k] = scan_ok && selector.is_match(&cur);
                    }
                }
                LineKind::Block {
                    begin,
                    begin_scan,
                    end,
                } => {
                    if self.armed[k] {
                        if end.is_match(&cur) {
                            self.armed[k] = false;
                        } else if let Some(new) = mask_whole_line(&cur, self.tok, &op.name) {
                            self.counts.add(&op.name, 1);
                            hits = filter.matches(&new);
                            cur = Cow::Owned(new);
                        }
                    } else {
                        let scan_ok = begin_scan.is_none_or(|s| hits.matched(s));
                        // Both armour lines on one line is the single-line redactor's case.
                        self.armed[k] = scan_ok && begin.is_match(&cur) && !end.is_match(&cur);
                    }
                }
            }
        }
        cur
    }
}

/// The line with everything after its indentation masked; `None` when blank or already masked.
fn mask_whole_line(line: &[u8], tok: Option<&Tokenizer>, name: &str) -> Option<Vec<u8>> {
    let indent = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let body = &line[indent..];
    if body.is_empty() || already_masked(body) {
        return None;
    }
    let mut new = line[..indent].to_vec();
    match tok {
        Some(t) => new.extend_from_slice(t.token(body, name).as_bytes()),
        None => new.extend_from_slice(MASK.as_bytes()),
    }
    Some(new)
}

/// Streams lines through the line redactors.
fn redact_lines(
    mut input: impl BufRead,
    output: &mut impl Write,
    rules: &Compiled,
    ops: &[&LineRedactor],
    counts: &mut Counts,
    tok: Option<&Tokenizer>,
) -> std::io::Result<()> {
    let mut state = LineState {
        rules,
        ops,
        armed: vec![false; ops.len()],
        counts,
        tok,
    };
    let mut buf: Vec<u8> = Vec::new();
    // Set while a line longer than MAX_LINE is being redacted window by window.
    let mut long_line = false;
    let skip = if rules.unfilterable {
        None
    } else {
        rules.any.as_ref()
    };
    loop {
        // Fast path: between lines and with no redactor waiting for the next line, copy every whole
        // line before the first filter hit in the reader's buffer without looking at it line by line
        // (such a line cannot change: see `LineState::line`).
        if let Some(any) = skip
            && !long_line
            && !state.armed.contains(&true)
        {
            let avail = input.fill_buf()?;
            if let Some(last_nl) = avail.iter().rposition(|&b| b == b'\n') {
                let region = &avail[..=last_nl];
                let copy = match any.find(region) {
                    None => region.len(),
                    Some(m) => region[..m.start()]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |i| i + 1),
                };
                if copy > 0 {
                    output.write_all(&region[..copy])?;
                    input.consume(copy);
                    continue;
                }
            }
        }
        let ended = read_capped(&mut input, &mut buf, MAX_LINE)?;
        if !(ended.newline || ended.eof) {
            // Over MAX_LINE without a newline: redact a window, keep the tail, read on.
            if !long_line {
                state.counts.oversized_lines += 1;
                long_line = true;
            }
            let cut = window_cut(&buf);
            let out = state.line(&buf[..cut]);
            output.write_all(&out)?;
            buf.drain(..cut);
            continue;
        }
        if buf.is_empty() && !ended.newline && !long_line {
            return Ok(());
        }
        let out = state.line(&buf);
        output.write_all(&out)?;
        if ended.newline {
            output.write_all(b"\n")?;
        }
        buf.clear();
        long_line = false;
        if ended.eof {
            return Ok(());
        }
    }
}

/// How [`read_capped`] stopped.
struct Ended {
    /// A `\n` was consumed (not stored).
    newline: bool,
    /// The input is exhausted.
    eof: bool,
}

/// Appends to `buf` up to a `\n` (consumed, not stored), EOF, or `buf.len() == cap`.
fn read_capped(input: &mut impl BufRead, buf: &mut Vec<u8>, cap: usize) -> std::io::Result<Ended> {
    loop {
        let avail = match input.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(Ended {
                newline: false,
                eof: true,
            });
        }
        let room = cap.saturating_sub(buf.len());
        let look = &avail[..avail.len().min(room)];
        if let Some(i) = look.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&look[..i]);
            input.consume(i + 1);
            return Ok(Ended {
                newline: true,
                eof: false,
            });
        }
        let n = look.len();
        buf.extend_from_slice(look);
        input.consume(n);
        if buf.len() >= cap {
            return Ok(Ended {
                newline: false,
                eof: false,
            });
        }
    }
}

/// Where to end a window of an oversized line: just after the last delimiter near the end, else the end.
fn window_cut(buf: &[u8]) -> usize {
    let from = buf.len().saturating_sub(CUT_LOOKBACK);
    buf[from..]
        .iter()
        .rposition(|b| matches!(b, b',' | b';' | b'"' | b'}' | b']' | b' ' | b'\t' | b'&'))
        .map(|i| from + i + 1)
        .unwrap_or(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::{MASK, compile};
    use crate::spec::{RedactorRule, RegexRemoval, Removals};

    fn run(rules: &Compiled, path: &str, input: &[u8]) -> (Vec<u8>, Counts) {
        let mut out = Vec::new();
        let mut counts = Counts::default();
        redact_stream(input, &mut out, rules, path, &mut counts).expect("redacts");
        (out, counts)
    }

    fn user(removals: Removals) -> Compiled {
        compile(&[RedactorRule {
            name: "u".into(),
            removals,
            ..Default::default()
        }])
        .expect("compiles")
    }

    fn run_tok(rules: &Compiled, path: &str, input: &[u8], tok: &Tokenizer) -> String {
        let mut out = Vec::new();
        let mut counts = Counts::default();
        redact_stream_with(input, &mut out, rules, path, &mut counts, Some(tok)).expect("redacts");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn tokenize_one_token_per_match_two_secrets_on_one_line() {
        let c = user(Removals {
            values: vec!["alpha-secret-1".into(), "beta-secret-2".into()],
            ..Default::default()
        });
        let tok = Tokenizer::new([5; 32]);
        let out = run_tok(
            &c,
            "f",
            b"a=alpha-secret-1 b=beta-secret-2 c=alpha-secret-1\n",
            &tok,
        );
        let map = tok.map();
        assert_eq!(map.len(), 2, "{out}");
        let t1 = map
            .iter()
            .find(|(_, v)| *v == "alpha-secret-1")
            .expect("t1")
            .0;
        let t2 = map
            .iter()
            .find(|(_, v)| *v == "beta-secret-2")
            .expect("t2")
            .0;
        assert_ne!(t1, t2);
        assert_eq!(out, format!("a={t1} b={t2} c={t1}\n"));
    }

    #[test]
    fn tokenize_every_mask_site() {
        let c = compile(&[RedactorRule {
            name: "site".into(),
            removals: Removals {
                values: vec!["literal-value-1".into()],
                regex: vec![
                    RegexRemoval {
                        selector: None,
                        redactor: Some(r"(key=)(?P<mask>\w+)".into()),
                    },
                    RegexRemoval {
                        selector: Some("^next:$".into()),
                        redactor: Some(r"^(\s*)(?P<mask>.+)$".into()),
                    },
                ],
                yaml_path: vec!["top.pw".into()],
            },
            ..Default::default()
        }])
        .expect("compiles");
        let tok = Tokenizer::new([6; 32]);
        let input = b"{\"top\": {\"pw\": \"yaml-secret-9\"}, \"l\": \"literal-value-1 key=regexsecret7\",\n\"x\": \"next:\",\n\"m\": 1, \"env\": \"password=defaultpw99\"}\n";
        // The multi-line pair must be on two physical lines; build it separately.
        let out = run_tok(&c, "doc.json", input, &tok);
        let lines = run_tok(&c, "plain.txt", b"next:\n  multi-line-secret\n", &tok);
        let map = tok.map();
        let values: Vec<&str> = map.values().map(String::as_str).collect();
        for v in [
            "yaml-secret-9",
            "literal-value-1",
            "regexsecret7",
            "multi-line-secret",
        ] {
            assert!(
                values.contains(&v),
                "{v} not tokenized: {values:?}\n{out}\n{lines}"
            );
            assert!(!out.contains(v) && !lines.contains(v), "{v} leaked");
        }
        assert!(
            !out.contains(MASK) && !lines.contains(MASK),
            "{out}\n{lines}"
        );
        for t in map.keys() {
            assert!(crate::redact::tokenize::is_token(t), "{t}");
        }
        // Default redactors tokenize too.
        let d = Compiled::defaults().expect("defaults");
        let tok = Tokenizer::new([6; 32]);
        let out = run_tok(&d, "f", b"pwd=x;\n", &tok);
        let (t, v) = tok.map().into_iter().next().expect("one token");
        assert_eq!(v, "x");
        assert!(t.starts_with("***TOKEN_PASSWORD_"), "{t}");
        assert_eq!(out, format!("pwd={t};\n"));
    }

    #[test]
    fn final_newline_kept_or_absent() {
        let c = Compiled::defaults().expect("defaults");
        assert_eq!(run(&c, "f", b"a\nb").0, b"a\nb");
        assert_eq!(run(&c, "f", b"a\nb\n").0, b"a\nb\n");
        assert_eq!(run(&c, "f", b"").0, b"");
        assert_eq!(run(&c, "f", b"\n\n").0, b"\n\n");
        assert_eq!(run(&c, "f", b"pwd=x;").0, b"pwd=***HIDDEN***;");
    }

    #[test]
    fn binary_passes_through() {
        let c = user(Removals {
            values: vec!["secret".into()],
            ..Default::default()
        });
        let mut input = b"secret\0\xff\nPassword=abc;\n".to_vec();
        input.extend((0..=255u8).collect::<Vec<_>>());
        let (out, counts) = run(&c, "bin", &input);
        assert_eq!(out, input);
        assert!(counts.binary);
        assert_eq!(counts.total(), 0);
    }

    #[test]
    fn all_byte_values_survive_outside_matches() {
        // No NUL in the sniffed head: the file is text even with every other byte value in it.
        let c = user(Removals {
            values: vec!["hunter2".into()],
            ..Default::default()
        });
        let mut input: Vec<u8> = (1..=255u8).collect();
        input.extend_from_slice(b" hunter2 ");
        input.extend((1..=255u8).rev().collect::<Vec<_>>());
        let (out, counts) = run(&c, "f", &input);
        let expected = [
            &(1..=255u8).collect::<Vec<_>>()[..],
            b" ***HIDDEN*** ",
            &(1..=255u8).rev().collect::<Vec<_>>()[..],
        ]
        .concat();
        // Both halves contain `\n` (byte 10) which splits lines; the rest is byte-exact.
        assert_eq!(out, expected);
        assert_eq!(counts.by_redactor.get("u.literal.0"), Some(&1));
    }

    #[test]
    fn literal_counts_every_occurrence() {
        let c = user(Removals {
            values: vec!["abc".into()],
            ..Default::default()
        });
        let (out, counts) = run(&c, "f", b"abc xabcx\nnone\nabc");
        assert_eq!(out, b"***HIDDEN*** x***HIDDEN***x\nnone\n***HIDDEN***");
        assert_eq!(counts.by_redactor.get("u.literal.0"), Some(&3));
    }

    #[test]
    fn multi_line_pairs_consume_two_lines() {
        let c = user(Removals {
            regex: vec![RegexRemoval {
                selector: Some("S3_ENDPOINT".into()),
                redactor: Some(r#"("value": ").*(")"#.into()),
            }],
            ..Default::default()
        });
        let input = b"\"name\": \"S3_ENDPOINT\"\n\"value\": \"http://s3\"\n\"value\": \"kept\"\n";
        let (out, counts) = run(&c, "f", input);
        assert_eq!(
            out,
            b"\"name\": \"S3_ENDPOINT\"\n\"value\": \"\"\n\"value\": \"kept\"\n"
        );
        assert_eq!(counts.by_redactor.get("u.multiLine.0"), Some(&1));
        // The redacted line N+1 is never itself a selector line, so N+2 stays.
        let input = b"S3_ENDPOINT\nS3_ENDPOINT \"value\": \"a\"\n\"value\": \"b\"\n";
        let (out, _) = run(&c, "f", input);
        assert_eq!(
            out,
            b"S3_ENDPOINT\nS3_ENDPOINT \"value\": \"\"\n\"value\": \"b\"\n"
        );
        // Without a selector match the window slides by one.
        let input = b"x\nS3_ENDPOINT\n\"value\": \"c\"";
        let (out, _) = run(&c, "f", input);
        assert_eq!(out, b"x\nS3_ENDPOINT\n\"value\": \"\"");
    }

    #[test]
    fn default_multi_line_selector_then_value() {
        let c = Compiled::defaults().expect("defaults");
        let input = b"  \"name\": \"DB_PASSWORD\",\n  \"value\": \"s3cr3t\"\n";
        let (out, counts) = run(&c, "f", input);
        assert_eq!(
            out,
            format!("  \"name\": \"DB_PASSWORD\",\n  \"value\": \"{MASK}\"\n").as_bytes()
        );
        assert_eq!(
            counts
                .by_redactor
                .get("Redact password environment variables in multiline JSON"),
            Some(&1)
        );
    }

    #[test]
    fn yaml_stage_between_line_stages() {
        let c = user(Removals {
            values: vec!["plain".into()],
            yaml_path: vec!["a.b".into()],
            ..Default::default()
        });
        // Quoted: an unquoted `***HIDDEN***` would be read as a YAML alias and the document would no
        // longer parse (upstream has the same trait), so the yamlPath stage would pass it through.
        let (out, counts) = run(&c, "x.yaml", b"a:\n  b: deep\n  c: \"plain\"\n");
        let text = String::from_utf8(out).expect("utf8");
        assert!(!text.contains("deep") && !text.contains("plain"), "{text}");
        assert_eq!(counts.by_redactor.get("u.yaml.0"), Some(&1));
        assert_eq!(counts.by_redactor.get("u.literal.0"), Some(&1));
    }

    #[test]
    fn oversized_line_is_windowed() {
        let c = user(Removals {
            values: vec!["SECRETVALUE".into()],
            ..Default::default()
        });
        let mut line = b"SECRETVALUE,".to_vec();
        line.resize(MAX_LINE * 2 + 100, b'a');
        line.extend_from_slice(b",SECRETVALUE");
        line.extend_from_slice(b"\nafter SECRETVALUE");
        let (out, counts) = run(&c, "big", &line);
        assert_eq!(counts.oversized_lines, 1);
        assert_eq!(counts.by_redactor.get("u.literal.0"), Some(&3));
        assert!(!out.windows(11).any(|w| w == b"SECRETVALUE"));
        assert_eq!(out.len(), line.len() + 3 * (MASK.len() - 11));
        assert!(out.ends_with(b"\nafter ***HIDDEN***"));
    }

    #[test]
    fn skip_ahead_search_changes_nothing() {
        // The same chain with and without the buffer-wide pre-filter search must redact alike,
        // including anchored user patterns, multi-line pairs across hits and PEM blocks.
        let fast = compile(&[RedactorRule {
            name: "u".into(),
            removals: Removals {
                regex: vec![
                    RegexRemoval {
                        selector: None,
                        redactor: Some(r"^(secret: )(?P<mask>.*)$".into()),
                    },
                    RegexRemoval {
                        selector: Some(r"^NEXT$".into()),
                        redactor: Some(r"^(?P<mask>.+)$".into()),
                    },
                ],
                ..Default::default()
            },
            ..Default::default()
        }])
        .expect("compiles");
        assert!(fast.any.is_some());
        let mut slow = fast.clone();
        slow.any = None;
        let mut input = String::new();
        for i in 0..2000 {
            input.push_str(&format!("line {i} plain text\n"));
            match i % 97 {
                0 => input.push_str("secret: anchored\nx secret: not-anchored\n"),
                1 => input.push_str("NEXT\nmasked-next-line\n"),
                2 => input.push_str("  \"name\": \"DB_PASSWORD\",\n  \"value\": \"pw\"\n"),
                3 => input.push_str(
                    "-----BEGIN RSA PRIVATE KEY-----\nbody\n-----END RSA PRIVATE KEY-----\n",
                ),
                4 => input.push_str("Authorization: Bearer tok3nvalue99\n"),
                _ => {}
            }
        }
        input.push_str("no final newline secret: x");
        let (a, ca) = run(&fast, "f", input.as_bytes());
        let (b, cb) = run(&slow, "f", input.as_bytes());
        assert_eq!(a, b);
        assert_eq!(ca, cb);
        let text = String::from_utf8(a).expect("utf8");
        for leak in [
            "secret: anchored",
            "masked-next-line",
            "\"pw\"",
            "\nbody\n",
            "tok3nvalue99",
        ] {
            assert!(!text.contains(leak), "{leak}");
        }
        // Not at the line start: the user pattern leaves it, the KEY=value / YAML extras do not apply.
        assert!(text.contains("x secret: not-anchored"), "{text}");
    }

    #[test]
    fn window_cut_prefers_delimiters() {
        assert_eq!(window_cut(b"abc,def"), 4);
        assert_eq!(window_cut(b"abcdef"), 6);
    }
}
