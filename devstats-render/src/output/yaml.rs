//! A purpose-built block-YAML emitter for the objects we render: a [`serde::Serializer`] that
//! writes straight into a `String`, byte-for-byte what `serde_saphyr::to_string` (2.1, default
//! options) writes for the same value.
//!
//! # Why
//!
//! serde-saphyr is a general serializer (anchors, tags, flow style, comments, enum variants,
//! YAML 1.2 mode …) and its per-node bookkeeping dominated `render`: for the CNCF model (~1,500
//! objects, 7 MB of YAML) it took about two thirds of the run, and every mapping key went through
//! a capturing serializer into a fresh `String`. Our objects are JSON-shaped (maps with string
//! keys, sequences, strings, integers, booleans, null), so this emitter only knows those, keeps
//! the layout as one small position value per node (top level, mapping value, sequence item) and
//! decides quoting in one pass over each string's bytes.
//!
//! # Serializer directly over the objects, not over `serde_json::Value`
//!
//! It serializes the k8s-openapi structs directly. Going through `serde_json::Value` first would
//! cost one allocation per string and per map (the tree is as big as the objects), and it would
//! change key order: without serde_json's `preserve_order` feature a `Value` map is sorted, while
//! k8s-openapi writes `apiVersion`, `kind` first (a ConfigMap's `data` would move before `kind`).
//!
//! # Identical output, and what happens outside the subset
//!
//! The layout and quoting rules are serde-saphyr's, read from its source
//! (`src/ser/serializer.rs`, `serializer/compound.rs`, `quoting.rs`, `wrapping.rs`), not
//! guessed: the scalar classification functions below are ports of `quoting.rs` (MIT OR
//! Apache-2.0) with the same structure, only reorganized into one scan per string. In short:
//!
//! - two-space indentation; a sequence that is a mapping value is "compact" (its dashes at the
//!   key's column); a mapping or sequence that is a sequence item starts on the dash's line;
//! - empty collections are `{}` / `[]`;
//! - a value string is plain unless YAML 1.1 would read it as something else (null, booleans
//!   including `yes`/`on`/`y`, numbers including `0x1`, `1_000`, `1:20` sexagesimal, `.inf`,
//!   timestamps), it starts with an indicator, has edge white space, `: `, ` #`, or a control or
//!   format character; otherwise it is double-quoted with YAML escapes; `.`, `#`, `-` alone are
//!   single-quoted;
//! - a multi-line string is a literal block (`|`, `|-`, `|+`, with an indentation indicator when
//!   its first line starts with spaces); a single-line plain-safe string of more than 80
//!   characters is a folded block (`>-`) wrapped at 80 columns;
//! - keys follow the stricter key rule (no `:` at all, no flow indicators `,[]{}`).
//!
//! Anything outside the subset (floats, byte strings, enum variants other than unit variants,
//! non-scalar or over-long keys, serde-saphyr's wrapper types) makes [`to_string`] fail with
//! [`Unsupported`]; [`crate::output::object_yaml`] then falls back to serde-saphyr for that
//! object, so output stays identical whatever the builders produce. The equality is tested over
//! the whole fixture corpus and by a property test over arbitrary JSON-shaped values with
//! adversarial strings (`tests/yaml_emitter.rs`), which asserts identical bytes (no deliberate
//! deviations).

use std::fmt;

use serde::ser::{self, Serialize};

/// The value is outside the JSON-shaped subset this emitter writes (the caller falls back to
/// serde-saphyr), or a `Serialize` impl failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!(
        "{what} is outside the fast emitter's subset"
    )))
}

/// Serializes `value` as one YAML document (no `---`), exactly as `serde_saphyr::to_string`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Unsupported> {
    let mut out = String::new();
    append(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as one YAML document (no `---`) to `out`. On error `out` is left as it was.
pub fn append<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Unsupported> {
    let start = out.len();
    let r = value.serialize(Node { out, pos: Pos::Top });
    if r.is_err() {
        out.truncate(start);
    }
    r
}

// ------------------------------------------------------------------------------------------
// Layout
// ------------------------------------------------------------------------------------------

/// Where the node being serialized goes.
#[derive(Clone, Copy)]
enum Pos {
    /// The document root, at the start of a line.
    Top,
    /// A mapping value: `key:` was written (no space yet); the key is at this depth.
    Value(usize),
    /// A sequence item: `- ` was written; the dash is at this depth.
    Item(usize),
}

/// How the first entry of a collection starts, relative to what is already on the line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// At the start of a line: indent.
    Indent,
    /// Right after `- `: no indentation.
    Inline,
    /// After `key:`: a newline first (a space and `{}`/`[]` when empty).
    Deferred,
    /// After `key:` for a mapping announced empty: a space first.
    Space,
}

