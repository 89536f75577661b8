//! Helm's `toYaml` and `fromYaml`: YAML as `sigs.k8s.io/yaml` (go-yaml v2's emitter) writes it —
//! sorted keys, lists not indented under their key, strings quoted when YAML 1.1 would read
//! them as something else, multi-line strings as literal blocks, long lines folded after
//! column 80.

use super::value::Value;
use crate::yaml;
use std::collections::BTreeMap;

/// go-yaml v2's line width.
const WIDTH: usize = 80;

/// The YAML text of `v` (ends with a newline, as `yaml.Marshal` does).
pub(super) fn to_yaml(v: &Value) -> String {
    let mut e = Emitter::default();
    match v {
        Value::Map(m) if !m.is_empty() => e.map(m, 0),
        Value::List(l) if !l.is_empty() => e.list(l, 0),
        other => {
            e.inline(other, 0);
        }
    }
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    e.out
}

/// sprig/Helm `fromYaml`: a map, or `{"Error": message}` when the text is not a YAML mapping.
/// Numbers are float64, as `sigs.k8s.io/yaml` decodes them.
pub(super) fn from_yaml(text: &str) -> Value {
    let error = |m: String| Value::Map(BTreeMap::from([("Error".to_string(), Value::Str(m))]));
    match yaml::parse_documents(text) {
        Ok(docs) => match docs.first().map(|d| Value::from_json(&d.to_json(), true)) {
            Some(Value::Map(m)) => Value::Map(m),
            None | Some(Value::Nil) => Value::Map(BTreeMap::new()),
            Some(other) => error(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                other.type_name()
            )),
        },
        Err(e) => error(e.message),
    }
}

#[derive(Default)]
struct Emitter {
    out: String,
}

impl Emitter {
    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn newline(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.push_str(&" ".repeat(indent));
    }

    fn map(&mut self, m: &BTreeMap<String, Value>, indent: usize) {
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.newline(indent);
            }
            self.scalar(k, indent);
            self.out.push(':');
            self.value(v, indent);
        }
    }

    fn list(&mut self, l: &[Value], indent: usize) {
        for (i, v) in l.iter().enumerate() {
            if i > 0 {
                self.newline(indent);
            }
            self.out.push_str("- ");
            match v {
                Value::Map(m) if !m.is_empty() => self.map(m, indent + 2),
                Value::List(l) if !l.is_empty() => self.list(l, indent + 2),
                other => self.inline(other, indent),
            }
        }
    }

    /// The value after `key:` of a mapping at `indent`.
    fn value(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Map(m) if !m.is_empty() => {
                self.newline(indent + 2);
                self.map(m, indent + 2);
            }
            Value::List(l) if !l.is_empty() => {
                self.newline(indent);
                self.list(l, indent);
            }
            other => {
                self.out.push(' ');
                self.inline(other, indent);
            }
        }
    }

    /// A scalar (or empty collection) owned by a node at `indent`.
    fn inline(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Nil => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(&b.to_string()),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => self.out.push_str(&float(*f)),
            Value::Str(s) => self.scalar(s, indent),
            Value::List(_) => self.out.push_str("[]"),
            Value::Map(_) => self.out.push_str("{}"),
        }
    }

    fn scalar(&mut self, s: &str, indent: usize) {
        let next = indent + 2;
        let special = s.chars().any(|c| !printable(c));
        if s.contains('\n') && !special && !space_before_break(s) {
            return self.literal(s, next);
        }
        if special || s.contains('\n') || (!s.is_empty() && resolves_non_string(s)) || s.is_empty()
        {
            return self.double_quoted(s, next);
        }
        if plain_allowed(s) {
            self.folded(s, next, false);
        } else {
            self.out.push('\'');
            self.folded(s, next, true);
            self.out.push('\'');
        }
    }

    /// Plain or single-quoted text, a space becoming a line break past the width.
    fn folded(&mut self, s: &str, indent: usize, quoted: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let inner = !quoted || (i != 0 && i != chars.len() - 1);
                if !spaces && inner && self.column() > WIDTH && chars.get(i + 1) != Some(&' ') {
                    self.newline(indent);
                } else {
                    self.out.push(' ');
                }
                spaces = true;
            } else {
                if quoted && c == '\'' {
                    self.out.push('\'');
                }
                self.out.push(c);
                spaces = false;
            }
        }
    }

    fn double_quoted(&mut self, s: &str, indent: usize) {
        self.out.push('"');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if !spaces && i != 0 && i != chars.len() - 1 && self.column() > WIDTH {
                    self.newline(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.out.push('\\');
                    }
                } else {
                    self.out.push(' ');
                }
                spaces = true;
                continue;
            }
            spaces = false;
            match c {
                '\0' => self.out.push_str("\\0"),
                '\x07' => self.out.push_str("\\a"),
                '\x08' => self.out.push_str("\\b"),
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\x0b' => self.out.push_str("\\v"),
                '\x0c' => self.out.push_str("\\f"),
                '\r' => self.out.push_str("\\r"),
                '\x1b' => self.out.push_str("\\e"),
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\u{85}' => self.out.push_str("\\N"),
                '\u{a0}' => self.out.push_str("\\_"),
                '\u{2028}' => self.out.push_str("\\L"),
                '\u{2029}' => self.out.push_str("\\P"),
                c if !printable(c) && (c as u32) <= 0xff => {
                    self.out.push_str(&format!("\\x{:02X}", c as u32))
                }
                c if !printable(c) => self.out.push_str(&format!("\\u{:04X}", c as u32)),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with([' ', '\n']) {
            self.out.push('2');
        }
        let body = s.trim_end_matches('\n');
        match s.len() - body.len() {
            0 => self.out.push('-'),
            1 => {}
            _ => self.out.push('+'),
        }
        let keep = if s.len() - body.len() > 1 { s } else { body };
        for line in keep.split('\n') {
            self.out.push('\n');
            if !line.is_empty() {
                self.out.push_str(&" ".repeat(indent));
                self.out.push_str(line);
            }
        }
        if keep.ends_with('\n') {
            self.out.pop();
        }
    }
}

/// go-yaml's printable set (tabs are not).
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\x20'..='\x7e' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
        && c != '\u{feff}'
}

fn space_before_break(s: &str) -> bool {
    s.contains(" \n")
}

/// Whether go-yaml would write `s` plain in block context.
fn plain_allowed(s: &str) -> bool {
    if s.starts_with([' ']) || s.ends_with(' ') {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    let followed_by_space = second.is_none_or(|c| c == ' ');
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && followed_by_space {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    !(s.contains(": ") || s.ends_with(':') || s.contains(" #"))
}

/// Whether go-yaml v2 (YAML 1.1) would read the plain text as a bool, null, number or date.
fn resolves_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE", "n", "N", "no",
        "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    let digits = plain.trim_start_matches(['+', '-']);
    let int = match digits.get(..2) {
        Some("0x" | "0X") => i64::from_str_radix(&digits[2..], 16).is_ok(),
        Some("0o" | "0O") => i64::from_str_radix(&digits[2..], 8).is_ok(),
        Some("0b" | "0B") => i64::from_str_radix(&digits[2..], 2).is_ok(),
        _ => digits.parse::<u64>().is_ok(),
    };
    int || plain.parse::<f64>().is_ok() || date_like(s)
}

fn date_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// go-yaml's float output (`strconv.FormatFloat(f, 'g', -1, 64)`), after JSON's round trip
/// made whole numbers integers.
fn float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    super::value::format_float_v(f)
}
