//! JSON helpers the planner needs: canonical serialization for hashing, "desired is a subset of
//! live" comparison (the server adds defaults and controller fields), Kubernetes quantities, and
//! short hashes.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Canonical JSON text: object keys sorted, no whitespace. Independent of serde_json's map order.
#[must_use]
pub fn canonical(v: &Value) -> String {
    let mut out = Vec::with_capacity(4096);
    write_canonical(v, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// Lowercase hex SHA-256 of bytes.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The content hash of an object: the first 32 hex digits of the SHA-256 of its canonical JSON.
#[must_use]
pub fn content_hash(v: &Value) -> String {
    let mut h = sha256_hex(canonical(v).as_bytes());
    h.truncate(32);
    h
}

/// URL-safe base64 without padding (what ApplySet IDs use).
#[must_use]
pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// A Kubernetes quantity as a number (`10Gi`, `500m`, `1e3`), for comparisons.
#[must_use]
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in suffixes {
        if let Some(num) = s.strip_suffix(suffix) {
            return num.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    if let Some(num) = s.strip_suffix('P') {
        return num.parse::<f64>().ok().map(|n| n * 1e15);
    }
    if let Some(num) = s.strip_suffix('E') {
        return num.parse::<f64>().ok().map(|n| n * 1e18);
    }
    s.parse::<f64>().ok()
}

/// Compares two quantities; `None` when either does not parse.
#[must_use]
pub fn compare_quantities(a: &str, b: &str) -> Option<Ordering> {
    parse_quantity(a)?.partial_cmp(&parse_quantity(b)?)
}

/// Whether every field set in `desired` has the same value in `live` (lists element by element;
/// quantities compared by value). Fields only in `live` (server defaults, controller fields) are
/// ignored.
#[must_use]
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Null, _) => true,
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, dv)| dv.is_null() || l.get(k).is_some_and(|lv| is_subset(dv, lv))),
        (Value::Object(d), Value::Null) => d.values().all(Value::is_null),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::String(d), Value::String(l)) => {
            d == l || compare_quantities(d, l) == Some(Ordering::Equal) && looks_like_quantity(d)
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

fn looks_like_quantity(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Short display of a JSON value for messages (truncated).
#[must_use]
pub fn short(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => "(unset)".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => canonical(other),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_sorts_keys() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": [true, {"d": null, "c": "x"}]})),
            r#"{"a":[true,{"c":"x","d":null}],"b":1}"#
        );
    }

    #[test]
    fn hash_is_stable_and_short() {
        let a = content_hash(&json!({"x": 1, "y": 2}));
        let b = content_hash(&json!({"y": 2, "x": 1}));
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn base64_url_matches_known_values() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn quantities() {
        assert_eq!(compare_quantities("1Gi", "1024Mi"), Some(Ordering::Equal));
        assert_eq!(compare_quantities("10Gi", "20Gi"), Some(Ordering::Less));
        assert_eq!(compare_quantities("500m", "1"), Some(Ordering::Less));
        assert_eq!(compare_quantities("x", "1"), None);
    }

    #[test]
    fn subset_ignores_server_fields() {
        let desired = json!({"spec": {"a": 1, "list": [{"name": "x", "storage": "1Gi"}]}});
        let live = json!({"spec": {"a": 1, "b": 2, "list": [{"name": "x", "storage": "1024Mi", "mode": "F"}]}, "status": {}});
        assert!(is_subset(&desired, &live));
        let changed = json!({"spec": {"a": 2}});
        assert!(!is_subset(&changed, &live));
        let longer = json!({"spec": {"list": [{"name": "x"}, {"name": "y"}]}});
        assert!(!is_subset(&longer, &live));
    }
}
