//! Small value types of the model: names, sizes, cron expressions, images, hosts, GitHub selectors.
//!
//! Each type deserializes from any string so that loading never stops at the first bad value;
//! [`crate::validate`] then checks every value and reports *all* problems with their location.
//! Every type offers a `check` function returning what is wrong and what is allowed.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $pattern:expr, $descr:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The value as written in the model.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut s = schemars::json_schema!({ "type": "string", "description": $descr });
                if let Some(p) = $pattern {
                    s.insert("pattern".into(), serde_json::Value::String(String::from(p)));
                }
                s
            }
        }
    };
}

string_newtype!(
    /// A DNS-1123 label: lowercase letters, digits and '-', starting and ending with an alphanumeric,
    /// at most 63 characters. Used for every name that ends up in a Kubernetes object name.
    Name,
    Some("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    "DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters"
);
string_newtype!(
    /// A PostgreSQL database name as DevStats uses it: lowercase letters, digits and '_', starting with a letter.
    DbName,
    Some("^[a-z][a-z0-9_]*$"),
    "PostgreSQL database name: lowercase letters, digits and '_', starting with a letter, at most 63 characters"
);
string_newtype!(
    /// A Kubernetes resource quantity such as `3Gi`, `500m` or `23000Gi`.
    Quantity,
    None::<&str>,
    "Kubernetes quantity, e.g. 3Gi, 512Mi, 1000m, 2"
);
string_newtype!(
    /// A standard 5-field cron expression (minute hour day-of-month month day-of-week), as CronJob accepts.
    CronSchedule,
    None::<&str>,
    "5-field cron expression, e.g. '4 0,6,12,18 * * *'"
);
string_newtype!(
    /// A container image reference: `registry/repo[:tag][@sha256:digest]`.
    ImageRef,
    None::<&str>,
    "container image reference, e.g. lukaszgryglicki/devstats-grafana:v1.2 or repo@sha256:..."
);
string_newtype!(
    /// A fully qualified DNS host name (DNS-1123 subdomain), e.g. `devstats.cncf.io`.
    Hostname,
    None::<&str>,
    "DNS host name, e.g. devstats.cncf.io"
);
string_newtype!(
    /// A GitHub `org/repo` name.
    RepoName,
    Some("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"),
    "GitHub repository as org/repo"
);
string_newtype!(
    /// A PostgreSQL size setting such as `500GB`, `8GB`, `512kB`.
    PgSize,
    Some("^[0-9]+(kB|MB|GB|TB)?$"),
    "PostgreSQL size, e.g. 500GB, 8MB"
);
string_newtype!(
    /// A PostgreSQL duration setting such as `120s`, `30min`.
    PgDuration,
    Some("^[0-9]+(us|ms|s|min|h|d)?$"),
    "PostgreSQL duration, e.g. 120s, 30min"
);
string_newtype!(
    /// DevStats `GHA2DB_MAX_RUN_DURATION` limits: comma-separated `tool:duration:exitcode`,
    /// e.g. `annotations:1h:102,calc_metric:48h:102`.
    RunLimits,
    None::<&str>,
    "comma-separated tool:duration:exitcode entries, e.g. annotations:1h:102,calc_metric:48h:102"
);

/// Checks a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63 chars).
pub fn check_dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!("is {} characters long; at most 63 are allowed", s.len()));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may contain only lowercase letters a-z, digits 0-9 and '-'".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain (dot-separated labels, ≤ 253 chars).
pub fn check_hostname(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!("is {} characters long; at most 253 are allowed", s.len()));
    }
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    for label in s.split('.') {
        check_dns_label(label).map_err(|e| format!("label '{label}' {e}"))?;
    }
    Ok(())
}

impl Name {
    /// Validates the name as a DNS-1123 label.
    pub fn check(&self) -> Result<(), String> {
        check_dns_label(&self.0)
    }
}

impl Hostname {
    /// Validates the host name as a DNS-1123 subdomain.
    pub fn check(&self) -> Result<(), String> {
        check_hostname(&self.0)
    }
}