fn indent(out: &mut String, depth: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = depth * 2;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

struct Node<'a> {
    out: &'a mut String,
    pos: Pos,
}

impl Node<'_> {
    /// Writes a one-line scalar token in this position.
    #[inline]
    fn token(self, text: &str) -> Result<(), Unsupported> {
        if let Pos::Value(_) = self.pos {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    fn integer(self, negative: bool, magnitude: u128) -> Result<(), Unsupported> {
        let mut buf = [0u8; 40];
        let mut i = buf.len();
        let mut v = magnitude;
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if negative {
            i -= 1;
            buf[i] = b'-';
        }
        // Only ASCII digits and '-' were written.
        let text = std::str::from_utf8(&buf[i..]).map_err(|e| Unsupported(e.to_string()))?;
        self.token(text)
    }

    /// The column a block scalar's header belongs to; its body is one level deeper.
    fn block_body_column(&self) -> usize {
        match self.pos {
            Pos::Top => 2,
            Pos::Value(d) | Pos::Item(d) => d * 2 + 2,
        }
    }

    fn block_header_prefix(&mut self) {
        if let Pos::Value(_) = self.pos {
            self.out.push(' ');
        }
    }

    fn literal(mut self, v: &str) {
        let body = self.block_body_column();
        self.block_header_prefix();
        let out = self.out;
        let content = v.trim_end_matches('\n');
        let trailing_nl = v.len() - content.len();
        out.push('|');
        if first_line_leading_spaces(content) > 0 {
            out.push('2');
        }
        match trailing_nl {
            0 => out.push('-'),
            1 if !content.is_empty() => {}
            _ => out.push('+'),
        }
        out.push('\n');
        if content.is_empty() {
            for _ in 0..trailing_nl {
                out.push('\n');
            }
            return;
        }
        for line in content.split('\n') {
            if !line.is_empty() {
                push_spaces(out, body);
                out.push_str(line);
            }
            out.push('\n');
        }
        for _ in 1..trailing_nl {
            out.push('\n');
        }
    }

    fn folded(mut self, v: &str) {
        let body = self.block_body_column();
        self.block_header_prefix();
        let out = self.out;
        out.push('>');
        if first_line_leading_spaces(v.trim_end_matches('\n')) > 0 {
            out.push('2');
        }
        // Only chosen for single-line strings: no trailing newline, strip chomping.
        let content = v.trim_end_matches('\n');
        match v.len() - content.len() {
            0 => out.push('-'),
            1 => {}
            _ => out.push('+'),
        }
        out.push('\n');
        write_folded_block(out, v, body, FOLDED_WRAP_CHARS);
    }

    fn string(self, v: &str) -> Result<(), Unsupported> {
        if let Some(true) = simple_value(v) {
            return self.token(v);
        }
        let r = scan(v);
        if r.newline {
            if is_block_scalar_content_safe(v) {
                self.literal(v);
                return Ok(());
            }
        } else if v.len() > FOLDED_WRAP_CHARS {
            let probe = v.trim_end_matches(' ');
            if !probe.is_empty() && is_plain_value_safe(probe) && v.chars().count() > FOLDED_WRAP_CHARS {
                if is_block_scalar_content_safe(v) {
                    self.folded(v);
                } else {
                    self.quoted(v, &r);
                }
                return Ok(());
            }
        }
        match v {
            "." => return self.token("'.'"),
            "#" => return self.token("'#'"),
            "-" => return self.token("'-'"),
            _ => {}
        }
        if plain_value_given(v, &r) {
            self.token(v)
        } else {
            self.quoted(v, &r);
            Ok(())
        }
    }

    fn quoted(self, v: &str, r: &Scan) {
        if let Pos::Value(_) = self.pos {
            self.out.push(' ');
        }
        self.out.push('"');
        if r.control || r.escape {
            escape_double_quoted(v, self.out);
        } else {
            self.out.push_str(v);
        }
        self.out.push('"');
        self.out.push('\n');
    }
}

fn push_spaces(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

/// serde-saphyr's `folded_wrap_chars` default.
const FOLDED_WRAP_CHARS: usize = 80;
/// serde-saphyr's simple-key limit (YAML 1.2: an implicit key is at most 1024 characters).
const SIMPLE_KEY_MAX_LEN: usize = 1024;

/// Spaces at the start of the first non-empty line (`wrapping::first_line_leading_spaces`).
fn first_line_leading_spaces(s: &str) -> usize {
    for line in s.split('\n') {
        if !line.is_empty() {
            return line.len() - line.trim_start_matches(' ').len();
        }
    }
    0
}

/// A folded block body (`wrapping::write_folded_block` with indent step 1).
fn write_folded_block(out: &mut String, s: &str, column: usize, wrap: usize) {
    for line in s.split('\n') {
        if line.is_empty() {
            out.push('\n');
            continue;
        }
        if line.starts_with(' ') {
            push_spaces(out, column);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut start = 0usize;
        let mut col = 0usize;
        let mut last_space_run: Option<(usize, usize, usize)> = None;
        let mut in_space_run = false;
        let mut run_start = 0usize;
        let mut run_len = 0usize;
        let mut prev_i = 0usize;
        let mut prev_ch_len = 0usize;
        for (i, ch) in line.char_indices() {
            if in_space_run && ch != ' ' {
                let run_end = prev_i + prev_ch_len;
                if ch != '\t' {
                    last_space_run = Some((run_start, run_end, run_len));
                }
                in_space_run = false;
                run_len = 0;
            }
            if ch == ' ' {
                if in_space_run {
                    run_len += 1;
                } else {
                    in_space_run = true;
                    run_start = i;
                    run_len = 1;
                }
            }
            col += 1;
            if col > wrap {
                let Some((ws_start, ws_end, ws_len)) = last_space_run else {
                    break;
                };
                push_spaces(out, column);
                out.push_str(&line[start..ws_start]);
                push_spaces(out, ws_len - 1);
                out.push('\n');
                start = ws_end;
                col = 0;
                last_space_run = None;
            }
            prev_i = i;
            prev_ch_len = ch.len_utf8();
        }
        push_spaces(out, column);
        out.push_str(&line[start..]);
        out.push('\n');
    }
}

// ------------------------------------------------------------------------------------------
// Scalar classification (ports of serde-saphyr's `quoting.rs`, default options: YAML 1.1
// ambiguity for values, block style)
// ------------------------------------------------------------------------------------------

fn is_numeric(s: &str, yaml_12: bool) -> bool {
    if !matches!(
        s.as_bytes().first(),
        Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'_')
    ) {
        return false;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case(".inf") || unsigned.eq_ignore_ascii_case(".nan") {
        return true;
    }
    if !yaml_12 {
        if is_yaml11_sexagesimal(s) {
            return true;
        }
        if let Some((radix, digits)) = radix_digits(unsigned)
            && is_digit_run(digits, radix, false)
        {
            return true;
        }
    }
    let normalized;
    let s = if !yaml_12 && s.contains('_') {
        normalized = s.replace('_', "");
        normalized.as_str()
    } else {
        s
    };
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some((radix, digits)) = radix_digits(unsigned) {
        let digits = if !yaml_12 && (s.starts_with("0b") || s.starts_with("0o")) {
            digits.strip_prefix(['+', '-']).unwrap_or(digits)
        } else {
            digits
        };
        return is_digit_run(digits, radix, true);
    }
    let mantissa = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if !is_digit_run(exponent, 10, true) {
                return false;
            }
            mantissa
        }
        None => unsigned,
    };
    match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            if !whole.is_empty() && !is_digit_run(whole, 10, true) {
                return false;
            }
            if !yaml_12 {
                fraction.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            } else if fraction.is_empty() {
                !whole.is_empty()
            } else {
                is_digit_run(fraction, 10, true)
            }
        }
        None => is_digit_run(mantissa, 10, true),
    }
}

