//! Template data: the dynamic values Go templates see, how Go prints them and which are true.

use std::collections::BTreeMap;

/// A value as Go's `map[string]interface{}` data holds it. Maps are ordered by key, as Go's
/// `range` and `fmt` walk them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A missing map entry or `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (template literals, `--set` numbers, `len`).
    Int(i64),
    /// A float (numbers read from YAML values files are float64 in troubleshoot, as JSON's are).
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// Go's type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// How `{{ . }}` prints the value (`fmt.Print`); nil is `<no value>`.
    pub fn print(&self) -> String {
        match self {
            Value::Nil => "<no value>".to_string(),
            other => other.sprint(),
        }
    }

    /// `fmt.Sprint` of the value (`%v`); nil is `<nil>`.
    pub fn sprint(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float_v(*f),
            Value::Str(s) => s.clone(),
            Value::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Value::sprint)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Value::Map(map) => format!(
                "map[{}]",
                map.iter()
                    .map(|(k, v)| format!("{k}:{}", v.sprint()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }

    /// The value as JSON (`toJson`, conversions).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A JSON value as template data; `floats` makes every number a float64, as Go's
    /// `json.Unmarshal` into `interface{}` does.
    pub fn from_json(json: &serde_json::Value, floats: bool) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) if !floats => Value::Int(i),
                _ => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::List(a.iter().map(|v| Value::from_json(v, floats)).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v, floats)))
                    .collect(),
            ),
        }
    }
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6 (`1e+06`).
pub fn format_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: d.ddddde±x.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}
