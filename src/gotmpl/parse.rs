//! The template tree: Go's `text/template/parse` grammar (actions, pipelines, control
//! structures, `define`/`template`/`block`), built from the lexer's items.

use super::lex::{Item, Tok};
use super::{Error, ErrorKind, Pos, funcs};
use std::collections::HashMap;

/// A node of a template body.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    /// `if`/`with`/`range`: the pipeline, the body, the `else` body (an `else if` is a nested
    /// `If` there).
    Control(Control, Pipe, Vec<Node>, Vec<Node>),
    Template(Pos, String, Option<Pipe>),
    Break,
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    If,
    With,
    Range,
}

/// `$x := cmd | cmd`.
#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub pos: Pos,
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

/// One command of a pipeline: a function and its arguments, or one operand.
#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub pos: Pos,
    pub args: Vec<Operand>,
}

/// A term with the fields chained after it (`$x.a.b`, `(f).a`).
#[derive(Debug, Clone)]
pub(super) struct Operand {
    pub pos: Pos,
    pub term: Term,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Term {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Var(String),
    Func(String),
    Paren(Box<Pipe>),
}

/// A parsed template: its body and the templates it defines.
#[derive(Debug, Clone, Default)]
pub(super) struct Tree {
    pub body: Vec<Node>,
    pub defines: HashMap<String, Vec<Node>>,
}

struct Parser {
    items: std::vec::IntoIter<Item>,
    defines: HashMap<String, Vec<Node>>,
    /// Variables in scope, innermost last (declaring an unknown one is checked as Go does).
    vars: Vec<String>,
    /// How many `range` bodies enclose the current list (`break`/`continue` need one).
    ranges: usize,
}

/// What ended a list.
enum End {
    Eof,
    Close(Pos),
    /// `else`, with the tokens after it (`if ...` for `else if`).
    Else(Pos, Vec<(Pos, Tok)>),
}

pub(super) fn parse(items: Vec<Item>) -> Result<Tree, Error> {
    let mut p = Parser {
        items: items.into_iter(),
        defines: HashMap::new(),
        vars: vec!["$".into()],
        ranges: 0,
    };
    let (body, end) = p.list(true)?;
    match end {
        End::Eof => Ok(Tree {
            body,
            defines: p.defines,
        }),
        End::Close(pos) => Err(perr(pos, "unexpected {{end}}")),
        End::Else(pos, _) => Err(perr(pos, "unexpected {{else}}")),
    }
}

fn perr(pos: Pos, message: impl Into<String>) -> Error {
    Error {
        pos,
        kind: ErrorKind::Parse(message.into()),
    }
}

impl Parser {
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, End), Error> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            let (pos, toks) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Item::Action(pos, toks) => (pos, skip_space(toks)),
            };
            let keyword = match toks.first() {
                Some((_, Tok::Ident(w))) => w.as_str(),
                _ => "",
            };
            let rest = toks.get(1..).unwrap_or_default().to_vec();
            match keyword {
                "end" => return Ok((nodes, End::Close(pos))),
                "else" => return Ok((nodes, End::Else(pos, skip_space(rest)))),
                "if" => nodes.push(self.control(Control::If, pos, rest)?),
                "with" => nodes.push(self.control(Control::With, pos, rest)?),
                "range" => nodes.push(self.control(Control::Range, pos, rest)?),
                "define" if top => self.define(pos, rest)?,
                "define" => return Err(perr(pos, "{{define}} is only allowed at the top level")),
                "block" => nodes.push(self.block(pos, rest)?),
                "template" => {
                    let (name, pipe) = self.template_args(pos, rest, "template")?;
                    nodes.push(Node::Template(pos, name, pipe));
                }
                "break" | "continue" if self.ranges == 0 => {
                    return Err(perr(
                        pos,
                        format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                    ));
                }
                "break" => nodes.push(Node::Break),
                "continue" => nodes.push(Node::Continue),
                _ => {
                    let pipe = self.pipeline(pos, toks, true)?;
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, End::Eof))
    }

    fn control(&mut self, kind: Control, pos: Pos, toks: Vec<(Pos, Tok)>) -> Result<Node, Error> {
        let scope = self.vars.len();
        let pipe = self.pipeline(pos, skip_space(toks), true)?;
        if pipe.cmds.is_empty() {
            return Err(perr(pos, format!("missing value for {}", name_of(kind))));
        }
        let in_range = usize::from(kind == Control::Range);
        self.ranges += in_range;
        let body = self.list(false);
        self.ranges -= in_range;
        let (body, end) = body?;
        let else_body = match end {
            End::Eof => {
                return Err(perr(
                    pos,
                    format!(
                        "unexpected EOF: {{{{{}}}}} has no {{{{end}}}}",
                        name_of(kind)
                    ),
                ));
            }
            End::Close(_) => Vec::new(),
            End::Else(epos, rest) if rest.is_empty() => {
                self.vars.truncate(scope);
                let (else_body, end) = self.list(false)?;
                match end {
                    End::Close(_) => else_body,
                    End::Else(p, _) => return Err(perr(p, "expected end; found {{else}}")),
                    End::Eof => return Err(perr(epos, "unexpected EOF: {{else}} has no {{end}}")),
                }
            }
            End::Else(epos, rest) => {
                // `else if` in an if, `else with` in a with: a nested control sharing the end.
                let nested = match (kind, rest.first()) {
                    (Control::If, Some((_, Tok::Ident(w)))) if w == "if" => Control::If,
                    (Control::With, Some((_, Tok::Ident(w)))) if w == "with" => Control::With,
                    _ => return Err(perr(epos, "unexpected tokens after {{else}}")),
                };
                self.vars.truncate(scope);
                vec![self.control(nested, epos, rest[1..].to_vec())?]
            }
        };
        self.vars.truncate(scope);
        Ok(Node::Control(kind, pipe, body, else_body))
    }

    fn define(&mut self, pos: Pos, toks: Vec<(Pos, Tok)>) -> Result<(), Error> {
        let name = match skip_space(toks).as_slice() {
            [(_, Tok::Str(name))] => name.clone(),
            _ => return Err(perr(pos, "{{define}} takes one quoted template name")),
        };
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let ranges = std::mem::take(&mut self.ranges);
        let (body, end) = self.list(false)?;
        self.vars = saved;
        self.ranges = ranges;
        match end {
            End::Close(_) => {
                self.defines.insert(name, body);
                Ok(())
            }
            _ => Err(perr(
                pos,
                format!("{{{{define {name:?}}}}} has no {{{{end}}}}"),
            )),
        }
    }

    fn block(&mut self, pos: Pos, toks: Vec<(Pos, Tok)>) -> Result<Node, Error> {
        let (name, pipe) = self.template_args(pos, toks, "block")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (body, end) = self.list(false)?;
        self.vars = saved;
        if !matches!(end, End::Close(_)) {
            return Err(perr(
                pos,
                format!("{{{{block {name:?}}}}} has no {{{{end}}}}"),
            ));
        }
        self.defines.insert(name.clone(), body);
        Ok(Node::Template(pos, name, pipe))
    }

    fn template_args(
        &mut self,
        pos: Pos,
        toks: Vec<(Pos, Tok)>,
        what: &str,
    ) -> Result<(String, Option<Pipe>), Error> {
        let toks = skip_space(toks);
        let Some((_, Tok::Str(name))) = toks.first() else {
            return Err(perr(
                pos,
                format!("{{{{{what}}}}} takes a quoted template name"),
            ));
        };
        let rest = skip_space(toks[1..].to_vec());
        let pipe = if rest.is_empty() {
            None
        } else {
            Some(self.pipeline(pos, rest, false)?)
        };
        Ok((name.clone(), pipe))
    }

    /// A pipeline from a whole action's tokens (`decl` allows `$x :=`).
    fn pipeline(&mut self, pos: Pos, toks: Vec<(Pos, Tok)>, decl: bool) -> Result<Pipe, Error> {
        let mut toks = Tokens {
            toks: skip_space(toks),
            at: 0,
        };
        let pipe = self.pipe_in(pos, &mut toks, decl, false)?;
        if let Some((p, t)) = toks.peek() {
            return Err(perr(*p, format!("unexpected {} in operand", show(t))));
        }
        Ok(pipe)
    }

    fn pipe_in(
        &mut self,
        pos: Pos,
        toks: &mut Tokens,
        decl: bool,
        paren: bool,
    ) -> Result<Pipe, Error> {
        let mut pipe = Pipe {
            pos,
            decl: Vec::new(),
            assign: false,
            cmds: Vec::new(),
        };
        if decl {
            self.declarations(toks, &mut pipe)?;
        }
        loop {
            toks.skip_space();
            match toks.peek() {
                None if paren => return Err(perr(pos, "unclosed left paren")),
                None => break,
                Some((_, Tok::RParen)) if paren => {
                    toks.next();
                    break;
                }
                Some((p, Tok::RParen)) => return Err(perr(*p, "unexpected right paren")),
                Some(_) => {}
            }
            let cmd = self.command(toks)?;
            pipe.cmds.push(cmd);
            toks.skip_space();
            match toks.peek() {
                Some((_, Tok::Pipe)) => {
                    let (p, _) = toks.next().cloned().unwrap_or((pos, Tok::Pipe));
                    toks.skip_space();
                    if matches!(toks.peek(), None | Some((_, Tok::RParen | Tok::Pipe))) {
                        return Err(perr(p, "missing command after `|`"));
                    }
                }
                Some((_, Tok::RParen)) | None => {}
                Some((p, t)) => return Err(perr(*p, format!("unexpected {} in command", show(t)))),
            }
        }
        if !pipe.decl.is_empty() && pipe.cmds.is_empty() {
            return Err(perr(pos, "missing value for variable declaration"));
        }
        Ok(pipe)
    }

    fn declarations(&mut self, toks: &mut Tokens, pipe: &mut Pipe) -> Result<(), Error> {
        let save = toks.at;
        let mut names = Vec::new();
        loop {
            toks.skip_space();
            let Some((_, Tok::Var(v))) = toks.peek().cloned() else {
                break;
            };
            toks.next();
            toks.skip_space();
            names.push(v);
            match toks.peek() {
                Some((_, Tok::Comma)) if names.len() == 1 => {
                    toks.next();
                }
                Some((p, op @ (Tok::Declare | Tok::Assign))) => {
                    let (p, assign) = (*p, *op == Tok::Assign);
                    toks.next();
                    if names.len() > 2 {
                        return Err(perr(p, "too many declarations"));
                    }
                    for n in &names {
                        if assign {
                            if !self.vars.contains(n) {
                                return Err(perr(p, format!("undefined variable {n:?}")));
                            }
                        } else {
                            self.vars.push(n.clone());
                        }
                    }
                    pipe.decl = names;
                    pipe.assign = assign;
                    return Ok(());
                }
                _ => break,
            }
        }
        toks.at = save;
        Ok(())
    }

    fn command(&mut self, toks: &mut Tokens) -> Result<Cmd, Error> {
        let pos = toks.peek().map(|(p, _)| *p).unwrap_or_default();
        let mut args = Vec::new();
        loop {
            match toks.peek() {
                None | Some((_, Tok::Pipe | Tok::RParen)) => break,
                Some((_, Tok::Space)) => {
                    toks.next();
                    continue;
                }
                Some(_) => args.push(self.operand(toks)?),
            }
            match toks.peek() {
                None | Some((_, Tok::Space | Tok::Pipe | Tok::RParen)) => {}
                Some((p, t)) => return Err(perr(*p, format!("unexpected {} in operand", show(t)))),
            }
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self, toks: &mut Tokens) -> Result<Operand, Error> {
        let Some((pos, tok)) = toks.next().cloned() else {
            return Err(perr(Pos::default(), "missing operand"));
        };
        let mut fields = Vec::new();
        let term = match tok {
            Tok::Dot => Term::Dot,
            Tok::Nil => Term::Nil,
            Tok::Bool(b) => Term::Bool(b),
            Tok::Str(s) => Term::Str(s),
            Tok::Char(c) => Term::Int(c as i64),
            Tok::Num(n) => number(pos, &n)?,
            Tok::Field(f) => {
                fields.push(f);
                Term::Dot
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(perr(pos, format!("undefined variable {v:?}")));
                }
                Term::Var(v)
            }
            Tok::Ident(name) => {
                funcs::check(&name).map_err(|kind| Error { pos, kind })?;
                Term::Func(name)
            }
            Tok::LParen => Term::Paren(Box::new(self.pipe_in(pos, toks, false, true)?)),
            other => return Err(perr(pos, format!("unexpected {} in operand", show(&other)))),
        };
        while let Some((_, Tok::Field(f))) = toks.peek() {
            fields.push(f.clone());
            toks.next();
        }
        if !fields.is_empty()
            && matches!(
                term,
                Term::Nil | Term::Bool(_) | Term::Str(_) | Term::Int(_) | Term::Float(_)
            )
        {
            return Err(perr(pos, "unexpected . after term"));
        }
        Ok(Operand { pos, term, fields })
    }
}

