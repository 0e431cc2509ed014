//! A located YAML tree: every node knows its byte span, line and column, so every problem can
//! name `file:line:column`. Built with `saphyr-parser`; bounded in depth and size so hostile
//! input cannot exhaust the stack or memory.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 128;
/// The smallest node budget (after alias expansion), whatever the file size.
pub const MIN_NODE_BUDGET: usize = 250_000;

/// Most nodes accepted (after alias expansion) in a text of `bytes` bytes: two per byte, at least
/// [`MIN_NODE_BUDGET`].
///
/// Without aliases a node takes at least half a byte of text (`{a,b}`: a key and its null value
/// per two bytes), so no alias-free file ever reaches the budget, whatever its size (a 10,000
/// project model is about 3 MB and 1.5 M nodes). Aliases are the only way to get more nodes than
/// text, and they are cut off at the budget: a billion-laughs file of a few hundred bytes is
/// refused after 250,000 nodes, in milliseconds, and the time and memory of any file stay linear
/// in its size.
#[must_use]
pub fn node_budget(bytes: usize) -> usize {
    bytes.saturating_mul(2).max(MIN_NODE_BUDGET)
}

/// Reads `src` into `T` with serde-saphyr, under a budget that scales with the text like
/// [`parse`]'s: [`node_budget`] nodes (the reader's fixed default of 250,000 refuses a 10,000
/// project model), twice as many events, nesting up to [`MAX_DEPTH`], no snippet rendering.
pub fn from_yaml<T: serde::de::DeserializeOwned>(src: &str) -> Result<T, serde_saphyr::Error> {
    let nodes = node_budget(src.len());
    let defaults = serde_saphyr::Budget::default();
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: nodes,
            max_events: defaults.max_events.max(nodes.saturating_mul(2)),
            max_total_scalar_bytes: defaults.max_total_scalar_bytes.max(src.len()),
            max_depth: MAX_DEPTH,
        },
        // Only the first line of the message and the location are used; the CLI renders its own
        // (bounded) snippet.
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(src, options)
}

/// A position in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    /// Byte offset.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
}

/// A node of the located tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// Length in bytes (0 when unknown).
    pub len: usize,
    /// What the node holds.
    pub kind: NodeKind,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar and whether it was quoted (quoted scalars are always strings).
    Scalar {
        /// The text.
        value: String,
        /// True for quoted or block scalars.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping: key nodes and value nodes, in source order.
    Map(Vec<(Node, Node)>),
}

/// True for a plain null scalar: empty, `~`, `null`, `Null` or `NULL`.
pub(crate) fn is_null(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Scalar { value, quoted: false } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// A plain scalar as a whole number: decimal, `0x` hex or `0o` octal, `_` separators allowed.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let s = s.replace('_', "");
    if let Some(hex) = s.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return i128::from_str_radix(oct, 8).ok();
    }
    s.parse::<i128>().ok()
}