fn radix_digits(s: &str) -> Option<(u32, &str)> {
    match s.as_bytes() {
        [b'0', b'b' | b'B', ..] => Some((2, &s[2..])),
        [b'0', b'o' | b'O', ..] => Some((8, &s[2..])),
        [b'0', b'x' | b'X', ..] => Some((16, &s[2..])),
        _ => None,
    }
}

fn is_digit_run(s: &str, radix: u32, strict_underscores: bool) -> bool {
    let is_digit = |b: u8| b.is_ascii() && char::from(b).is_digit(radix);
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.iter().enumerate().all(|(i, &b)| {
            is_digit(b)
                || (b == b'_'
                    && (!strict_underscores
                        || (i > 0
                            && is_digit(bytes[i - 1])
                            && bytes.get(i + 1).is_some_and(|&next| is_digit(next)))))
        })
}

fn is_yaml11_sexagesimal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let Some((first, rest)) = integer.split_once(':') else {
        return false;
    };
    let Some(first_digit) = first.as_bytes().first() else {
        return false;
    };
    if !first_digit.is_ascii_digit()
        || (fraction.is_none() && *first_digit == b'0')
        || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    if !rest.split(':').all(|part| match part.as_bytes() {
        [digit] => digit.is_ascii_digit(),
        [tens, units] => matches!(tens, b'0'..=b'5') && units.is_ascii_digit(),
        _ => false,
    }) {
        return false;
    }
    fraction.is_none_or(|part| part.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
}