fn name_of(kind: Control) -> &'static str {
    match kind {
        Control::If => "if",
        Control::With => "with",
        Control::Range => "range",
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Num(n) => format!("<{n}>"),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        other => format!("{other:?}"),
    }
}

fn number(pos: Pos, text: &str) -> Result<Term, Error> {
    let clean = text.replace('_', "");
    let (neg, digits) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let radix = match digits.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    let int = match radix {
        Some(r) => i64::from_str_radix(&digits[2..], r).ok(),
        None if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&digits[1..], 8).ok()
        }
        None => digits.parse::<i64>().ok(),
    };
    if let Some(i) = int {
        return Ok(Term::Int(if neg { -i } else { i }));
    }
    match clean.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Term::Float(f)),
        _ => Err(perr(pos, format!("bad number syntax: {text:?}"))),
    }
}

fn skip_space(mut toks: Vec<(Pos, Tok)>) -> Vec<(Pos, Tok)> {
    let lead = toks.iter().take_while(|(_, t)| *t == Tok::Space).count();
    toks.drain(..lead);
    while matches!(toks.last(), Some((_, Tok::Space))) {
        toks.pop();
    }
    toks
}

struct Tokens {
    toks: Vec<(Pos, Tok)>,
    at: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&(Pos, Tok)> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<&(Pos, Tok)> {
        let t = self.toks.get(self.at);
        self.at += 1;
        t
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some((_, Tok::Space))) {
            self.at += 1;
        }
    }
}
