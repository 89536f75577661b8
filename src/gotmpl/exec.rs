//! Executing a template tree over data, with Go's scoping of variables and dot, its
//! short-circuit `and`/`or`, and Helm's `include` and `tpl`.

use super::parse::{Cmd, Control, Node, Operand, Pipe, Term, Tree};
use super::{Error, ErrorKind, Pos, Template, Value, funcs};

/// How deep `template`/`include`/`tpl` may nest (Helm stops recursion at 1000).
const MAX_DEPTH: usize = 1000;

/// The most a template may print: a spec is at most 16 MiB, and a runaway loop must end in an
/// error, not in the agent running out of memory.
pub(super) const MAX_OUTPUT: usize = 16 * 1024 * 1024;

pub(super) fn run(tree: &Tree, data: &Value) -> Result<String, Error> {
    let mut state = State {
        tree,
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        depth: 0,
    };
    state.walk(data, &tree.body)?;
    Ok(state.out)
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    tree: &'a Tree,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
}

fn exec_err(pos: Pos, message: impl Into<String>) -> Error {
    Error {
        pos,
        kind: ErrorKind::Exec(message.into()),
    }
}

impl State<'_> {
    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, Error> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.eval_pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&v.print());
                        if self.out.len() > MAX_OUTPUT {
                            return Err(exec_err(
                                pipe.pos,
                                format!("the template prints more than {MAX_OUTPUT} bytes"),
                            ));
                        }
                    }
                    Flow::Normal
                }
                Node::Control(kind, pipe, body, else_body) => {
                    let scope = self.vars.len();
                    let flow = match kind {
                        Control::If => {
                            let v = self.eval_pipe(dot, pipe)?;
                            let branch = if v.truthy() { body } else { else_body };
                            self.walk(dot, branch)
                        }
                        Control::With => {
                            let v = self.eval_pipe(dot, pipe)?;
                            if v.truthy() {
                                self.walk(&v, body)
                            } else {
                                self.walk(dot, else_body)
                            }
                        }
                        Control::Range => self.range(dot, pipe, body, else_body),
                    };
                    self.vars.truncate(scope);
                    flow?
                }
                Node::Template(pos, name, pipe) => {
                    let data = match pipe {
                        Some(p) => self.eval_pipe(dot, p)?,
                        None => Value::Nil,
                    };
                    let text = self.include(*pos, name, data)?;
                    self.out.push_str(&text);
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        dot: &Value,
        pipe: &Pipe,
        body: &[Node],
        else_body: &[Node],
    ) -> Result<Flow, Error> {
        let v = self.eval_cmds(dot, pipe)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::Str(k), v)).collect(),
            Value::Int(n) => return self.range_int(dot, pipe, n, body, else_body),
            Value::Nil => Vec::new(),
            other => {
                return Err(exec_err(
                    pipe.pos,
                    format!("range can't iterate over {}", other.sprint()),
                ));
            }
        };
        if items.is_empty() {
            return self.walk(dot, else_body);
        }
        let scope = self.vars.len();
        for (key, elem) in items {
            match pipe.decl.as_slice() {
                [v] => self.vars.push((v.clone(), elem.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), elem.clone()));
                }
                _ => {}
            }
            let flow = self.walk(&elem, body)?;
            self.vars.truncate(scope);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    /// `range` over an integer (Go 1.22): 0, 1, ... n-1, one at a time.
    fn range_int(
        &mut self,
        dot: &Value,
        pipe: &Pipe,
        n: i64,
        body: &[Node],
        else_body: &[Node],
    ) -> Result<Flow, Error> {
        if n <= 0 {
            return self.walk(dot, else_body);
        }
        let scope = self.vars.len();
        for i in 0..n {
            for name in &pipe.decl {
                self.vars.push((name.clone(), Value::Int(i)));
            }
            let flow = self.walk(&Value::Int(i), body)?;
            self.vars.truncate(scope);
            if self.out.len() > MAX_OUTPUT {
                return Err(exec_err(
                    pipe.pos,
                    format!("the template prints more than {MAX_OUTPUT} bytes"),
                ));
            }
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    /// Runs template `name` with `data` as dot and `$` (`{{template}}`, `include`).
    fn include(&mut self, pos: Pos, name: &str, data: Value) -> Result<String, Error> {
        let Some(body) = self.tree.defines.get(name) else {
            return Err(exec_err(
                pos,
                format!("no template {name:?} associated with template"),
            ));
        };
        self.nested(pos, |s| s.walk(&data, body).map(|_| ()), data.clone())
    }

    /// Runs `f` with fresh output and variables (`$` = `root`), one level deeper.
    fn nested(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut Self) -> Result<(), Error>,
        root: Value,
    ) -> Result<String, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(exec_err(
                pos,
                "rendering template has a nested reference name exceeding the limit (1000)",
            ));
        }
        let saved_out = std::mem::take(&mut self.out);
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), root)]);
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        self.vars = saved_vars;
        let out = std::mem::replace(&mut self.out, saved_out);
        result.map(|()| out)
    }

    /// A pipeline with its declarations applied.
    fn eval_pipe(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, Error> {
        let v = self.eval_cmds(dot, pipe)?;
        for name in &pipe.decl {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn eval_cmds(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, Error> {
        let mut last: Option<Value> = None;
        for cmd in &pipe.cmds {
            last = Some(self.eval_cmd(dot, cmd, last)?);
        }
        Ok(last.unwrap_or(Value::Nil))
    }

    fn eval_cmd(&mut self, dot: &Value, cmd: &Cmd, piped: Option<Value>) -> Result<Value, Error> {
        let Some(first) = cmd.args.first() else {
            return Err(exec_err(cmd.pos, "empty command"));
        };
        if let (Term::Func(name), true) = (&first.term, first.fields.is_empty()) {
            return self.call(dot, first.pos, name, &cmd.args[1..], piped);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            let what = match &first.term {
                Term::Dot if !first.fields.is_empty() => format!(".{}", first.fields.join(".")),
                _ => "a non-function".to_string(),
            };
            return Err(exec_err(
                first.pos,
                format!("can't give argument to non-function {what}"),
            ));
        }
        self.operand(dot, first)
    }

    fn operand(&mut self, dot: &Value, op: &Operand) -> Result<Value, Error> {
        let mut v = match &op.term {
            Term::Dot => dot.clone(),
            Term::Nil => {
                return Err(exec_err(op.pos, "nil is not a command"));
            }
            Term::Bool(b) => Value::Bool(*b),
            Term::Int(i) => Value::Int(*i),
            Term::Float(f) => Value::Float(*f),
            Term::Str(s) => Value::Str(s.clone()),
            Term::Var(name) => self
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| exec_err(op.pos, format!("undefined variable: {name}")))?,
            Term::Func(name) => self.call(dot, op.pos, name, &[], None)?,
            Term::Paren(pipe) => self.eval_cmds(dot, pipe)?,
        };
        for field in &op.fields {
            v = match v {
                Value::Map(mut m) => m.remove(field).unwrap_or(Value::Nil),
                Value::Nil => {
                    return Err(exec_err(
                        op.pos,
                        format!("nil pointer evaluating interface {{}}.{field}"),
                    ));
                }
                other => {
                    return Err(exec_err(
                        op.pos,
                        format!("can't evaluate field {field} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(v)
    }

    /// An argument: `nil` is a value here (not a command).
    fn arg(&mut self, dot: &Value, op: &Operand) -> Result<Value, Error> {
        match op.term {
            Term::Nil => Ok(Value::Nil),
            _ => self.operand(dot, op),
        }
    }

    fn call(
        &mut self,
        dot: &Value,
        pos: Pos,
        name: &str,
        args: &[Operand],
        piped: Option<Value>,
    ) -> Result<Value, Error> {
        // `and`/`or` stop at the first argument that decides (Go 1.18+).
        if name == "and" || name == "or" {
            let n = args.len() + usize::from(piped.is_some());
            if n == 0 {
                return Err(exec_err(
                    pos,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for op in args {
                last = self.arg(dot, op)?;
                if last.truthy() != (name == "and") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for op in args {
            values.push(self.arg(dot, op)?);
        }
        values.extend(piped);
        match name {
            "include" => {
                let (tname, data) = two(pos, name, values)?;
                let Value::Str(tname) = tname else {
                    return Err(exec_err(
                        pos,
                        "error calling include: template name must be a string",
                    ));
                };
                self.include(pos, &tname, data).map(Value::Str)
            }
            "tpl" => {
                let (text, data) = two(pos, name, values)?;
                let Value::Str(text) = text else {
                    return Err(exec_err(
                        pos,
                        "error calling tpl: template must be a string",
                    ));
                };
                let inner = Template::parse(&text)
                    .map_err(|e| exec_err(pos, format!("error calling tpl: {e}")))?;
                let tree = inner.tree;
                let defines = self.tree.defines.clone();
                let mut all = tree.defines.clone();
                for (k, v) in defines {
                    all.entry(k).or_insert(v);
                }
                let merged = Tree {
                    body: tree.body,
                    defines: all,
                };
                let out = super::exec::run(&merged, &data)
                    .map_err(|e| exec_err(pos, format!("error calling tpl: {e}")))?;
                Ok(Value::Str(out))
            }
            _ => funcs::call(name, values).map_err(|kind| Error { pos, kind }),
        }
    }
}

fn two(pos: Pos, name: &str, values: Vec<Value>) -> Result<(Value, Value), Error> {
    let got = values.len();
    let mut it = values.into_iter();
    match (it.next(), it.next(), it.next()) {
        (Some(a), Some(b), None) => Ok((a, b)),
        _ => Err(exec_err(
            pos,
            format!("wrong number of args for {name}: want 2 got {got}"),
        )),
    }
}
