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
        write!(f, "`{}`: {}", p.path_text(), clip(&p.message, MAX_MESSAGE_TEXT))?;
        if let Some(h) = &p.help {
            write!(f, " ({})", clip(h, MAX_MESSAGE_TEXT))?;
        }
        Ok(())
    }
}

/// Longest field path printed, in bytes; a longer one (a huge key) ends with `…`.
pub const MAX_PATH_TEXT: usize = 200;
/// Longest message or help printed, in bytes; a longer one (quoting a huge key or value) ends
/// with `…`.
pub const MAX_MESSAGE_TEXT: usize = 1000;

impl Problem {
    /// The field path as printed: at most [`MAX_PATH_TEXT`] bytes, however long its keys are
    /// (costs at most that much, not the length of the keys).
    #[must_use]
    pub fn path_text(&self) -> String {
        clipped(&self.path, MAX_PATH_TEXT)
    }
}

/// `s` cut to at most `max` bytes (at a character boundary) followed by `…` when longer, with
/// control characters (but newlines and tabs) replaced by `�`: messages quote the file, and no
/// byte of a hostile file may reach the terminal raw (escape sequences, carriage returns).
#[must_use]
pub fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let cut = &s[..floor_boundary(s, max)];
    if cut.len() == s.len() && !cut.chars().any(unprintable) {
        return s.into();
    }
    let mut out = printable(cut);
    if cut.len() < s.len() {
        out.push('…');
    }
    out.into()
}

fn unprintable(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// `s` with control characters (but newlines and tabs) replaced by `�`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if unprintable(c) { '\u{fffd}' } else { c })
        .collect()
}

/// `d` displayed and cut like [`clip`]; the formatting stops copying at `max` bytes.
#[must_use]
pub fn clipped(d: &impl fmt::Display, max: usize) -> String {
    struct Clip {
        out: String,
        max: usize,
        cut: bool,
    }
    impl fmt::Write for Clip {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            if self.cut {
                return Ok(());
            }
            let room = self.max.saturating_sub(self.out.len());
            if s.len() <= room {
                self.out.push_str(&printable(s));
            } else {
                self.out.push_str(&printable(&s[..floor_boundary(s, room)]));
                self.out.push('…');
                self.cut = true;
            }
            Ok(())
        }
    }
    let mut w = Clip {
        out: String::new(),
        max,
        cut: false,
    };
    let _ = fmt::write(&mut w, format_args!("{d}"));
    w.out
}

/// The largest character boundary of `s` at or before `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest character boundary of `s` at or after `i`.
fn ceil_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Widest excerpt of a source line shown under a problem, in bytes; a longer line is cut to a
/// window around the problem, with `…` where it was cut.
pub const EXCERPT_WIDTH: usize = 120;
/// Bytes of a cut line shown before the problem's column.
pub const EXCERPT_LEAD: usize = 40;

/// Cuts excerpts of a text without indexing it: every excerpt looks at most a few times
/// [`EXCERPT_WIDTH`] bytes around its problem, so it costs the same in a 64 MiB file of one line
/// as in a short one, and needs no memory beyond the excerpt.
#[derive(Debug, Clone, Copy)]
pub struct Lines<'a> {
    src: &'a str,
}

/// A few source lines around a problem, each cut to at most [`EXCERPT_WIDTH`] bytes, control
/// characters replaced by `�` (so hostile bytes never reach the terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The lines, joined with `\n`.
    pub text: String,
    /// The 0-based number, in the file, of the excerpt's first line.
    pub first_line: usize,
    /// Byte offset of the problem in `text`.
    pub offset: usize,
    /// Length in bytes of the problem's highlight in `text` (at least 1 unless at the end; never
    /// past its line).
    pub len: usize,
}

impl<'a> Lines<'a> {
    /// Excerpts of `src`.
    #[must_use]
    pub fn new(src: &'a str) -> Self {
        Self { src }
    }

    /// The start of the line holding byte `at`, if within `limit` bytes before it.
    fn start_within(&self, at: usize, limit: usize) -> Option<usize> {
        let from = at.saturating_sub(limit);
        match self.src.as_bytes()[from..at].iter().rposition(|&b| b == b'\n') {
            Some(i) => Some(from + i + 1),
            None if from == 0 => Some(0),
            None => None,
        }
    }

