//! Problems found while loading a model, each located at `file:line:column` with its field path.

use std::fmt;
use std::sync::Arc;

use crate::source::{Node, Path, Pos};

/// One problem in a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path, e.g. `projects[3].disk`.
    pub path: Path,
    /// Where it is in the file (none only when the file is empty).
    pub pos: Option<Pos>,
    /// Length in bytes of the offending text (for highlighting).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// What is allowed / how to fix it.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `path`, located later with [`Problem::locate`].
    #[must_use]
    pub fn new(path: Path, message: impl Into<String>) -> Self {
        Self {
            path,
            pos: None,
            len: 0,
            message: message.into(),
            help: None,
        }
    }

    /// Adds a help text.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the position from a node.
    #[must_use]
    pub fn at(mut self, node: &Node) -> Self {
        self.pos = Some(node.pos);
        self.len = node.len;
        self
    }

    /// Fills in the position from the tree if not yet set: the value at the path, else the key,
    /// else the closest existing ancestor.
    pub fn locate(&mut self, root: Option<&Node>) {
        if self.pos.is_some() {
            return;
        }
        if let Some(root) = root {
            let (node, exact) = root.lookup(&self.path);
            if exact {
                self.pos = Some(node.pos);
                self.len = node.len;
            } else if let Some(key) = root.lookup_key(&self.path) {
                self.pos = Some(key.pos);
                self.len = key.len;
            } else {
                self.pos = Some(node.pos);
                self.len = 0;
            }
        }
    }
}

/// Why a model could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        message: String,
    },
    /// The file has problems (syntax, structure or rules); all of them are listed.
    #[error("{}", Report(.0))]
    Invalid(Box<Invalid>),
}

/// All problems of one file, with its text for snippets.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// The file name as given.
    pub file: String,
    /// The file contents.
    pub source: Arc<str>,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

struct Report<'a>(&'a Invalid);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inv = self.0;
        let n = inv.problems.len();
        writeln!(f, "{}: {n} problem{}", inv.file, if n == 1 { "" } else { "s" })?;
        for p in &inv.problems {
            writeln!(
                f,
                "{}",
                Located {
                    file: &inv.file,
                    problem: p
                }
            )?;
        }
        Ok(())
    }
}

/// A problem printed as `file:line:col: field: message (help)`.
pub struct Located<'a> {
    /// The file name.
    pub file: &'a str,
    /// The problem.
    pub problem: &'a Problem,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.problem;
        match p.pos {
            Some(pos) => write!(f, "{}:{}:{}: ", self.file, pos.line, pos.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "`{}`: {}", p.path, p.message)?;
        if let Some(h) = &p.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl Invalid {
    /// Sorts problems by position, then path, and removes exact duplicates.
    pub fn normalize(&mut self) {
        self.problems
            .sort_by(|a, b| (a.pos, &a.path, &a.message).cmp(&(b.pos, &b.path, &b.message)));
        self.problems.dedup();
    }
}
