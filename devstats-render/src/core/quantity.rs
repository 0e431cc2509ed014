//! Kubernetes resource quantities in canonical form, as the API server stores them.
//!
//! The API server parses every `resource.Quantity` and serializes it again in canonical form
//! (apimachinery `pkg/api/resource/quantity.go`, `ParseQuantity` and `CanonicalizeBytes`): `2000m`
//! is stored as `2`, `1024Mi` as `1Gi`, `0.5` as `500m`. Server-side apply compares what a manager
//! applies with what is stored *as written*, so a render that writes `2000m` over a field another
//! manager owns as `2` conflicts. Rendering the canonical form avoids that.
//!
//! What apimachinery does, and what [`canonical`] reproduces:
//!
//! - The suffix fixes the format: `Ki`…`Ei` binary SI; `n u m "" k M G T P E` decimal SI;
//!   `e<n>`/`E<n>` decimal exponent.
//! - The value is exact (no floats), rounded *away from zero* to a multiple of 10⁻⁹
//!   (`0.9n` → `1n`); a binary SI value above 2⁶³−1 is capped there.
//! - Zero is `0`.
//! - Binary SI with |value| < 1024, or a value with a fractional part, is written as decimal SI.
//! - Binary SI: the mantissa is the integer value with every factor of 1024 moved into the suffix.
//! - Decimal: every factor of 10 moves into the exponent, which then goes down to a multiple of 3
//!   (no fractional digits, exponent as large as possible); decimal SI writes the exponent as its
//!   suffix (`m`, `k`, …; beyond `E` as `e<n>`), decimal exponent as `e<n>` (none for 0).

/// The format a quantity keeps from its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    BinarySi,
    DecimalSi,
    DecimalExponent,
}

const NANO: i128 = 1_000_000_000;

/// A parsed quantity: its value in units of 10⁻⁹ and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The value × 10⁹.
    pub nanos: i128,
    format: Format,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Parses a quantity as apimachinery's `ParseQuantity` does. `None` for malformed input or a
/// value out of range of this implementation (|value| ≥ ~10²⁹).
#[must_use]
pub(crate) fn parse(s: &str) -> Option<Parsed> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.contains('.') || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let (format, base2, exp10): (Format, u32, i32) = match suffix {
        "Ki" => (Format::BinarySi, 10, 0),
        "Mi" => (Format::BinarySi, 20, 0),
        "Gi" => (Format::BinarySi, 30, 0),
        "Ti" => (Format::BinarySi, 40, 0),
        "Pi" => (Format::BinarySi, 50, 0),
        "Ei" => (Format::BinarySi, 60, 0),
        "n" => (Format::DecimalSi, 0, -9),
        "u" => (Format::DecimalSi, 0, -6),
        "m" => (Format::DecimalSi, 0, -3),
        "" => (Format::DecimalSi, 0, 0),
        "k" => (Format::DecimalSi, 0, 3),
        "M" => (Format::DecimalSi, 0, 6),
        "G" => (Format::DecimalSi, 0, 9),
        "T" => (Format::DecimalSi, 0, 12),
        "P" => (Format::DecimalSi, 0, 15),
        "E" => (Format::DecimalSi, 0, 18),
        e if e.starts_with(['e', 'E']) => {
            let n = &e[1..];
            let digits = n.strip_prefix(['+', '-']).unwrap_or(n);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (Format::DecimalExponent, 0, n.parse().ok()?)
        }
        _ => return None,
    };
    // digits × 10^(exp10 − len(frac)) × 2^base2, in nanos, rounded away from zero.
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mantissa = mantissa.checked_mul(1i128.checked_shl(base2)?)?;
    let exp = exp10
        .checked_sub(i32::try_from(frac.len()).ok()?)?
        .checked_add(9)?;
    let mut nanos = if exp >= 0 {
        mantissa.checked_mul(pow10(exp.unsigned_abs())?)?
    } else {
        match pow10(exp.unsigned_abs()) {
            Some(d) => {
                let q = mantissa / d;
                if mantissa % d == 0 { q } else { q + 1 }
            }
            None => i128::from(mantissa != 0),
        }
    };
    let cap = i128::from(i64::MAX) * NANO;
    if format == Format::BinarySi && nanos > cap {
        nanos = cap;
    }
    if negative {
        nanos = -nanos;
    }
    Some(Parsed { nanos, format })
}

impl Parsed {
    /// The canonical text (`Quantity.String()`).
    #[must_use]
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0) {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut m = self.nanos / NANO;
            let mut e = 0;
            while m % 1024 == 0 && e < 6 {
                m /= 1024;
                e += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][e];
            return format!("{m}{suffix}");
        }
        let mut m = self.nanos;
        let mut e: i32 = -9;
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        while e.rem_euclid(3) != 0 {
            m *= 10;
            e -= 1;
        }
        let si = match e {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        match (format, si) {
            (Format::DecimalSi, Some(s)) => format!("{m}{s}"),
            (_, _) if e == 0 => m.to_string(),
            _ => format!("{m}e{e}"),
        }
    }
}

