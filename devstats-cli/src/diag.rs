//! Turns the model's located problems into miette diagnostics with source snippets.

use std::fmt;

use devstats_model::{Invalid, LoadError, Problem};
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

/// All problems of a model file as one miette diagnostic with one related entry per problem.
#[derive(Debug)]
pub struct ModelDiagnostic {
    summary: String,
    related: Vec<ProblemDiagnostic>,
}

/// One located problem.
#[derive(Debug)]
pub struct ProblemDiagnostic {
    message: String,
    help: Option<String>,
    span: Option<SourceSpan>,
    source: NamedSource<String>,
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

fn problem(inv: &Invalid, p: &Problem) -> ProblemDiagnostic {
    let loc = match p.pos {
        Some(pos) => format!("{}:{}:{}", inv.file, pos.line, pos.column),
        None => inv.file.clone(),
    };
    ProblemDiagnostic {
        message: format!("{loc}: `{}`: {}", p.path, p.message),
        help: p.help.clone(),
        span: p.pos.map(|pos| {
            SourceSpan::new(
                pos.offset.min(inv.source.len()).into(),
                p.len.max(1).min(inv.source.len().saturating_sub(pos.offset)),
            )
        }),
        source: NamedSource::new(inv.file.clone(), inv.source.to_string()),
    }
}

/// Converts a load error into a miette report (with snippets when the file was read).
#[must_use]
pub fn report(err: LoadError) -> miette::Report {
    match err {
        LoadError::Io { .. } => miette::miette!("{err}"),
        LoadError::Invalid(inv) => {
            let n = inv.problems.len();
            let summary = format!(
                "{}: {n} problem{} found; nothing was rendered or applied",
                inv.file,
                if n == 1 { "" } else { "s" }
            );
            let related = inv.problems.iter().map(|p| problem(&inv, p)).collect();
            miette::Report::new(ModelDiagnostic { summary, related })
        }
    }
}