impl DbName {
    /// Validates the database name.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.0;
        if s.is_empty() || s.len() > 63 {
            return Err("must be 1 to 63 characters long".into());
        }
        let mut bytes = s.bytes();
        if !bytes.next().is_some_and(|b| b.is_ascii_lowercase()) {
            return Err("must start with a lowercase letter".into());
        }
        if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err("may contain only lowercase letters, digits and '_'".into());
        }
        Ok(())
    }
}

impl RepoName {
    /// Validates `org/repo`.
    pub fn check(&self) -> Result<(), String> {
        check_repo(&self.0)
    }
}

fn is_github_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Checks a GitHub organisation (or user) name.
pub fn check_org(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 100 {
        return Err("must be 1 to 100 characters long".into());
    }
    if !s.chars().all(is_github_name_char) {
        return Err(
            "may contain only letters, digits, '-', '_' and '.' (use 'org/repo' for a repository)".into(),
        );
    }
    Ok(())
}

/// Checks a GitHub `org/repo`.
pub fn check_repo(s: &str) -> Result<(), String> {
    match s.split_once('/') {
        Some((org, repo)) if !repo.contains('/') => {
            check_org(org).map_err(|e| format!("organisation part {e}"))?;
            if repo.is_empty() || !repo.chars().all(is_github_name_char) {
                return Err("repository part may contain only letters, digits, '-', '_' and '.'".into());
            }
            Ok(())
        }
        _ => Err("must have the form 'org/repo'".into()),
    }
}

impl Quantity {
    /// Parses the quantity into bytes (memory/storage) or milli-units (cpu), scaled by 1000 for
    /// decimal-free comparison. Returns the value in "milli" units of the base unit.
    pub fn to_milli(&self) -> Result<u128, String> {
        parse_quantity(&self.0)
    }

    /// Validates the quantity syntax (Kubernetes `resource.Quantity`, no exponent forms).
    pub fn check(&self) -> Result<(), String> {
        self.to_milli().map(|_| ())
    }

    /// Validates that the quantity is a positive size.
    pub fn check_positive(&self) -> Result<(), String> {
        match self.to_milli()? {
            0 => Err("must be greater than zero".into()),
            _ => Ok(()),
        }
    }
}

const QUANTITY_HELP: &str =
    "expected a number with an optional suffix: Ki, Mi, Gi, Ti, Pi, Ei, m, k, M, G, T, P, E (e.g. 3Gi, 500m)";

/// Parses a Kubernetes quantity into thousandths of its base unit.
pub fn parse_quantity(s: &str) -> Result<u128, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1 {
        return Err(format!("'{s}' is not a quantity: {QUANTITY_HELP}"));
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    if int_part.len() > 20 || frac_part.len() > 3 {
        return Err(format!("'{s}' has too many digits"));
    }
    let int: u128 = int_part
        .parse()
        .map_err(|_| format!("'{s}' is not a quantity: {QUANTITY_HELP}"))?;
    let mut frac: u128 = 0;
    for (i, d) in frac_part.bytes().enumerate() {
        frac += u128::from(d - b'0') * 10u128.pow(2 - i as u32);
    }
    let milli_value = int * 1000 + frac;
    let mult: u128 = match suffix {
        "" => 1000,
        "m" => 1,
        "k" => 1000 * 1000,
        "M" => 1000 * 1_000_000,
        "G" => 1000 * 1_000_000_000,
        "T" => 1000 * 1_000_000_000_000,
        "P" => 1000 * 1_000_000_000_000_000,
        "E" => 1000 * 1_000_000_000_000_000_000,
        "Ki" => 1000 << 10,
        "Mi" => 1000 << 20,
        "Gi" => 1000 << 30,
        "Ti" => 1000 << 40,
        "Pi" => 1000 << 50,
        "Ei" => 1000 << 60,
        _ => return Err(format!("'{s}' has an unknown suffix '{suffix}': {QUANTITY_HELP}")),
    };
    milli_value
        .checked_mul(mult)
        .map(|v| v / 1000)
        .ok_or_else(|| format!("'{s}' is too large"))
}

impl CronSchedule {
    /// Validates a 5-field cron expression (numbers, ranges, lists, steps, `*`, month/day names).
    pub fn check(&self) -> Result<(), String> {
        check_cron(&self.0)
    }
}