    /// The end (before `\n`) of the line holding byte `at`, if within `limit` bytes after it.
    fn end_within(&self, at: usize, limit: usize) -> Option<usize> {
        let to = (at + limit).min(self.src.len());
        match self.src.as_bytes()[at..to].iter().position(|&b| b == b'\n') {
            Some(i) => Some(at + i),
            None if to == self.src.len() => Some(to),
            None => None,
        }
    }

    /// Appends the bytes `s..e` of the text, control characters replaced, and returns where
    /// `mark` landed in `out` (if it is in `s..=e`).
    fn push(&self, out: &mut String, s: usize, e: usize, marks: [usize; 2]) -> [Option<usize>; 2] {
        let mut at = [None, None];
        for (b, ch) in self.src[s..e].char_indices() {
            for (m, slot) in marks.iter().zip(at.iter_mut()) {
                if s + b == *m {
                    *slot = Some(out.len());
                }
            }
            if ch == '\r' && s + b + 1 == e {
                continue;
            }
            out.push(if ch.is_control() && ch != '\t' {
                '\u{fffd}'
            } else {
                ch
            });
        }
        for (m, slot) in marks.iter().zip(at.iter_mut()) {
            if *m >= e && slot.is_none() {
                *slot = Some(out.len());
            }
        }
        at
    }