fn is_yaml11_timestamp(mut s: &str) -> bool {
    fn digits(s: &mut &str, min: usize, max: usize) -> bool {
        let len = s.bytes().take_while(u8::is_ascii_digit).count();
        if !(min..=max).contains(&len) {
            return false;
        }
        *s = &s[len..];
        true
    }
    fn prefix(s: &mut &str, ch: char) -> bool {
        if let Some(rest) = s.strip_prefix(ch) {
            *s = rest;
            true
        } else {
            false
        }
    }
    if !digits(&mut s, 4, 4)
        || !prefix(&mut s, '-')
        || !digits(&mut s, 1, 2)
        || !prefix(&mut s, '-')
        || !digits(&mut s, 1, 2)
    {
        return false;
    }
    if s.is_empty() {
        return true;
    }
    if let Some(rest) = s.strip_prefix(['T', 't']) {
        s = rest;
    } else {
        let rest = s.trim_start_matches([' ', '\t']);
        if rest.len() == s.len() {
            return false;
        }
        s = rest;
    }
    if !digits(&mut s, 1, 2)
        || !prefix(&mut s, ':')
        || !digits(&mut s, 1, 2)
        || !prefix(&mut s, ':')
        || !digits(&mut s, 1, 2)
    {
        return false;
    }
    if prefix(&mut s, '.') || prefix(&mut s, ',') {
        digits(&mut s, 0, usize::MAX);
    }
    s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() || s == "Z" {
        return true;
    }
    if !(prefix(&mut s, '+') || prefix(&mut s, '-')) || !digits(&mut s, 1, 2) {
        return false;
    }
    if prefix(&mut s, ':') && !digits(&mut s, 2, 2) {
        return false;
    }
    s.is_empty()
}