/// Checks a standard 5-field cron expression like the Kubernetes CronJob controller accepts.
pub fn check_cron(s: &str) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let trimmed = s.trim();
    if trimmed.starts_with('@') {
        return match trimmed {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => Err(format!(
                "'{s}' is not a known macro (@hourly, @daily, @weekly, @monthly, @yearly)"
            )),
        };
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "'{s}' has {} fields; a cron expression has 5: minute hour day-of-month month day-of-week",
            fields.len()
        ));
    }
    for (field, (fname, lo, hi)) in fields.iter().zip(FIELDS) {
        let names: &[&str] = match fname {
            "month" => &MONTHS,
            "day-of-week" => &DAYS,
            _ => &[],
        };
        let value = |v: &str| -> Result<u32, String> {
            if let Some(pos) = names.iter().position(|n| v.eq_ignore_ascii_case(n)) {
                return Ok(pos as u32 + if fname == "month" { 1 } else { 0 });
            }
            let n: u32 = v.parse().map_err(|_| format!("{fname} '{v}' is not a number"))?;
            if n < lo || n > hi {
                return Err(format!("{fname} {n} is out of range {lo}-{hi}"));
            }
            Ok(n)
        };
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, st)) => {
                    let st: u32 = st
                        .parse()
                        .map_err(|_| format!("{fname} step '{st}' is not a number"))?;
                    if st == 0 {
                        return Err(format!("{fname} step must be at least 1"));
                    }
                    (r, Some(st))
                }
                None => (item, None),
            };
            if range == "*" || range == "?" {
                continue;
            }
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(format!("{fname} range {a}-{b} is reversed"));
                    }
                }
                None => {
                    value(range)?;
                    let _ = step;
                }
            }
        }
    }
    Ok(())
}

/// How an image reference is pinned ([`ImageRef::pin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImagePin {
    /// No tag, or `:latest`: whatever the registry serves when a pod starts.
    Latest,
    /// A tag other than `latest` (the registry may still move it).
    Tag,
    /// A digest (`@sha256:…`): one image, forever.
    Digest,
}

impl ImageRef {
    /// Validates an image reference (no whitespace, lowercase repository path, optional tag/digest).
    pub fn check(&self) -> Result<(), String> {
        let s = &self.0;
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().any(char::is_whitespace) {
            return Err("must not contain whitespace".into());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (s.as_str(), None),
        };
        if let Some(d) = digest {
            let ok = d.split_once(':').is_some_and(|(alg, hex)| {
                !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !ok {
                return Err(format!("digest '{d}' must look like sha256:<64 hex digits>"));
            }
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && (t.is_empty()
                || t.len() > 128
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(format!(
                "tag '{t}' may contain only letters, digits, '_', '.', '-' (≤128)"
            ));
        }
        if repo.is_empty() || repo.starts_with('/') || repo.ends_with('/') {
            return Err("repository path must not be empty or start/end with '/'".into());
        }
        let first = repo.split('/').next().unwrap_or_default();
        let has_registry =
            repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
        for (i, comp) in repo.split('/').enumerate() {
            if i == 0 && has_registry {
                continue;
            }
            if comp.is_empty()
                || !comp
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
            {
                return Err(format!(
                    "repository component '{comp}' may contain only lowercase letters, digits, '_', '.', '-'"
                ));
            }
        }
        Ok(())
    }

    /// How firmly the reference names one image: by digest (immutable), by tag (mutable: the
    /// registry may move it), or not at all (no tag, or `:latest`).
    #[must_use]
    pub fn pin(&self) -> ImagePin {
        if self.0.contains('@') {
            ImagePin::Digest
        } else if self.is_pinned() {
            ImagePin::Tag
        } else {
            ImagePin::Latest
        }
    }

    /// True when the reference carries an explicit tag or digest (not an implicit `:latest`).
    #[must_use]
    pub fn is_pinned(&self) -> bool {
        let s = &self.0;
        if s.contains('@') {
            return true;
        }
        let last = s.rsplit('/').next().unwrap_or(s);
        last.split_once(':').is_some_and(|(_, tag)| tag != "latest")
    }
}

impl RunLimits {
    /// Validates `tool:duration:exitcode[,...]`.
    pub fn check(&self) -> Result<(), String> {
        for item in self.0.split(',') {
            let parts: Vec<&str> = item.split(':').collect();
            let [tool, dur, code] = parts.as_slice() else {
                return Err(format!(
                    "entry '{item}' must have the form tool:duration:exitcode, e.g. gha2db:120h:102"
                ));
            };
            if tool.is_empty() || !tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "tool name '{tool}' may contain only letters, digits and '_'"
                ));
            }
            let split = dur.find(|c: char| !c.is_ascii_digit()).unwrap_or(dur.len());
            let (n, unit) = dur.split_at(split);
            if n.is_empty() || !matches!(unit, "s" | "m" | "h") {
                return Err(format!(
                    "duration '{dur}' must be a whole number followed by s, m or h"
                ));
            }
            if code.parse::<u8>().is_err() {
                return Err(format!("exit code '{code}' must be a number 0-255"));
            }
        }
        Ok(())
    }
}