    /// The excerpt for a problem at byte `offset` (on 1-based `line`) spanning `len` bytes: its
    /// line, cut to a window around `offset` when longer than [`EXCERPT_WIDTH`], and, when it is
    /// not cut, up to `context` short lines before and after (a long context line is shown up
    /// to the width after its start, or left out when its start is too far).
    #[must_use]
    pub fn excerpt(&self, offset: usize, line: usize, len: usize, context: usize) -> Excerpt {
        let offset = floor_boundary(self.src, offset);
        let ls = self.start_within(offset, EXCERPT_WIDTH);
        let le = self.end_within(offset, EXCERPT_WIDTH);
        let mut text = String::new();
        let mut first_line = line.saturating_sub(1);
        let hl = |e: usize| ceil_boundary(self.src, offset.saturating_add(len.max(1)).min(e));
        let (at, end);
        match (ls, le) {
            (Some(ls), Some(le)) if le - ls <= EXCERPT_WIDTH => {
                // A short line: whole, with its neighbours.
                let mut before = Vec::new();
                let mut start = ls;
                while before.len() < context && start > 0 {
                    let Some(ps) = self.start_within(start - 1, EXCERPT_WIDTH + 1) else {
                        break;
                    };
                    before.push((ps, start - 1));
                    start = ps;
                }
                first_line = first_line.saturating_sub(before.len());
                for &(s, e) in before.iter().rev() {
                    self.push(&mut text, s, e, [usize::MAX; 2]);
                    text.push('\n');
                }
                let [a, b] = self.push(&mut text, ls, le, [offset, hl(le)]);
                (at, end) = (a.unwrap_or(text.len()), b.unwrap_or(text.len()));
                let mut next = le;
                for _ in 0..context {
                    if next >= self.src.len() {
                        break;
                    }
                    let s = next + 1;
                    let (e, cut) = match self.end_within(s, EXCERPT_WIDTH) {
                        Some(e) => (e, false),
                        None => (ceil_boundary(self.src, s + EXCERPT_WIDTH), true),
                    };
                    text.push('\n');
                    self.push(&mut text, s, e, [usize::MAX; 2]);
                    if cut {
                        text.push('…');
                        break;
                    }
                    next = e;
                }
            }
            _ => {
                // A long line: a window around the problem.
                let ws = match ls {
                    Some(ls) if offset - ls <= EXCERPT_LEAD => ls,
                    _ => floor_boundary(self.src, offset - EXCERPT_LEAD),
                };
                let we = ceil_boundary(self.src, (ws + EXCERPT_WIDTH).min(self.src.len()));
                let we = le.map_or(we, |le| we.min(le));
                if ls != Some(ws) {
                    text.push('…');
                }
                let [a, b] = self.push(&mut text, ws, we, [offset, hl(we)]);
                (at, end) = (a.unwrap_or(text.len()), b.unwrap_or(text.len()));
                if le != Some(we) {
                    text.push('…');
                }
            }
        }
        Excerpt {
            text,
            first_line,
            offset: at,
            len: end.saturating_sub(at),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_shown_whole_with_context() {
        let src = "a: 1\nb: x\nc: 3\n";
        let e = Lines::new(src).excerpt(8, 2, 1, 1);
        assert_eq!(e.text, "a: 1\nb: x\nc: 3");
        assert_eq!(e.first_line, 0);
        assert_eq!(&e.text[e.offset..e.offset + e.len], "x");
        // The first line and the end of the file have less context.
        let e = Lines::new(src).excerpt(0, 1, 0, 1);
        assert_eq!((e.text.as_str(), e.offset, e.len), ("a: 1\nb: x", 0, 1));
        let e = Lines::new(src).excerpt(src.len(), 4, 0, 1);
        assert_eq!((e.text.as_str(), e.first_line, e.len), ("c: 3\n", 2, 0));
        // Windows line ends are not shown.
        let e = Lines::new("a: 1\r\nb: 2\r\n").excerpt(3, 1, 1, 1);
        assert_eq!(e.text, "a: 1\nb: 2");
    }

    #[test]
    fn long_lines_are_cut_around_the_problem() {
        let line = format!("name: {}é{}", "a".repeat(5_000_000), "b".repeat(1000));
        let src = format!("x: 1\n{line}\ny: {}\n", "c".repeat(6_000_000));
        let off = 5 + 6 + 5_000_000;
        let e = Lines::new(&src).excerpt(off, 2, 2, 1);
        assert_eq!(e.first_line, 1, "a cut line is shown alone");
        assert_eq!(&e.text[e.offset..e.offset + e.len], "é");
        assert!(e.text.starts_with('…') && e.text.ends_with('…'), "{}", e.text);
        assert!(!e.text.contains('\n'));
        assert!(e.text.len() <= EXCERPT_WIDTH + 8, "{}", e.text.len());
        // A span longer than the window stops at the cut; a line start within the lead is kept.
        let e = Lines::new(&src).excerpt(5, 2, line.len(), 0);
        assert_eq!(e.offset, 0);
        assert!(e.text.starts_with("name: aaa"));
        assert_eq!(&e.text[e.len..], "…");
        // A short line next to a long one: the long one is cut after the width.
        let e = Lines::new(&src).excerpt(0, 1, 1, 1);
        assert!(
            e.text.starts_with("x: 1\nname: aaa") && e.text.ends_with('…'),
            "{}",
            e.text
        );
        // The end of a long last line.
        let e = Lines::new(&src).excerpt(src.len() - 1, 3, 1, 1);
        assert!(e.text.starts_with("…ccc") && !e.text.ends_with('…'), "{}", e.text);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let src = "a: \u{1b}[31mred\rx\n";
        let e = Lines::new(src).excerpt(3, 1, 1, 0);
        assert!(!e.text.contains('\u{1b}'), "{:?}", e.text);
        assert!(
            !e.text.contains('\r') && e.text.starts_with("a: \u{fffd}[31m"),
            "{:?}",
            e.text
        );
        assert_eq!(&e.text[e.offset..e.offset + e.len], "\u{fffd}");
    }

    #[test]
    fn paths_and_messages_are_clipped() {
        let p = Problem::new(Path::root().key(&"k".repeat(10_000)).index(3), "m".repeat(5000));
        let path = p.path_text();
        assert_eq!(path.len(), MAX_PATH_TEXT + '…'.len_utf8());
        let shown = Located {
            file: "f",
            problem: &p,
        }
        .to_string();
        assert!(
            shown.len() < MAX_PATH_TEXT + MAX_MESSAGE_TEXT + 20,
            "{}",
            shown.len()
        );
        assert_eq!(clip("é", 1), "…");
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a\u{1b}[2J\rb\nc", 100), "a\u{fffd}[2J\u{fffd}b\nc");
        let p = Problem::new(Path::root().key("x\u{7}"), "m");
        assert_eq!(p.path_text(), "x\u{fffd}");
    }
}