/// `parse_scalars::parse_yaml11_bool(s).is_some()`.
fn is_yaml11_bool(s: &str) -> bool {
    // The longest word is 5 bytes: a longer string needs trimmable edges to be one.
    if s.len() > 5 && !s.starts_with([' ', '\t', '\r', '\n']) && !s.ends_with([' ', '\t', '\r', '\n']) {
        return false;
    }
    let t = s.trim_matches([' ', '\t', '\r', '\n']);
    t.len() <= 5
        && ["true", "yes", "y", "on", "false", "no", "n", "off"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
}

/// Whether implicit scalar resolution can change a string's type (`quoting::is_ambiguous`).
fn is_ambiguous(s: &str, yaml_12: bool) -> bool {
    // Every word below is at most 5 bytes (`eq_ignore_ascii_case` compares lengths first).
    let short = s.len() <= 5;
    s.is_empty()
        || (short
            && (s == "~"
                || s.eq_ignore_ascii_case("null")
                || s.eq_ignore_ascii_case("true")
                || s.eq_ignore_ascii_case("false")))
        || is_numeric(s, yaml_12)
        || (short
            && (s.eq_ignore_ascii_case("nan")
                || s.eq_ignore_ascii_case("inf")
                || s.eq_ignore_ascii_case("+inf")
                || s.eq_ignore_ascii_case("-inf")))
        || (!yaml_12
            && (is_yaml11_bool(s)
                || (s.as_bytes().first().is_some_and(u8::is_ascii_digit) && is_yaml11_timestamp(s))
                || matches!(s, "<<" | "=")))
}

#[inline]
fn starts_with_document_marker(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("---").or_else(|| s.strip_prefix("...")) else {
        return false;
    };
    rest.is_empty() || rest.as_bytes().first().is_some_and(u8::is_ascii_whitespace)
}

/// What one pass over a string's bytes finds.
#[derive(Default)]
struct Scan {
    /// A character that needs escaping (`is_controll_which_needs_escaping`): exactly the
    /// characters `escape_double_quoted` escapes besides `"` and `\\`.
    control: bool,
    /// A line feed (also counted in `control`; the scan stops there, the other fields are
    /// then incomplete).
    newline: bool,
    /// `"` or `\\`.
    escape: bool,
    /// `#` after white space (a comment in plain style).
    comment: bool,
    /// `: `.
    colon_space: bool,
    /// Any `:`.
    colon: bool,
    /// Any of `,[]{}`.
    flow: bool,
}

/// Bytes `scan` looks at; all others (letters, digits, most punctuation, UTF-8 continuation
/// bytes) are skipped without a branch per kind.
const INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    let special = b":#,[]{}\"\\";
    let mut j = 0;
    while j < special.len() {
        t[special[j] as usize] = true;
        j += 1;
    }
    t[0x7F] = true;
    t[0xC2] = true;
    t[0xE2] = true;
    t[0xEF] = true;
    t
};

fn scan(s: &str) -> Scan {
    let b = s.as_bytes();
    let mut r = Scan::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !INTERESTING[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b'\n' => {
                // A line break decides alone: a literal block, or (with characters a block
                // cannot hold) a double-quoted string escaped character by character.
                r.control = true;
                r.newline = true;
                return r;
            }
            0x00..=0x1F | 0x7F => r.control = true,
            b':' => {
                r.colon = true;
                if b.get(i + 1) == Some(&b' ') {
                    r.colon_space = true;
                }
            }
            // `#` after a white-space character (`char::is_whitespace`, maybe non-ASCII).
            b'#' if i > 0 && s[..i].chars().next_back().is_some_and(char::is_whitespace) => {
                r.comment = true;
            }
            b',' | b'[' | b']' | b'{' | b'}' => r.flow = true,
            b'"' | b'\\' => r.escape = true,
            // U+0080..U+009F (C1 controls): C2 80..C2 9F.
            0xC2 if matches!(b.get(i + 1), Some(0x80..=0x9F)) => r.control = true,
            // U+2028, U+2029: E2 80 A8/A9.
            0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) => {
                r.control = true;
            }
            // U+FEFF: EF BB BF; U+FFFE, U+FFFF: EF BF BE/BF.
            0xEF if matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(0xBB), Some(0xBF)) | (Some(0xBF), Some(0xBE | 0xBF))
            ) =>
            {
                r.control = true;
            }
            _ => {}
        }
        i += 1;
    }
    r
}

#[inline]
fn edge_ws(b: &[u8]) -> bool {
    b.first().is_some_and(u8::is_ascii_whitespace) || b.last().is_some_and(u8::is_ascii_whitespace)
}

/// The first-character rules shared by keys and values.
#[inline]
fn bad_start(b: &[u8]) -> bool {
    match b {
        [b'-' | b'?', b1, ..] if b1.is_ascii_whitespace() => true,
        [b'-' | b'?']
        | [
            b',' | b':' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
            | b'%' | b'@' | b'`',
            ..,
        ] => true,
        _ => false,
    }
}

/// `quoting::is_plain_value_safe(s, yaml_12 = false, in_flow = false)`.
fn is_plain_value_safe(s: &str) -> bool {
    plain_value_given(s, &scan(s))
}

