//! Go `text/template` with the sprig and Helm functions troubleshoot's v1beta3 specs use,
//! rendered the way troubleshoot renders them (Helm's engine: a missing map key prints nothing).
//!
//! No maintained Rust crate renders Go templates faithfully, so this is a small interpreter:
//! [`lex`] splits the text, [`parse`] builds the tree, [`exec`] walks it over [`Value`] data and
//! [`funcs`] holds the functions. Every error carries the line and column in the template; a
//! function Go or sprig has but this engine does not is an error that names it, never a silently
//! different output.

mod exec;
mod fmt;
mod funcs;
mod lex;
mod parse;
#[cfg(test)]
mod tests;
mod value;
mod yaml_out;

pub use value::{Value, format_float_v};

/// A 1-based line and column (characters) in the template text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// A template that cannot be parsed or executed, and where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}:{}: {kind}", pos.line, pos.column)]
pub struct Error {
    /// Where in the template.
    pub pos: Pos,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// What is wrong with a template.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The text is not a template Go would parse.
    #[error("{0}")]
    Parse(String),
    /// A function neither Go, sprig nor Helm defines.
    #[error("function {0:?} not defined")]
    UndefinedFunction(String),
    /// A Go, sprig or Helm function this engine does not have.
    #[error("function {0:?} is not supported by the agent's template engine")]
    UnsupportedFunction(String),
    /// Executing failed (wrong argument types, a field of nil, a missing template...).
    #[error("{0}")]
    Exec(String),
    /// `required` got nothing, or `fail` was called: the spec's own message.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self.kind {
            ErrorKind::Parse(_) => "fix the template syntax at this position (Go text/template)",
            ErrorKind::UndefinedFunction(_) => {
                "check the function's name (Go text/template, sprig and Helm functions)"
            }
            ErrorKind::UnsupportedFunction(_) => {
                "rewrite the template without this function (README: templated specs lists the functions supported)"
            }
            ErrorKind::Exec(_) => {
                "check the values this expression reads (collect.values / collect.set)"
            }
            ErrorKind::Failed(_) => {
                "give the value the spec asks for in collect.values or collect.set"
            }
        }
    }
}

/// A parsed template, ready to render over any data.
#[derive(Debug, Clone)]
pub struct Template {
    tree: parse::Tree,
}

impl Template {
    /// Parses `text`; unknown functions are errors here, as in Go.
    pub fn parse(text: &str) -> Result<Template, Error> {
        let items = lex::items(text)?;
        Ok(Template {
            tree: parse::parse(items)?,
        })
    }

    /// Renders over `data` as Helm does: a missing map key (`<no value>`) prints nothing.
    pub fn render(&self, data: &Value) -> Result<String, Error> {
        let out = exec::run(&self.tree, data)?;
        Ok(out.replace("<no value>", ""))
    }
}

/// Parses and renders `text` over `data` as Helm does.
pub fn render(text: &str, data: &Value) -> Result<String, Error> {
    Template::parse(text)?.render(data)
}