impl PgSize {
    /// Validates a PostgreSQL size.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.0;
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        if n.is_empty() || !matches!(unit, "" | "B" | "kB" | "MB" | "GB" | "TB") {
            return Err(format!(
                "'{s}' must be a whole number with an optional unit kB, MB, GB or TB"
            ));
        }
        Ok(())
    }
}

impl PgDuration {
    /// Validates a PostgreSQL duration.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.0;
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        if n.is_empty() || !matches!(unit, "" | "us" | "ms" | "s" | "min" | "h" | "d") {
            return Err(format!(
                "'{s}' must be a whole number with an optional unit us, ms, s, min, h or d"
            ));
        }
        Ok(())
    }
}

/// CPU and memory of one kind of pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// Guaranteed amounts.
    pub requests: CpuMemory,
    /// Upper bounds.
    pub limits: CpuMemory,
}

/// A CPU and memory pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU, e.g. `1000m`.
    pub cpu: Quantity,
    /// Memory, e.g. `4Gi`.
    pub memory: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("1000m"), Ok(1000));
        assert_eq!(parse_quantity("1"), Ok(1000));
        // Thousandths of a byte: 3 GiB.
        assert_eq!(parse_quantity("3Gi"), Ok(3 * (1 << 30) * 1000));
        assert!(parse_quantity("3GB").is_err());
        assert!(parse_quantity("").is_err());
        assert!(parse_quantity("Gi").is_err());
        assert!(parse_quantity("1.5.2").is_err());
        assert_eq!(parse_quantity("1.5k"), Ok(1_500_000));
        assert!(parse_quantity("99999999999999999999999999Ei").is_err());
    }

    #[test]
    fn crons() {
        assert!(check_cron("4 0,6,12,18 * * *").is_ok());
        assert!(check_cron("0 20 28 * *").is_ok());
        assert!(check_cron("*/5 * * * mon-fri").is_ok());
        assert!(check_cron("60 * * * *").is_err());
        assert!(check_cron("* * * *").is_err());
        assert!(check_cron("5 4 * * 8").is_err());
        assert!(check_cron("@hourly").is_ok());
    }

    #[test]
    fn images() {
        assert!(ImageRef::from("lukaszgryglicki/devstats-grafana").check().is_ok());
        assert!(ImageRef::from("ghcr.io/cncf/devstats:1.2.3").check().is_ok());
        assert!(ImageRef::from("localhost:5000/x/y:tag").check().is_ok());
        assert!(ImageRef::from("Bad/Image").check().is_err());
        assert!(!ImageRef::from("a/b").is_pinned());
        assert!(!ImageRef::from("a/b:latest").is_pinned());
        assert!(ImageRef::from("a/b:v1").is_pinned());
        assert!(ImageRef::from("localhost:5000/b").check().is_ok());
    }

    #[test]
    fn names() {
        assert!(check_dns_label("devstats-prod").is_ok());
        assert!(check_dns_label("Devstats").is_err());
        assert!(check_dns_label("-a").is_err());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
        assert!(check_hostname("k8s.devstats.cncf.io").is_ok());
        assert!(check_hostname("k8s..io").is_err());
        assert!(check_repo("kubernetes/kubernetes").is_ok());
        assert!(check_repo("kubernetes").is_err());
        assert!(check_repo("a/b/c").is_err());
    }
}
