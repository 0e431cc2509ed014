//! Hostile and broken model files, as the binary sees them: every one exits 2 with a located
//! message (`file:line:column` when there is a place to point at), never panics, prints a
//! bounded report, and is rejected within a time bound.
//!
//! Small cases live in `fixtures/invalid/` (also snapshotted by `devstats-model/tests/invalid.rs`
//! and run by `tests/cli.rs`); the big ones are generated here into a temporary directory.
//! The bound asserted is generous (debug builds, a shared machine); the release numbers are in
//! the README's performance section.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Most time any bad input may take to be rejected (debug build).
const BOUND: Duration = Duration::from_secs(5);
/// Largest report any single-problem input may print: snippets are cut to a window, so a huge
/// line never reaches the terminal.
const SMALL_REPORT: usize = 4096;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(rel)
}

/// A fresh directory for one test's generated files.
fn scratch(test: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bad_input-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write input");
    p
}

/// What a rejection looked like.
struct Rejected {
    /// The report as printed.
    stderr: String,
    /// Its words joined by single spaces, without miette's gutter (the report is wrapped to
    /// the terminal width).
    flat: String,
    took: Duration,
}

/// `s` without whitespace and miette's gutter characters.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '│' | '×'))
        .collect()
}

fn flat(s: &str) -> String {
    s.split_whitespace()
        .filter(|w| !matches!(*w, "│" | "×"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `validate` on `path`: exit 2, nothing on stdout, no panic, within [`BOUND`]; and, when
/// `at` is given, the report names `path:line:column`.
fn rejected(path: &Path, at: Option<(usize, usize)>) -> Rejected {
    let start = Instant::now();
    let out: Output = bin().arg("validate").arg(path).output().expect("runs");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let name = path.display();
    assert_eq!(out.status.code(), Some(2), "{name}: {}", head(&stderr));
    assert!(out.stdout.is_empty(), "{name}: printed on stdout");
    assert!(
        !stderr.contains("panicked"),
        "{name} panicked:\n{}",
        head(&stderr)
    );
    assert!(took < BOUND, "{name}: took {took:?}");
    let flat = flat(&stderr);
    if let Some((line, column)) = at {
        // miette wraps long messages at spaces, hyphens and slashes: compare without them.
        let want = format!("{name}:{line}:{column}:");
        assert!(
            squash(&stderr).contains(&squash(&want)),
            "{name}: no {want} in\n{}",
            head(&stderr)
        );
    }
    // No byte of the input reaches the terminal raw: no escape sequences, no carriage returns.
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\r'),
        "{name}: control characters in the report"
    );
    Rejected { stderr, flat, took }
}

fn head(s: &str) -> &str {
    let mut end = s.len().min(3000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A valid model with `from` replaced by `to` (once).
fn example_with(from: &str, to: &str) -> String {
    let src = std::fs::read_to_string(fixture("example.yaml")).expect("example.yaml");
    assert!(src.contains(from), "example.yaml has no {from:?}");
    src.replacen(from, to, 1)
}

/// The 1-based line and column (characters) of the first `needle` in `src`.
fn line_col(src: &str, needle: &str) -> (usize, usize) {
    let off = src.find(needle).expect("needle present");
    let before = &src[..off];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[test]
fn empty_files() {
    let dir = scratch("empty");
    for (name, text) in [
        ("zero.yaml", ""),
        ("blank.yaml", "\n\n   \n"),
        ("comment.yaml", "# nothing\n"),
    ] {
        let r = rejected(&write(&dir, name, text.as_bytes()), None);
        assert!(r.flat.contains("the file is empty"), "{name}: {}", r.stderr);
    }
    // The fixture (also snapshotted by the model's tests).
    rejected(&fixture("invalid/empty.yaml"), None);
}

#[test]
fn garbage_bytes() {
    let dir = scratch("garbage");
    // Deterministic noise (a linear congruential generator): not UTF-8 within a few bytes.
    let mut x: u32 = 12_345;
    let noise: Vec<u8> = (0..65_536)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let valid = std::str::from_utf8(&noise).map_or_else(|e| e.valid_up_to(), |_| noise.len());
    let prefix = String::from_utf8_lossy(&noise[..valid]).into_owned();
    let at = line_col(&format!("{prefix}\u{0}"), "\u{0}");
    let r = rejected(&write(&dir, "noise.bin", &noise), Some(at));
    assert!(
        r.flat
            .contains(&format!("not UTF-8 (invalid byte at offset {valid})")),
        "{}",
        r.stderr
    );

    // Valid UTF-8 but control characters, escapes and YAML punctuation: a syntax error, and the
    // snippet shows none of the control characters raw.
    let mut text = String::new();
    for i in 0..20_000u32 {
        text.push(match i % 7 {
            0 => '\u{1b}',
            1 => '[',
            2 => '\r',
            3 => ':',
            4 => '\u{7}',
            5 => '}',
            _ => char::from_u32(0x21 + i % 90).unwrap_or('x'),
        });
    }
    let r = rejected(&write(&dir, "noise.yaml", text.as_bytes()), None);
    assert!(r.flat.contains("noise.yaml:1:"), "{}", r.stderr);
    assert!(r.stderr.len() < SMALL_REPORT, "{} bytes", r.stderr.len());
}

#[test]
fn not_utf8_names_the_byte() {
    let dir = scratch("utf8");
    let mut bytes = example_with("  role: prod", "  role: pr\u{0}d").into_bytes();
    let at = bytes.iter().position(|&b| b == 0).expect("marker");
    bytes[at] = 0xff;
    let src = String::from_utf8_lossy(&bytes).into_owned();
    let (line, column) = line_col(&src, "\u{fffd}");
    let r = rejected(&write(&dir, "latin1.yaml", &bytes), Some((line, column)));
    assert!(r.flat.contains(&format!("offset {at}")), "{}", r.stderr);
    rejected(&fixture("invalid/not-utf8.yaml"), None);
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let dir = scratch("laughs");
    // The classic: nine levels of nine aliases, 9^9 (387 million) strings once expanded.
    let mut text = String::from("lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=9 {
        let refs = vec![format!("*lol{}", i - 1); 9].join(", ");
        text.push_str(&format!("lol{i}: &lol{i} [{refs}]\n"));
    }
    let path = write(&dir, "lol.yaml", text.as_bytes());
    let r = rejected(&path, None);
    assert!(r.flat.contains("alias"), "{}", r.stderr);
    assert!(r.flat.contains(&format!("{}:", path.display())), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(2), "{:?}", r.took);
    rejected(&fixture("invalid/alias-bomb.yaml"), Some((7, 28)));
    // Inside a valid model, under a real field.
    let path = write(
        &dir,
        "lol_model.yaml",
        example_with("instance:\n", &format!("{text}instance:\n")).as_bytes(),
    );
    rejected(&path, None);
}

#[test]
fn deep_nesting_is_refused_at_the_limit() {
    let dir = scratch("deep");
    let cases = [
        ("flow_seq.yaml", "[".repeat(20_000)),
        ("flow_map.yaml", "{a: ".repeat(20_000)),
        ("block_seq.yaml", format!("{}x\n", "- ".repeat(20_000))),
        (
            "closed.yaml",
            format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000)),
        ),
    ];
    for (name, text) in cases {
        let r = rejected(&write(&dir, name, text.as_bytes()), None);
        assert!(
            r.flat.contains("nesting deeper than") || r.flat.contains("recursion limit exceeded"),
            "{name}: {}",
            r.stderr
        );
        assert!(r.flat.contains(&format!("{name}:1:")), "{name}: {}", r.stderr);
        assert!(r.stderr.len() < SMALL_REPORT, "{name}: {} bytes", r.stderr.len());
    }
}

#[test]
fn duplicate_keys() {
    let r = rejected(&fixture("invalid/duplicate-key.yaml"), None);
    assert!(r.flat.contains("given twice"), "{}", r.stderr);

    // 100,000 copies of one key: each one a located problem, all listed, in linear time.
    let dir = scratch("dups");
    let path = write(&dir, "dups.yaml", "a: 1\n".repeat(100_000).as_bytes());
    let r = rejected(&path, Some((100_000, 1)));
    assert!(r.flat.contains("field `a` is given twice"), "{}", head(&r.stderr));
    assert_eq!(r.flat.matches("given twice").count(), 99_999);
}

#[test]
fn tabs_in_indentation() {
    let dir = scratch("tabs");
    let src = example_with("  namespace:", "\tnamespace:");
    let (line, column) = line_col(&src, "\tnamespace");
    // The tab itself, not the scalar the parser was scanning when it found it.
    let r = rejected(&write(&dir, "tabs.yaml", src.as_bytes()), Some((line, column)));
    assert!(r.flat.contains("found a tab"), "{}", r.stderr);
    assert!(r.flat.contains("indent with spaces"), "{}", r.stderr);
    rejected(&fixture("invalid/tab-indentation.yaml"), Some((7, 1)));
}

#[test]
fn huge_integers() {
    rejected(&fixture("invalid/huge-integer.yaml"), Some((37, 15)));
    let dir = scratch("ints");
    let digits = "9".repeat(400);
    for (name, value) in [
        ("big.yaml", digits.clone()),
        ("negative.yaml", format!("-{digits}")),
        ("u64_plus_one.yaml", "18446744073709551616".to_owned()),
        ("exponent.yaml", "1e400".to_owned()),
    ] {
        let src = example_with("replicas: 3", &format!("replicas: {value}"));
        let (line, column) = line_col(&src, &value);
        let r = rejected(&write(&dir, name, src.as_bytes()), Some((line, column)));
        assert!(
            r.flat.contains("instance.patroni.replicas"),
            "{name}: {}",
            r.stderr
        );
        assert!(r.stderr.len() < SMALL_REPORT, "{name}: {} bytes", r.stderr.len());
    }
}

#[test]
fn a_5_mb_line_is_rejected_with_a_short_report() {
    let dir = scratch("long");
    let n = 5 << 20;
    let a = "a".repeat(n);
    let cases = [
        // The measured case: 57 s before the snippets were cut.
        ("value.yaml", format!("name: {a}\n"), (1, 1)),
        // A 5 MB plain key: YAML allows implicit keys of at most 1024 characters.
        ("implicit_key.yaml", format!("{a}: 1\n"), (1, n + 1)),
        // A 5 MB explicit unknown key: the message and the field path quote it, cut.
        ("key.yaml", format!("? {a}\n: 1\n"), (1, 3)),
        // A valid model whose last line is 5 MB long; the problem is at its end.
        (
            "tail.yaml",
            example_with("  role: prod", &format!("  role: {a}x")),
            (0, 0),
        ),
    ];
    for (name, text, at) in cases {
        let at = if at == (0, 0) {
            let (line, column) = line_col(&text, "aaaa");
            Some((line, column))
        } else {
            Some(at)
        };
        let r = rejected(&write(&dir, name, text.as_bytes()), at);
        assert!(
            r.stderr.len() < 4 * SMALL_REPORT,
            "{name}: {} bytes of report",
            r.stderr.len()
        );
        assert!(
            r.stderr.contains('…'),
            "{name}: the long line is not cut:\n{}",
            r.stderr
        );
    }
}

#[test]
fn many_problems_on_one_long_line() {
    let dir = scratch("flow");
    // 50,000 unknown keys in one flow mapping on one 700 kB line: each snippet is a window of
    // that line, found by binary search, so the report stays linear.
    let keys: Vec<String> = (0..50_000).map(|i| format!("k{i}: 1")).collect();
    let text = format!("{{{}}}\n", keys.join(", "));
    let path = write(&dir, "flow.yaml", text.as_bytes());
    let (_, column) = line_col(&text, "k49999");
    let r = rejected(&path, Some((1, column)));
    assert_eq!(r.flat.matches("unknown field").count(), 50_000);
    assert!(r.stderr.len() < 200 * 50_000, "{} bytes", r.stderr.len());
}

#[test]
fn a_second_document() {
    rejected(&fixture("invalid/multiple-documents.yaml"), None);
    let dir = scratch("docs");
    let one = std::fs::read_to_string(fixture("example.yaml")).expect("example.yaml");
    let src = format!("{one}---\n{one}");
    let (line, column) = line_col(&src, "---\n");
    let r = rejected(&write(&dir, "two.yaml", src.as_bytes()), Some((line, column)));
    assert!(r.flat.contains("exactly one YAML document"), "{}", r.stderr);
}

#[test]
fn files_over_the_size_cap() {
    let dir = scratch("cap");
    // Sparse: 64 MiB and one byte on disk costs nothing, and the size is refused before reading.
    let path = dir.join("huge.yaml");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len((64 << 20) + 1).expect("set_len");
    let r = rejected(&path, None);
    assert!(r.flat.contains("64.0 MiB (67108865 bytes)"), "{}", r.stderr);
    assert!(
        r.flat.contains("at most 64.0 MiB (67108864 bytes)"),
        "{}",
        r.stderr
    );
    assert!(r.took < Duration::from_secs(1), "{:?}", r.took);

    // Through a pipe the size is unknown: the file is read up to the cap, then refused.
    let start = Instant::now();
    let mut child = bin()
        .args(["validate", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'#'; 1 << 20];
        for _ in 0..80 {
            // The reader stops at the cap and exits: a broken pipe is expected.
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("waits");
    writer.join().expect("writer");
    let stderr = flat(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the file is longer; a model file may be at most 64.0 MiB"),
        "{stderr}"
    );
    assert!(start.elapsed() < BOUND);
}

#[test]
fn import_helm_errors_are_located_in_the_values_file() {
    let dir = scratch("helm");
    let values =
        "namespace: devstats\npostgresNodes: -1\nprojects:\n- proj: a\n  disk: 1Gi\n  domains: [1]\n";
    let path = write(&dir, "values.yaml", values.as_bytes());
    let out = bin()
        .args(["import-helm"])
        .arg(&path)
        .arg("-o")
        .arg(dir.join("model.yaml"))
        .output()
        .expect("runs");
    let stderr = flat(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let want = format!("{}:2:16: `postgresNodes`: -1: must be at least 1", path.display());
    assert!(stderr.contains(&want), "no {want} in\n{stderr}");
    assert!(!stderr.contains("whole number"), "{stderr}");
    assert!(!dir.join("model.yaml").exists(), "a model was written");
}
