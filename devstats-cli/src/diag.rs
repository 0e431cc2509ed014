//! Turns the model's located problems into miette diagnostics with source snippets.
//!
//! Rendering is bounded: miette gets only a small excerpt of the file per problem (its line and
//! one line either side; a long line cut to a window around the problem by
//! [`devstats_model::diagnostics::Lines`]), never the whole text, so a 5 MB single-line file or
//! a thousand problems cost the same per problem as a short file.

use std::fmt::{self, Write as _};

use devstats_model::diagnostics::{self, Excerpt, Lines};
use devstats_model::{Invalid, LoadError, Problem};
use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

/// Lines of context shown before and after a problem's line.
const CONTEXT_LINES: usize = 1;
/// Problems shown as full miette diagnostics with a source snippet; the others (a file with
/// thousands of problems) get their one-line `file:line:column` message only: miette's
/// wrapping costs tens of microseconds per problem.
pub const MAX_SNIPPETS: usize = 100;

/// All problems of a model file as one miette diagnostic with one related entry per problem.
#[derive(Debug)]
pub struct ModelDiagnostic {
    summary: String,
    related: Vec<ProblemDiagnostic>,
    /// The problems after the first [`MAX_SNIPPETS`], one `file:line:column: ...` line each,
    /// printed after the report by [`ModelDiagnostic::rest`] (no wrapping or snippet: constant
    /// cost per problem).
    rest: String,
}

impl ModelDiagnostic {
    /// The one-line messages of the problems beyond the first [`MAX_SNIPPETS`] (empty when
    /// there are fewer).
    #[must_use]
    pub fn rest(&self) -> &str {
        &self.rest
    }
}

/// One located problem.
#[derive(Debug)]
pub struct ProblemDiagnostic {
    message: String,
    help: Option<String>,
    span: Option<SourceSpan>,
    source: Snippet,
}

/// The excerpt of the file around one problem, read by miette as if it were the file: line
/// numbers are the file's, and the header's `line:column` is the problem's own.
#[derive(Debug)]
struct Snippet {
    name: String,
    excerpt: Excerpt,
    /// The problem's 0-based line and column in the file.
    at: (usize, usize),
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.excerpt.text.read_span(span, before, after)?;
        let (line, column) = if span.offset() == self.excerpt.offset && before == 0 {
            self.at
        } else {
            (inner.line() + self.excerpt.first_line, inner.column())
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
}

impl fmt::Display for ModelDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}
impl std::error::Error for ModelDiagnostic {}

impl Diagnostic for ModelDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("devstats::invalid_model"))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
}

impl fmt::Display for ProblemDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for ProblemDiagnostic {}

impl Diagnostic for ProblemDiagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span.map(|_| &self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.map(|s| {
            Box::new(std::iter::once(LabeledSpan::new_with_span(
                Some("here".into()),
                s,
            ))) as _
        })
    }
}

fn problem(inv: &Invalid, lines: &Lines<'_>, p: &Problem) -> ProblemDiagnostic {
    let loc = match p.pos {
        Some(pos) => format!("{}:{}:{}", inv.file, pos.line, pos.column),
        None => inv.file.clone(),
    };
    let excerpt = p
        .pos
        .map(|pos| lines.excerpt(pos.offset, pos.line, p.len, CONTEXT_LINES));
    ProblemDiagnostic {
        message: format!(
            "{loc}: `{}`: {}",
            p.path_text(),
            diagnostics::clip(&p.message, diagnostics::MAX_MESSAGE_TEXT)
        ),
        help: p
            .help
            .as_deref()
            .map(|h| diagnostics::clip(h, diagnostics::MAX_MESSAGE_TEXT).into_owned()),
        span: excerpt.as_ref().map(|e| SourceSpan::new(e.offset.into(), e.len)),
        source: Snippet {
            name: inv.file.clone(),
            at: p.pos.map_or((0, 0), |pos| {
                (pos.line.saturating_sub(1), pos.column.saturating_sub(1))
            }),
            excerpt: excerpt.unwrap_or(Excerpt {
                text: String::new(),
                first_line: 0,
                offset: 0,
                len: 0,
            }),
        },
    }
}

/// Converts a load error into a miette report (with snippets when the file was read).
#[must_use]
pub fn report(err: LoadError) -> miette::Report {
    match err {
        LoadError::Io { .. } => miette::miette!("{err}"),
        LoadError::Invalid(inv) => {
            let n = inv.problems.len();
            let mut summary = format!(
                "{}: {n} problem{} found; nothing was rendered or applied",
                inv.file,
                if n == 1 { "" } else { "s" }
            );
            if n > MAX_SNIPPETS {
                summary.push_str(&format!(" (shown in full: the first {MAX_SNIPPETS})"));
            }
            let lines = Lines::new(&inv.source);
            let related = inv
                .problems
                .iter()
                .take(MAX_SNIPPETS)
                .map(|p| problem(&inv, &lines, p))
                .collect();
            let mut rest = String::new();
            for p in inv.problems.iter().skip(MAX_SNIPPETS) {
                let _ = writeln!(
                    rest,
                    "{}",
                    diagnostics::Located {
                        file: &inv.file,
                        problem: p
                    }
                );
            }
            miette::Report::new(ModelDiagnostic {
                summary,
                related,
                rest,
            })
        }
    }
}
