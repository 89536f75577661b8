//! Splitting a template into text and actions, and an action into tokens, as Go's
//! `text/template/parse` lexer does (trim markers, comments, string and number literals).

use super::{Error, ErrorKind, Pos};

/// A piece of the template: text (already trimmed by its neighbours' markers) or an action.
#[derive(Debug)]
pub(super) enum Item {
    Text(String),
    Action(Pos, Vec<(Pos, Tok)>),
}

/// One token of an action.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    /// `.name` (without the dot).
    Field(String),
    /// `$` or `$name` (with the dollar).
    Var(String),
    Dot,
    Str(String),
    Num(String),
    Char(char),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Space,
}

/// Maps byte offsets to 1-based line and column (columns count characters).
pub(super) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    pub(super) fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let column = self.text[start..offset.min(self.text.len())]
            .chars()
            .count()
            + 1;
        Pos {
            line: line as u32,
            column: column as u32,
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits `text` into items.
pub(super) fn items(text: &str) -> Result<Vec<Item>, Error> {
    let lines = Lines::new(text);
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let mut trim_next = false;
    while at <= text.len() {
        let open = text[at..].find("{{").map(|i| at + i);
        let mut piece = &text[at..open.unwrap_or(text.len())];
        if trim_next {
            piece = piece.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            push_text(&mut out, piece);
            break;
        };
        let mut inner = open + 2;
        // `{{- ` trims the text before; `{{-3}}` is the number -3.
        if bytes.get(inner) == Some(&b'-') && bytes.get(inner + 1).is_some_and(|c| is_space(*c)) {
            piece = piece.trim_end_matches([' ', '\t', '\r', '\n']);
            inner += 2;
        }
        push_text(&mut out, piece);
        let start = lines.pos(open);
        let (tokens, end, trim) = action(text, inner, &lines).map_err(|mut e| {
            if e.pos.line == 0 {
                e.pos = start;
            }
            e
        })?;
        if let Some(tokens) = tokens {
            out.push(Item::Action(start, tokens));
        }
        trim_next = trim;
        at = end;
    }
    Ok(out)
}

fn push_text(out: &mut Vec<Item>, piece: &str) {
    if !piece.is_empty() {
        out.push(Item::Text(piece.to_string()));
    }
}

fn parse_err(pos: Pos, message: impl Into<String>) -> Error {
    Error {
        pos,
        kind: ErrorKind::Parse(message.into()),
    }
}

/// An action's tokens (None for a comment), the offset after its `}}`, and whether it trims the
/// text after it.
type Lexed = (Option<Vec<(Pos, Tok)>>, usize, bool);

/// The tokens of the action whose text starts at `at` (None for a comment), the offset after
/// its `}}`, and whether it trims the text after it.
fn action(text: &str, mut at: usize, lines: &Lines<'_>) -> Result<Lexed, Error> {
    let bytes = text.as_bytes();
    let close_at = |i: usize| -> Option<(usize, bool)> {
        if text[i..].starts_with("}}") {
            Some((i + 2, false))
        } else if i > 0 && is_space(bytes[i - 1]) && text[i..].starts_with("-}}") {
            Some((i + 3, true))
        } else {
            None
        }
    };
    // A comment comes right after the delimiter (and its trim marker).
    if text[at..].starts_with("/*") {
        return comment(text, at, lines);
    }
    let mut tokens: Vec<(Pos, Tok)> = Vec::new();
    loop {
        if at >= text.len() {
            return Err(parse_err(Pos::default(), "unclosed action (no `}}`)"));
        }
        if let Some((end, trim)) = close_at(at) {
            if matches!(tokens.last(), Some((_, Tok::Space))) {
                tokens.pop();
            }
            return Ok((Some(tokens), end, trim));
        }
        let pos = lines.pos(at);
        let c = bytes[at];
        let (tok, len) = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                let n = text[at..].bytes().take_while(|b| is_space(*b)).count();
                // The space before ` -}}` belongs to the trim marker.
                (Tok::Space, n)
            }
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'|' => (Tok::Pipe, 1),
            b',' => (Tok::Comma, 1),
            b'=' => (Tok::Assign, 1),
            b':' if bytes.get(at + 1) == Some(&b'=') => (Tok::Declare, 2),
            b'"' => quoted(text, at, lines)?,
            b'`' => match text[at + 1..].find('`') {
                Some(i) => (Tok::Str(text[at + 1..at + 1 + i].to_string()), i + 2),
                None => return Err(parse_err(pos, "unterminated raw quoted string")),
            },
            b'\'' => char_const(text, at, lines)?,
            b'$' => {
                let n = word_len(&text[at + 1..]);
                (Tok::Var(text[at..at + 1 + n].to_string()), 1 + n)
            }
            b'.' => {
                let n = word_len(&text[at + 1..]);
                if n == 0 {
                    if bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
                        number(text, at)
                    } else {
                        (Tok::Dot, 1)
                    }
                } else {
                    (Tok::Field(text[at + 1..at + 1 + n].to_string()), 1 + n)
                }
            }
            b'0'..=b'9' => number(text, at),
            b'+' | b'-'
                if bytes
                    .get(at + 1)
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'.') =>
            {
                number(text, at)
            }
            _ if c == b'_' || text[at..].chars().next().is_some_and(char::is_alphabetic) => {
                let n = word_len(&text[at..]);
                let word = &text[at..at + n];
                let tok = match word {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    _ => Tok::Ident(word.to_string()),
                };
                (tok, n)
            }
            _ => {
                let ch = text[at..].chars().next().unwrap_or('?');
                return Err(parse_err(pos, format!("unexpected {ch:?} in action")));
            }
        };
        tokens.push((pos, tok));
        at += len;
    }
}