/// The YAML words an alphabetic plain scalar can be read as: null, booleans (YAML 1.1 and
/// 1.2 spellings), `nan`, `inf`, case-insensitively (`is_ambiguous` for such strings).
fn is_word(s: &str) -> bool {
    let b = s.as_bytes();
    let ci = |w: &[u8]| b.eq_ignore_ascii_case(w);
    match b.len() {
        1 => matches!(b[0], b'y' | b'Y' | b'n' | b'N'),
        2 => ci(b"on") || ci(b"no"),
        3 => ci(b"nan") || ci(b"inf") || ci(b"yes") || ci(b"off"),
        4 => ci(b"null") || ci(b"true"),
        5 => ci(b"false"),
        _ => false,
    }
}

/// The common case decided without a scan: a value that starts with a letter, has only
/// printable ASCII without spaces, does not end with `:` and is at most 80 bytes. None of
/// `plain_value_given`'s rules but the words apply to it (no edge white space, no indicator
/// first, no `: ` or ` #` without a space, no control character, not a number, timestamp or
/// document marker, not a folded-block candidate).
#[inline]
fn simple_value(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let (first, last) = (*b.first()?, *b.last()?);
    if !first.is_ascii_alphabetic()
        || last == b':'
        || b.len() > FOLDED_WRAP_CHARS
        || !b.iter().all(|c| matches!(c, 0x21..=0x7E))
    {
        return None;
    }
    Some(!is_word(s))
}

/// [`simple_value`] for keys: `:` and the flow indicators `,[]{}` are excluded as well.
#[inline]
fn simple_key(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_alphabetic()
        || b.len() > SIMPLE_KEY_MAX_LEN
        || !b
            .iter()
            .all(|c| matches!(c, 0x21..=0x7E) && !matches!(c, b':' | b',' | b'[' | b']' | b'{' | b'}'))
    {
        return None;
    }
    Some(!is_word(s))
}

/// [`is_plain_value_safe`] given the scan of `s`.
fn plain_value_given(s: &str, r: &Scan) -> bool {
    let b = s.as_bytes();
    !(edge_ws(b)
        || bad_start(b)
        || r.colon_space
        || r.control
        || r.comment
        || is_ambiguous(s, false)
        || starts_with_document_marker(s)
        || s.trim().ends_with(':'))
}

/// `is_plain_safe(s) && is_plain_value_safe(s, false, true)`: serde-saphyr's rule for keys.
fn is_plain_key_safe(s: &str) -> bool {
    let b = s.as_bytes();
    if edge_ws(b) || bad_start(b) {
        return false;
    }
    let r = scan(s);
    !(r.colon
        || r.control
        || r.comment
        || r.flow
        || is_ambiguous(s, true)
        || is_ambiguous(s, false)
        || s == "<<"
        || starts_with_document_marker(s))
}

/// `quoting::is_block_scalar_content_safe`.
fn is_block_scalar_content_safe(s: &str) -> bool {
    // ASCII prefix byte by byte; from the first non-ASCII character on, by characters.
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] < 0x80 {
        if !matches!(b[i], 0x20..=0x7E | b'\n' | b'\t') {
            return false;
        }
        i += 1;
    }
    s[i..].chars().all(|ch| match ch {
        '\n' | '\t' => true,
        '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' => false,
        c => matches!(c as u32, 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x0010_FFFF),
    })
}

fn needs_escaping(ch: char) -> bool {
    ch.is_control() || matches!(ch, '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}')
}

