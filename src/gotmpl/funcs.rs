//! The functions: Go's builtins, the sprig functions specs use, and Helm's `toYaml`,
//! `required`, `fail`. `include`, `tpl`, `and` and `or` need the executor and live there.

use super::value::Value;
use super::{ErrorKind, fmt, yaml_out};
use std::collections::BTreeMap;

/// Functions this engine has (`include`, `tpl`, `and`, `or` are run by the executor).
const SUPPORTED: &[&str] = &[
    "and",
    "or",
    "not",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "include",
    "tpl",
    "required",
    "fail",
    "default",
    "empty",
    "coalesce",
    "quote",
    "squote",
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "join",
    "split",
    "splitList",
    "toYaml",
    "toJson",
    "fromYaml",
    "indent",
    "nindent",
    "b64enc",
    "b64dec",
    "list",
    "dict",
    "hasKey",
    "keys",
    "int",
    "int64",
    "toString",
    "ternary",
    "repeat",
    "nospace",
    "cat",
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "first",
    "last",
    "has",
    "kindIs",
];

/// Go, sprig and Helm functions this engine does not have: using one is an error that says so
/// (rather than "not defined", which would suggest a typo).
const UNSUPPORTED: &[&str] = &[
    "html",
    "js",
    "urlquery",
    "slice",
    "call",
    "abbrev",
    "abbrevboth",
    "trunc",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "randInt",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "substr",
    "untitle",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "htpasswd",
    "toDate",
    "mustToDate",
    "date",
    "dateInZone",
    "now",
    "ago",
    "unixEpoch",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "toDecimal",
    "seq",
    "until",
    "untilStep",
    "max",
    "min",
    "floor",
    "ceil",
    "round",
    "atoi",
    "float64",
    "maxf",
    "minf",
    "addf",
    "subf",
    "mulf",
    "divf",
    "add1f",
    "toStrings",
    "sortAlpha",
    "rest",
    "initial",
    "append",
    "prepend",
    "concat",
    "reverse",
    "uniq",
    "without",
    "compact",
    "chunk",
    "set",
    "unset",
    "pluck",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "values",
    "deepCopy",
    "dig",
    "get",
    "regexMatch",
    "regexFind",
    "regexFindAll",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "regexSplit",
    "regexQuoteMeta",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "encryptAES",
    "decryptAES",
    "uuidv4",
    "semver",
    "semverCompare",
    "fromJson",
    "fromJsonArray",
    "fromYamlArray",
    "toPrettyJson",
    "toRawJson",
    "toToml",
    "toYamlPretty",
    "env",
    "expandenv",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "kindOf",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "deepEqual",
    "b32enc",
    "b32dec",
    "getHostByName",
    "urlParse",
    "urlJoin",
    "lookup",
    "tuple",
    "splitn",
    "bitwiseAnd",
    "bitwiseOr",
    "mustRegexMatch",
    "mustToJson",
    "mustToYaml",
    "mustFromJson",
    "mustMerge",
    "mustAppend",
    "mustFirst",
    "mustLast",
    "osBase",
    "osDir",
    "fromToml",
    "sha256",
];

/// Whether `name` can be called here (checked while parsing, as Go does).
pub(super) fn check(name: &str) -> Result<(), ErrorKind> {
    if SUPPORTED.contains(&name) {
        Ok(())
    } else if UNSUPPORTED.contains(&name) || name.starts_with("must") {
        Err(ErrorKind::UnsupportedFunction(name.to_string()))
    } else {
        Err(ErrorKind::UndefinedFunction(name.to_string()))
    }
}

fn err(message: impl Into<String>) -> ErrorKind {
    ErrorKind::Exec(message.into())
}

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), ErrorKind> {
    if args.len() == want {
        Ok(())
    } else {
        Err(err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )))
    }
}

/// A `string` parameter: Go passes nothing else (no conversion).
fn string_arg<'a>(name: &str, v: &'a Value) -> Result<&'a str, ErrorKind> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(err(format!(
            "error calling {name}: wrong type for value; expected string; got {}",
            if matches!(other, Value::Nil) {
                "interface {}"
            } else {
                other.type_name()
            }
        ))),
    }
}