/// The canonical form of a quantity (`2000m` → `2`, `1024Mi` → `1Gi`, `0.5` → `500m`) as the API
/// server serves it back; text that does not parse is returned unchanged (validation reports it
/// elsewhere).
///
/// One `String()` is not always a fixed point: a binary SI integer that is not a multiple of 1024
/// is written without suffix (`310187.5Ki` → `317632000`), which parses again as decimal SI and
/// reads back as `317632k`. The server stores the first text and serves the second on every read
/// (the stored object is parsed again), so this returns the form that is stable under reading.
#[must_use]
pub(crate) fn canonical(s: &str) -> String {
    let Some(once) = parse(s).map(|p| p.canonical()) else {
        return s.to_owned();
    };
    parse(&once).map_or(once, |p| p.canonical())
}

/// Writes the quantities of a JSON object in canonical form, as the API server stores them:
/// every `resources.requests`/`resources.limits` value (containers, claims) and `sizeLimit`.
pub fn canonicalize_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(res)) = m.get_mut("resources") {
                for side in ["requests", "limits"] {
                    if let Some(Value::Object(q)) = res.get_mut(side) {
                        for x in q.values_mut() {
                            if let Value::String(s) = x {
                                *s = canonical(s);
                            }
                        }
                    }
                }
            }
            if let Some(Value::String(s)) = m.get_mut("sizeLimit") {
                *s = canonical(s);
            }
            m.values_mut().for_each(canonicalize_json);
        }
        Value::Array(a) => a.iter_mut().for_each(canonicalize_json),
        _ => {}
    }
}

/// A `k8s-openapi` quantity in canonical form.
#[must_use]
pub(crate) fn quantity(s: &str) -> k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    k8s_openapi::apimachinery::pkg::api::resource::Quantity(canonical(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_examples() {
        // quantity.go: "1.5 will be serialized as 1500m", "1.5Gi will be serialized as 1536Mi";
        // "0.9n becomes 1n"; "1.2345 ... String reports it as 1234500u"; "8Ei parses as 2^63-1".
        for (input, want) in [
            ("1.5", "1500m"),
            ("1.5Gi", "1536Mi"),
            ("0.9n", "1n"),
            ("1.2345", "1234500u"),
            ("8Ei", "9223372036854775807"),
            ("2000m", "2"),
            ("1024Mi", "1Gi"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("0", "0"),
            ("0Gi", "0"),
            ("1000Mi", "1000Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1000k", "1M"),
            ("1000", "1k"),
            ("12e6", "12e6"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1000E", "1e21"),
            ("-1.5", "-1500m"),
            ("+2", "2"),
            ("1.1Gi", "1181116006400m"),
            ("100Gi", "100Gi"),
            ("23000Gi", "23000Gi"),
            ("2Ti", "2Ti"),
            ("2048Gi", "2Ti"),
            ("160000m", "160"),
            ("32000m", "32"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("0.1m", "100u"),
            // Binary, whole, no factor 1024: `317632000` once, `317632k` as read back.
            ("310187.5Ki", "317632k"),
            ("1025Ki", "1025Ki"),
            ("1.5Ki", "1536"),
        ] {
            assert_eq!(canonical(input), want, "{input}");
        }
    }

    #[test]
    fn malformed_text_is_kept() {
        for s in ["", "abc", "1.2.3", "1Xi", "1e", "."] {
            assert_eq!(canonical(s), s);
            assert!(parse(s).is_none(), "{s}");
        }
    }

    fn quantities() -> impl Strategy<Value = String> {
        let suffix = prop::sample::select(vec![
            "", "m", "n", "u", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "e3", "e-3", "e6",
        ]);
        (0u64..5_000_000, 0u32..4, suffix, any::<bool>()).prop_map(|(n, frac, suffix, neg)| {
            let text = if frac == 0 {
                n.to_string()
            } else {
                let d = 10u64.pow(frac);
                format!("{}.{:0w$}", n / d, n % d, w = frac as usize)
            };
            format!("{}{text}{suffix}", if neg { "-" } else { "" })
        })
    }

    proptest! {
        #[test]
        fn canonical_is_idempotent_and_keeps_the_value(q in quantities()) {
            let p = parse(&q).expect("generated quantities parse");
            let c = canonical(&q);
            prop_assert_eq!(canonical(&c), c.clone());
            let again = parse(&c).expect("canonical text parses");
            prop_assert_eq!(again.nanos, p.nanos, "{} → {}", q, c);
        }
    }
}