/// True for a plain boolean scalar: `true`/`false`, `True`/`False`, `TRUE`/`FALSE`.
pub(crate) fn is_bool(s: &str) -> bool {
    matches!(s, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

/// Converts character indices to byte offsets.
struct Offsets<'a> {
    src: &'a str,
    /// (char index, byte offset) checkpoints, monotonic.
    last: (usize, usize),
}

impl<'a> Offsets<'a> {
    fn new(src: &'a str) -> Self {
        Self { src, last: (0, 0) }
    }

    fn byte(&mut self, char_idx: usize) -> usize {
        let (mut ci, mut bi) = if char_idx >= self.last.0 {
            self.last
        } else {
            (0, 0)
        };
        let rest = &self.src[bi..];
        for ch in rest.chars() {
            if ci == char_idx {
                break;
            }
            ci += 1;
            bi += ch.len_utf8();
        }
        self.last = (ci, bi);
        bi
    }
}

/// Parses `src` into a located tree (the first document; `None` for an empty stream).
pub fn parse(src: &str) -> Result<Option<Node>, SyntaxError> {
    let mut offsets = Offsets::new(src);
    let mut parser = Parser::new_from_str(src);
    let budget = node_budget(src.len());
    // Anchored nodes with their node counts (so an alias is charged before it is copied).
    let mut anchors: BTreeMap<usize, (Node, usize)> = BTreeMap::new();
    let mut count = 0usize;
    // Stack of open containers: (start pos, kind, pending key for maps).
    enum Open {
        Seq(Pos, usize, Vec<Node>),
        Map(Pos, usize, Vec<(Node, Node)>, Option<Node>),
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs = 0usize;

    let make_pos = |offsets: &mut Offsets<'_>, m: saphyr_parser::Marker| Pos {
        offset: offsets.byte(m.index()),
        line: m.line(),
        column: m.col() + 1,
    };

    for next in parser.by_ref() {
        let (event, span) = next.map_err(|e| {
            let m = *e.marker();
            SyntaxError {
                pos: make_pos(&mut offsets, m),
                message: e.info().to_owned(),
            }
        })?;
        let start = make_pos(&mut offsets, span.start);
        let end_off = offsets.byte(span.end.index());
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(SyntaxError {
                        pos: start,
                        message: "a model file holds exactly one YAML document; found a second '---'".into(),
                    });
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, nodes)) => {
                    count = count.saturating_add(*nodes);
                    if count > budget {
                        return Err(over_budget(start, budget));
                    }
                    let mut n = n.clone();
                    n.pos = start;
                    Some((n, 0))
                }
                None => {
                    return Err(SyntaxError {
                        pos: start,
                        message: "alias to an unknown anchor".into(),
                    });
                }
            },
            Event::Scalar(value, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let n = Node {
                    pos: start,
                    len: end_off.saturating_sub(start.offset),
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        quoted,
                    },
                };
                Some((n, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        pos: start,
                        message: format!("nesting deeper than {MAX_DEPTH}"),
                    });
                }
                stack.push(Open::Seq(start, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        pos: start,
                        message: format!("nesting deeper than {MAX_DEPTH}"),
                    });
                }
                stack.push(Open::Map(start, anchor, Vec::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(p, anchor, items)) => Some((
                    Node {
                        pos: p,
                        len: end_off.saturating_sub(p.offset),
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )),
                _ => {
                    return Err(SyntaxError {
                        pos: start,
                        message: "unbalanced sequence".into(),
                    });
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(p, anchor, items, _)) => Some((
                    Node {
                        pos: p,
                        len: end_off.saturating_sub(p.offset),
                        kind: NodeKind::Map(items),
                    },
                    anchor,
                )),
                _ => {
                    return Err(SyntaxError {
                        pos: start,
                        message: "unbalanced mapping".into(),
                    });
                }
            },
        };
        if let Some((node, anchor)) = finished {
            count += 1;
            if count > budget {
                return Err(over_budget(start, budget));
            }
            if anchor != 0 {
                let nodes = count_nodes(&node);
                anchors.insert(anchor, (node.clone(), nodes));
            }
            match stack.last_mut() {
                Some(Open::Seq(_, _, items)) => items.push(node),
                Some(Open::Map(_, _, items, pending)) => match pending.take() {
                    Some(key) => items.push((key, node)),
                    None => *pending = Some(node),
                },
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

fn over_budget(pos: Pos, budget: usize) -> SyntaxError {
    SyntaxError {
        pos,
        message: format!(
            "more than {budget} nodes after expanding aliases (at most two per byte of the file, \
             at least {MIN_NODE_BUDGET}); is this an alias bomb?"
        ),
    }
}

fn count_nodes(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(items) => {
            1 + items
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A field path such as `projects[3].disk`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<Step>);

impl Path {
    /// The empty path (the document root).
    #[must_use]
    pub fn root() -> Self {
        Self(Vec::new())
    }
    /// This path plus a key.
    #[must_use]
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Key(k.to_owned()));
        Self(v)
    }
    /// This path plus an index.
    #[must_use]
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Index(i));
        Self(v)
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl Node {
    /// The value node at `path`, or the deepest existing ancestor and whether the whole path resolved.
    #[must_use]
    pub fn lookup(&self, path: &Path) -> (&Node, bool) {
        let mut cur = self;
        for step in &path.0 {
            let next = match (step, &cur.kind) {
                (Step::Key(k), NodeKind::Map(items)) => items
                    .iter()
                    .find(|(key, _)| key.scalar() == Some(k.as_str()))
                    .map(|(_, v)| v),
                (Step::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => return (cur, false),
            }
        }
        (cur, true)
    }

    /// The key node of the last step of `path` (for "unknown field" style errors).
    #[must_use]
    pub fn lookup_key(&self, path: &Path) -> Option<&Node> {
        let (last, parent) = path.0.split_last()?;
        let (p, ok) = self.lookup(&Path(parent.to_vec()));
        if !ok {
            return None;
        }
        match (last, &p.kind) {
            (Step::Key(k), NodeKind::Map(items)) => items
                .iter()
                .find(|(key, _)| key.scalar() == Some(k.as_str()))
                .map(|(key, _)| key),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar.
    #[must_use]
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located() {
        let src = "a: 1\nb:\n  - x\n  - é: 2\n";
        let root = parse(src).expect("parses").expect("has a document");
        let p = Path::root().key("b").index(1).key("é");
        let (n, ok) = root.lookup(&p);
        assert!(ok);
        assert_eq!(n.scalar(), Some("2"));
        assert_eq!((n.pos.line, n.pos.column), (4, 8), "columns count characters");
        assert_eq!(&src[n.pos.offset..n.pos.offset + n.len], "2");
        assert_eq!(p.to_string(), "b[1].é");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "[".repeat(10_000);
        assert!(parse(&src).is_err());
    }

    #[test]
    fn the_node_budget_grows_with_the_file() {
        // 300,000 scalars: over the reader's old fixed 250,000 nodes, well under two per byte.
        let src = "- a\n".repeat(300_000);
        let root = parse(&src).expect("parses").expect("has a document");
        assert!(matches!(&root.kind, NodeKind::Seq(items) if items.len() == 300_000));
        let v: Vec<String> = from_yaml(&src).expect("reads");
        assert_eq!(v.len(), 300_000);
        assert_eq!(node_budget(0), MIN_NODE_BUDGET);
        assert_eq!(node_budget(1 << 20), 2 << 20);
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = "a".to_owned();
        for i in 0..12 {
            let name = format!("l{i}");
            src.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = name;
        }
        assert!(parse(&src).is_err());
        assert!(from_yaml::<serde_json::Value>(&src).is_err());
        // The budget grows with the file, not with what the aliases expand to: the same bomb
        // behind a megabyte of padding (budget 2 M nodes) still expands to 10^13 and is refused.
        let padded = format!("{}{src}", "# padding\n".repeat(100_000));
        let err = parse(&padded).expect_err("refused");
        assert!(err.message.contains("alias bomb"), "{}", err.message);
        assert!(from_yaml::<serde_json::Value>(&padded).is_err());
    }
}