/// The comment action whose `/*` is at `at`: no tokens, the offset after its `}}`, and whether it
/// trims the text after it.
fn comment(text: &str, at: usize, lines: &Lines<'_>) -> Result<Lexed, Error> {
    let Some(end) = text[at + 2..].find("*/").map(|i| at + 2 + i + 2) else {
        return Err(parse_err(lines.pos(at), "unclosed comment"));
    };
    let rest = &text[end..];
    if rest.starts_with("}}") {
        return Ok((None, end + 2, false));
    }
    if rest.starts_with(" -}}") {
        return Ok((None, end + 4, true));
    }
    Err(parse_err(
        lines.pos(end),
        "comment ends before closing delimiter",
    ))
}

fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

fn number(text: &str, at: usize) -> (Tok, usize) {
    let bytes = text.as_bytes();
    let mut n = 1;
    while let Some(&b) = bytes.get(at + n) {
        let prev = bytes[at + n - 1];
        let exp_sign = (b == b'+' || b == b'-') && matches!(prev, b'e' | b'E' | b'p' | b'P');
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exp_sign {
            n += 1;
        } else {
            break;
        }
    }
    (Tok::Num(text[at..at + n].to_string()), n)
}

fn quoted(text: &str, at: usize, lines: &Lines<'_>) -> Result<(Tok, usize), Error> {
    let mut out = String::new();
    let mut chars = text[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), i + 2)),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.by_ref().take(len).map(|(_, c)| c).collect();
                        let ch = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        match ch {
                            Some(ch) if hex.len() == len => out.push(ch),
                            _ => {
                                return Err(parse_err(
                                    lines.pos(at),
                                    format!("invalid escape \\{e}{hex} in string"),
                                ));
                            }
                        }
                    }
                    other => {
                        return Err(parse_err(
                            lines.pos(at),
                            format!("unknown escape sequence \\{other} in string"),
                        ));
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(parse_err(lines.pos(at), "unterminated quoted string"))
}

fn char_const(text: &str, at: usize, lines: &Lines<'_>) -> Result<(Tok, usize), Error> {
    let rest = &text[at + 1..];
    let mut chars = rest.chars();
    let c = match chars.next() {
        Some('\\') => match chars.next() {
            Some('n') => Some(('\n', 2)),
            Some('t') => Some(('\t', 2)),
            Some('\\') => Some(('\\', 2)),
            Some('\'') => Some(('\'', 2)),
            _ => None,
        },
        Some(c) if c != '\'' => Some((c, c.len_utf8())),
        _ => None,
    };
    match c {
        Some((c, len)) if rest[len..].starts_with('\'') => Ok((Tok::Char(c), len + 2)),
        _ => Err(parse_err(lines.pos(at), "malformed character constant")),
    }
}