fn int_arg(name: &str, v: &Value) -> Result<i64, ErrorKind> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(err(format!(
            "error calling {name}: wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

/// sprig's `strval`: strings as they are, anything else as `%v` prints it.
pub(super) fn strval(v: &Value) -> String {
    v.sprint()
}

/// sprig's `empty`.
fn empty(v: &Value) -> bool {
    !v.truthy()
}

/// sprig's `strslice`: a list's non-nil items as strings; nil is empty; anything else one item.
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|v| **v != Value::Nil).map(strval).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// Calls `name` (already checked) with evaluated arguments.
pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, ErrorKind> {
    let a = &args;
    let s = |i: usize| string_arg(name, &a[i]);
    let v = match name {
        "not" => {
            arity(name, a, 1)?;
            Value::Bool(!a[0].truthy())
        }
        "len" => {
            arity(name, a, 1)?;
            Value::Int(match &a[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                other => {
                    return Err(err(format!(
                        "error calling len: len of type {}",
                        other.type_name()
                    )));
                }
            } as i64)
        }
        "index" => index(a)?,
        "print" => Value::Str(fmt::sprint(a)),
        "println" => Value::Str(fmt::sprintln(a)),
        "printf" => {
            let Some(format) = a.first() else {
                return Err(err(
                    "wrong number of args for printf: want at least 1 got 0",
                ));
            };
            Value::Str(fmt::sprintf(string_arg(name, format)?, &a[1..]))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => compare(name, a)?,
        "required" => {
            arity(name, a, 2)?;
            let missing = matches!(&a[1], Value::Nil) || a[1] == Value::Str(String::new());
            if missing {
                return Err(ErrorKind::Failed(strval(&a[0])));
            }
            a[1].clone()
        }
        "fail" => {
            arity(name, a, 1)?;
            return Err(ErrorKind::Failed(s(0)?.to_string()));
        }
        "default" => match a.as_slice() {
            [d] => d.clone(),
            [d, given, ..] => {
                if empty(given) {
                    d.clone()
                } else {
                    given.clone()
                }
            }
            [] => {
                return Err(err(
                    "wrong number of args for default: want at least 1 got 0",
                ));
            }
        },
        "empty" => {
            arity(name, a, 1)?;
            Value::Bool(empty(&a[0]))
        }
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil),
        "quote" => Value::Str(
            a.iter()
                .filter(|v| **v != Value::Nil)
                .map(|v| fmt::go_quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => Value::Str(
            a.iter()
                .filter(|v| **v != Value::Nil)
                .map(|v| format!("'{}'", strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "upper" | "lower" | "title" | "trim" | "b64enc" | "b64dec" | "nospace" | "toYaml"
        | "toJson" | "fromYaml" | "toString" | "int" | "int64" | "add1" | "first" | "last" => {
            arity(name, a, 1)?;
            one(name, &a[0])?
        }
        "trimPrefix" | "trimSuffix" | "trimAll" | "contains" | "hasPrefix" | "hasSuffix"
        | "split" | "splitList" => {
            arity(name, a, 2)?;
            two_strings(name, s(0)?, s(1)?)
        }
        _ => return more(name, args),
    };
    Ok(v)
}

/// The rest of [`call`]: strings with counts, then [`collections`].
fn more(name: &str, args: Vec<Value>) -> Result<Value, ErrorKind> {
    let a = &args;
    let s = |i: usize| string_arg(name, &a[i]);
    let v = match name {
        "replace" => {
            arity(name, a, 3)?;
            Value::Str(s(2)?.replace(s(0)?, s(1)?))
        }
        "repeat" => {
            arity(name, a, 2)?;
            {
                let (text, count) = (s(1)?, int_arg(name, &a[0])?.max(0) as usize);
                if text.len().saturating_mul(count) > super::exec::MAX_OUTPUT {
                    return Err(err(format!(
                        "error calling repeat: more than {} bytes",
                        super::exec::MAX_OUTPUT
                    )));
                }
                Value::Str(text.repeat(count))
            }
        }
        "join" => {
            arity(name, a, 2)?;
            Value::Str(strslice(&a[1]).join(s(0)?))
        }
        "indent" | "nindent" => {
            arity(name, a, 2)?;
            let pad = " ".repeat(int_arg(name, &a[0])?.max(0) as usize);
            let text = format!("{pad}{}", s(1)?.replace('\n', &format!("\n{pad}")));
            Value::Str(if name == "nindent" {
                format!("\n{text}")
            } else {
                text
            })
        }
        "cat" => Value::Str(
            a.iter()
                .filter(|v| **v != Value::Nil)
                .map(strval)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => return collections(name, args),
    };
    Ok(v)
}

/// The rest of [`more`]: lists, dicts, choices, kinds and arithmetic.
fn collections(name: &str, args: Vec<Value>) -> Result<Value, ErrorKind> {
    let a = &args;
    let s = |i: usize| string_arg(name, &a[i]);
    let v = match name {
        "list" => Value::List(args.clone()),
        "dict" => {
            let mut m = BTreeMap::new();
            for pair in a.chunks(2) {
                m.insert(
                    strval(&pair[0]),
                    pair.get(1).cloned().unwrap_or(Value::Str(String::new())),
                );
            }
            Value::Map(m)
        }
        "hasKey" => {
            arity(name, a, 2)?;
            let key = s(1)?;
            match &a[0] {
                Value::Map(m) => Value::Bool(m.contains_key(key)),
                other => {
                    return Err(err(format!(
                        "error calling hasKey: wrong type for value; expected map[string]interface {{}}; got {}",
                        other.type_name()
                    )));
                }
            }
        }
        "keys" => Value::List(
            a.iter()
                .filter_map(|v| match v {
                    Value::Map(m) => Some(m.keys().cloned().map(Value::Str).collect::<Vec<_>>()),
                    _ => None,
                })
                .flatten()
                .collect(),
        ),
        "ternary" => {
            arity(name, a, 3)?;
            match &a[2] {
                Value::Bool(c) => {
                    if *c {
                        a[0].clone()
                    } else {
                        a[1].clone()
                    }
                }
                other => {
                    return Err(err(format!(
                        "error calling ternary: wrong type for value; expected bool; got {}",
                        other.type_name()
                    )));
                }
            }
        }
        "has" => {
            arity(name, a, 2)?;
            Value::Bool(matches!(&a[1], Value::List(l) if l.contains(&a[0])))
        }
        "kindIs" => {
            arity(name, a, 2)?;
            let kind = match &a[1] {
                Value::Nil => "invalid",
                Value::Bool(_) => "bool",
                Value::Int(_) => "int",
                Value::Float(_) => "float64",
                Value::Str(_) => "string",
                Value::List(_) => "slice",
                Value::Map(_) => "map",
            };
            Value::Bool(s(0)? == kind)
        }
        "add" | "sub" | "mul" | "div" | "mod" => arithmetic(name, a)?,
        other => return Err(ErrorKind::UnsupportedFunction(other.to_string())),
    };
    Ok(v)
}

fn one(name: &str, v: &Value) -> Result<Value, ErrorKind> {
    Ok(match name {
        "upper" => Value::Str(string_arg(name, v)?.to_uppercase()),
        "lower" => Value::Str(string_arg(name, v)?.to_lowercase()),
        "title" => Value::Str(title(string_arg(name, v)?)),
        "trim" => Value::Str(string_arg(name, v)?.trim().to_string()),
        "nospace" => Value::Str(
            string_arg(name, v)?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        ),
        "b64enc" => Value::Str(fmt::b64_encode(string_arg(name, v)?.as_bytes())),
        "b64dec" => Value::Str(match fmt::b64_decode(string_arg(name, v)?) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => "illegal base64 data at input byte 0".to_string(),
        }),
        "toYaml" => Value::Str(yaml_out::to_yaml(v).trim_end_matches('\n').to_string()),
        "toJson" => Value::Str(fmt::to_json(v)),
        "fromYaml" => yaml_out::from_yaml(string_arg(name, v)?),
        "toString" => Value::Str(strval(v)),
        "int" | "int64" => Value::Int(to_int(v)),
        "add1" => Value::Int(to_int(v) + 1),
        "first" | "last" => match v {
            Value::List(l) => (if name == "first" { l.first() } else { l.last() })
                .cloned()
                .unwrap_or(Value::Nil),
            Value::Nil => Value::Nil,
            other => {
                return Err(err(format!(
                    "error calling {name}: cannot find {name} on type {}",
                    other.type_name()
                )));
            }
        },
        _ => return Err(ErrorKind::UnsupportedFunction(name.to_string())),
    })
}

fn two_strings(name: &str, a: &str, b: &str) -> Value {
    match name {
        "trimPrefix" => Value::Str(b.strip_prefix(a).unwrap_or(b).to_string()),
        "trimSuffix" => Value::Str(b.strip_suffix(a).unwrap_or(b).to_string()),
        "trimAll" => Value::Str(b.trim_matches(|c| a.contains(c)).to_string()),
        "contains" => Value::Bool(b.contains(a)),
        "hasPrefix" => Value::Bool(b.starts_with(a)),
        "hasSuffix" => Value::Bool(b.ends_with(a)),
        "split" => Value::Map(
            go_split(b, a)
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::Str(p)))
                .collect(),
        ),
        _ => Value::List(go_split(b, a).into_iter().map(Value::Str).collect()),
    }
}

/// Go's `strings.Split`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_string).collect()
}

/// Go's `strings.Title`: upper-cases every letter that starts a word.
fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let sep = !(prev.is_alphanumeric() || prev == '_');
            prev = c;
            if sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// `cast.ToInt`: numbers truncate, strings parse (0 when they do not), booleans are 0/1.
fn to_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let s = s.trim();
            let s = s.strip_suffix(".0").unwrap_or(s);
            s.parse().unwrap_or(0)
        }
        _ => 0,
    }
}

fn arithmetic(name: &str, a: &[Value]) -> Result<Value, ErrorKind> {
    let (x, y) = match a {
        [x, y] => (to_int(x), to_int(y)),
        _ if name == "add" || name == "mul" => {
            let it = a.iter().map(to_int);
            return Ok(Value::Int(if name == "add" {
                it.sum()
            } else {
                it.product()
            }));
        }
        _ => {
            return Err(err(format!(
                "wrong number of args for {name}: want 2 got {}",
                a.len()
            )));
        }
    };
    Ok(Value::Int(match name {
        "add" => x.wrapping_add(y),
        "sub" => x.wrapping_sub(y),
        "mul" => x.wrapping_mul(y),
        _ if y == 0 => {
            return Err(err(format!(
                "error calling {name}: runtime error: integer divide by zero"
            )));
        }
        "div" => x / y,
        _ => x % y,
    }))
}

fn index(a: &[Value]) -> Result<Value, ErrorKind> {
    let Some(mut item) = a.first().cloned() else {
        return Err(err("wrong number of args for index: want at least 1 got 0"));
    };
    for key in &a[1..] {
        item = match (item, key) {
            (Value::Map(mut m), Value::Str(k)) => m.remove(k).unwrap_or(Value::Nil),
            (Value::List(l), Value::Int(i)) => {
                match usize::try_from(*i).ok().and_then(|i| l.get(i)) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(err(format!("error calling index: index out of range: {i}")));
                    }
                }
            }
            (Value::Nil, _) => return Err(err("error calling index: index of untyped nil")),
            (item, key) => {
                return Err(err(format!(
                    "error calling index: cannot index {} with {}",
                    item.type_name(),
                    key.type_name()
                )));
            }
        };
    }
    Ok(item)
}