/// The contents of a double-quoted scalar (`quoting::escape_double_quoted`).
fn escape_double_quoted(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    let mut plain_from = 0;
    for (i, ch) in s.char_indices() {
        let esc: Option<&str> = match ch {
            '\\' => Some("\\\\"),
            '"' => Some("\\\""),
            '\0' => Some("\\0"),
            '\u{7}' => Some("\\a"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{b}' => Some("\\v"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            '\u{1b}' => Some("\\e"),
            '\u{FEFF}' => Some("\\uFEFF"),
            '\u{0085}' => Some("\\N"),
            '\u{2028}' => Some("\\L"),
            '\u{2029}' => Some("\\P"),
            c if (c as u32) <= 0xFF && (c.is_control() || (0x7F..=0x9F).contains(&(c as u32))) => Some(""),
            c if (c as u32) <= 0xFFFF && needs_escaping(c) => Some(""),
            _ => None,
        };
        let Some(esc) = esc else { continue };
        out.push_str(&s[plain_from..i]);
        plain_from = i + ch.len_utf8();
        if esc.is_empty() {
            // Writing to a String cannot fail.
            let _ = if (ch as u32) <= 0xFF {
                write!(out, "\\x{:02X}", ch as u32)
            } else {
                write!(out, "\\u{:04X}", ch as u32)
            };
        } else {
            out.push_str(esc);
        }
    }
    out.push_str(&s[plain_from..]);
}

fn push_key(out: &mut String, k: &str) -> Result<(), Unsupported> {
    if let Some(true) = simple_key(k) {
        out.push_str(k);
        return Ok(());
    }
    if is_plain_key_safe(k) {
        if k.len() > SIMPLE_KEY_MAX_LEN && k.chars().count() > SIMPLE_KEY_MAX_LEN {
            return unsupported("a key of more than 1024 characters");
        }
        out.push_str(k);
    } else {
        let start = out.len();
        out.push('"');
        escape_double_quoted(k, out);
        out.push('"');
        let text = &out[start..];
        if text.len() > SIMPLE_KEY_MAX_LEN && text.chars().count() > SIMPLE_KEY_MAX_LEN {
            return unsupported("a key of more than 1024 characters");
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// serde glue
// ------------------------------------------------------------------------------------------

impl<'a> ser::Serializer for Node<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = SeqSer<'a>;
    type SerializeTuple = SeqSer<'a>;
    type SerializeTupleStruct = SeqSer<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.token(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.integer(v < 0, u128::from(v.unsigned_abs()))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        self.integer(v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(false, u128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        self.integer(false, v)
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Unsupported> {
        unsupported("a float")
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Unsupported> {
        unsupported("a float")
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        let mut buf = [0u8; 4];
        self.string(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Unsupported> {
        unsupported("a byte string")
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.token("null")
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.token("null")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.token("null")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if name.starts_with("__yaml") {
            return unsupported("a serde-saphyr wrapper");
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Unsupported> {
        unsupported("an enum variant with data")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqSer<'a>, Unsupported> {
        let (depth, start) = match self.pos {
            Pos::Top => (0, Start::Indent),
            Pos::Value(d) => (d, Start::Deferred),
            Pos::Item(d) => (d + 1, Start::Inline),
        };
        Ok(SeqSer {
            out: self.out,
            depth,
            start,
            first: true,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<SeqSer<'a>, Unsupported> {
        if name.starts_with("__yaml") {
            return unsupported("a serde-saphyr wrapper");
        }
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("an enum variant with data")
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer<'a>, Unsupported> {
        let (depth, start) = match self.pos {
            Pos::Top => (0, Start::Indent),
            Pos::Item(d) => (d + 1, Start::Inline),
            Pos::Value(d) => match len {
                None => (d + 1, Start::Deferred),
                Some(0) => (d + 1, Start::Space),
                Some(_) => {
                    self.out.push('\n');
                    (d + 1, Start::Indent)
                }
            },
        };
        Ok(MapSer {
            out: self.out,
            depth,
            start,
            first: true,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapSer<'a>, Unsupported> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("an enum variant with data")
    }
}

/// A block sequence being written.
pub(crate) struct SeqSer<'a> {
    out: &'a mut String,
    /// The dashes' depth.
    depth: usize,
    start: Start,
    first: bool,
}

impl SeqSer<'_> {
    fn element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unsupported> {
        if std::mem::take(&mut self.first) {
            match self.start {
                Start::Indent => indent(self.out, self.depth),
                Start::Inline => {}
                Start::Deferred | Start::Space => {
                    self.out.push('\n');
                    indent(self.out, self.depth);
                }
            }
        } else {
            indent(self.out, self.depth);
        }
        self.out.push_str("- ");
        v.serialize(Node {
            out: self.out,
            pos: Pos::Item(self.depth),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.first {
            match self.start {
                Start::Indent => {
                    indent(self.out, self.depth);
                    self.out.push_str("[]\n");
                }
                Start::Inline => self.out.push_str("[]\n"),
                Start::Deferred | Start::Space => self.out.push_str(" []\n"),
            }
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSer<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unsupported> {
        self.element(v)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSer<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unsupported> {
        self.element(v)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqSer<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Unsupported> {
        self.element(v)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// A block mapping being written.
pub(crate) struct MapSer<'a> {
    out: &'a mut String,
    /// The keys' depth.
    depth: usize,
    start: Start,
    first: bool,
}

impl MapSer<'_> {
    #[inline]
    fn before_key(&mut self) {
        if std::mem::take(&mut self.first) {
            match self.start {
                Start::Indent => indent(self.out, self.depth),
                Start::Inline => {}
                Start::Space => self.out.push(' '),
                Start::Deferred => {
                    self.out.push('\n');
                    indent(self.out, self.depth);
                }
            }
        } else {
            indent(self.out, self.depth);
        }
    }

    #[inline]
    fn value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Node {
            out: self.out,
            pos: Pos::Value(self.depth),
        })
    }

    fn finish(self) -> Result<(), Unsupported> {
        if self.first {
            match self.start {
                Start::Indent => {
                    indent(self.out, self.depth);
                    self.out.push_str("{}\n");
                }
                Start::Inline => self.out.push_str("{}\n"),
                Start::Deferred | Start::Space => self.out.push_str(" {}\n"),
            }
        }
        Ok(())
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.before_key();
        key.serialize(KeySer { out: self.out })?;
        self.out.push(':');
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.before_key();
        push_key(self.out, key)?;
        self.out.push(':');
        self.value(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

/// Writes a mapping key (serde-saphyr's `KeyScalarSink`, scalars only).
struct KeySer<'a> {
    out: &'a mut String,
}

impl KeySer<'_> {
    fn int(self, negative: bool, magnitude: u128) -> Result<(), Unsupported> {
        if negative {
            self.out.push('-');
        }
        use std::fmt::Write as _;
        write!(self.out, "{magnitude}").map_err(|e| Unsupported(e.to_string()))
    }
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.int(v < 0, u128::from(v.unsigned_abs()))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        self.int(v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.int(false, u128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        self.int(false, v)
    }
    fn serialize_f32(self, _v: f32) -> Result<(), Unsupported> {
        unsupported("a float key")
    }
    fn serialize_f64(self, _v: f64) -> Result<(), Unsupported> {
        unsupported("a float key")
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        let mut buf = [0u8; 4];
        push_key(self.out, v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        push_key(self.out, v)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), Unsupported> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        push_key(self.out, variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if name.starts_with("__yaml") {
            return unsupported("a serde-saphyr wrapper");
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        unsupported("a non-scalar key")
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("a non-scalar key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(v: &serde_json::Value) {
        let ours = to_string(v).expect("in the subset");
        let theirs = serde_saphyr::to_string(v).expect("serializes");
        assert_eq!(ours, theirs, "for {v:#}");
    }

    #[test]
    fn shapes_match_serde_saphyr() {
        let cases = serde_json::json!([
            {"a": 1, "b": {"c": [1, 2, {"d": "e", "f": []}], "g": {}}, "h": [[1, [2, 3]], [], {}]},
            {"s": ["yes", "on", "0x1", "1e3", ".inf", "~", "", " a", "a ", "a: b", "a #b", "a#b", "- a", "-a",
                   "'q'", "\"q\"", "ünï", "\u{1}", "\u{85}", "\u{feff}x", "2024-01-01", "1:20", "null", "NULL",
                   ".", "#", "-", "<<", "=", "---", "--- a", "...", "a:", "a,b", "[a]", "{a}", "*a", "&a", "!a",
                   "%a", "@a", "`a", "|", ">", "?", "? a", "?a", "a\tb", "tab\t"]},
            {"multi": ["a\nb", "a\nb\n", "a\nb\n\n", "\n", "\n\n", "  indented\nx", "a\r\nb", "\ta\nb",
                       "x\n\n y\n", "a\u{85}\nb"]},
            {"long": ["word ".repeat(40), "x".repeat(120), format!("{} ", "ab ".repeat(30)), "a  b ".repeat(30),
                      "a:b ".repeat(30), "a: b ".repeat(30)]},
            {"keys": {"a:b": 1, "a b": 2, "yes": 3, "1": 4, "a,b": 5, "": 6, " x": 7, "-": 8, "ü": 9, "a#b": 10,
                      "a #b": 11, "a\nb": 12, "<<": 13}},
            [[["deep"]], [{"a": [{"b": "c\nd"}]}]],
            {"n": null, "t": true, "f": false, "i": -12, "u": 18446744073709551615u64},
        ]);
        for v in cases.as_array().expect("array") {
            same(v);
        }
    }
}