/// Go's comparison functions: basic kinds only; an int and a float do not compare.
fn compare(name: &str, a: &[Value]) -> Result<Value, ErrorKind> {
    let Some((first, rest)) = a.split_first() else {
        return Err(err(format!(
            "wrong number of args for {name}: want at least 1 got 0"
        )));
    };
    if rest.is_empty() || (name != "eq" && rest.len() != 1) {
        return Err(err(format!(
            "error calling {name}: missing argument for comparison"
        )));
    }
    let fail = |m: &str| err(format!("error calling {name}: {m}"));
    if name == "eq" || name == "ne" {
        let mut any = false;
        for other in rest {
            let equal = match (first, other) {
                (Value::Nil, _) | (_, Value::Nil) => first == other,
                (Value::Int(_), Value::Int(_))
                | (Value::Float(_), Value::Float(_))
                | (Value::Str(_), Value::Str(_))
                | (Value::Bool(_), Value::Bool(_)) => first == other,
                (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
                    return Err(fail(&format!(
                        "non-comparable type {}: {}",
                        other.sprint(),
                        other.type_name()
                    )));
                }
                _ => return Err(fail(&incompatible(first, other))),
            };
            any |= equal;
        }
        return Ok(Value::Bool(if name == "eq" { any } else { !any }));
    }
    let ord = match (first, &rest[0]) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x
            .partial_cmp(y)
            .ok_or_else(|| fail("invalid type for comparison"))?,
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => {
            return Err(fail(&incompatible(first, &rest[0])));
        }
        _ => return Err(fail("invalid type for comparison")),
    };
    use std::cmp::Ordering::*;
    Ok(Value::Bool(match name {
        "lt" => ord == Less,
        "le" => ord != Greater,
        "gt" => ord == Greater,
        _ => ord != Less,
    }))
}

fn incompatible(a: &Value, b: &Value) -> String {
    format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    )
}
