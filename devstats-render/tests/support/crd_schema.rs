//! Validation of custom resources against their `CustomResourceDefinition`, vendored verbatim
//! under `fixtures/crds/` (`fixtures/crds/SOURCES.md` names where each came from).
//!
//! [`load`] reads whole CRDs (`spec.group`, `spec.names.kind/plural`, every `spec.versions[]`
//! with `served` and `schema.openAPIV3Schema`); [`Crds::lookup`] finds the schema of an
//! `apiVersion` + `kind`, and fails for a version the CRD does not define or does not serve.
//!
//! [`Validator::validate`] follows what the API server does on create with a structural schema,
//! under strict field validation (`kubectl apply --validate=strict`, server-side apply):
//! - defaults (`default`) are applied first, as the API server does when it decodes a request;
//! - a field the schema does not declare is an error, unless the object's schema says
//!   `x-kubernetes-preserve-unknown-fields: true` or gives `additionalProperties` (a map). The
//!   API server would prune it silently; an error keeps the test strict. The root `metadata` is
//!   ObjectMeta (not checked here), and so is the `metadata` of an
//!   `x-kubernetes-embedded-resource` (whose `apiVersion` and `kind` are required strings);
//! - `type` (with `nullable`; a `null` for a non-nullable field is an error, where the API
//!   server would prune it), `x-kubernetes-int-or-string`, `enum`, `required`, `pattern`,
//!   `minLength`/`maxLength`, `minimum`/`maximum` with `exclusiveMinimum`/`exclusiveMaximum`,
//!   `multipleOf`, `minItems`/`maxItems`, `minProperties`/`maxProperties`,
//!   `x-kubernetes-list-type: set|map` uniqueness (by `x-kubernetes-list-map-keys`), and the
//!   value validations `allOf`, `anyOf`, `oneOf`, `not` (whose sub-schemas never declare fields,
//!   so they do not check unknown ones);
//! - `format` for strings the API server checks: `byte`, `date-time`, `date`, `ipv4`, `ipv6`,
//!   `uuid`. Skipped, as the API server does: `int32`/`int64` (not range-checked by the API
//!   server), and formats it does not know (`string`, `url`);
//! - CEL `x-kubernetes-validations`, evaluated with the `cel` crate (cel-rust) on the defaulted
//!   value, with the API server's CEL typing of the schema: objects with properties are
//!   objects whose property names are escaped as the API server does (`namespace` is
//!   `__namespace__`, `-` is `__dash__`, ...), maps are maps, `type: number` is a double. A rule
//!   is evaluated where its schema node has a value. A false rule is an error with its
//!   `message`, and so is an evaluation error of the rule (as in the API server, e.g. a field
//!   read without `has()`). Not evaluated, and counted in [`CelStats`]: transition rules
//!   (`oldSelf`: never run on create), rules the `cel` crate cannot compile, and rules whose
//!   evaluation hits a function or overload the crate does not have.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

/// The vendored CRDs.
pub fn crds_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/crds"))
}

/// One version of a CRD.
#[derive(Debug, Clone)]
pub struct CrdVersion {
    /// `served`.
    pub served: bool,
    /// `schema.openAPIV3Schema`.
    pub schema: Value,
}

/// One vendored CRD.
#[derive(Debug, Clone)]
pub struct Crd {
    /// File name, e.g. `canaries.flagger.app.yaml`.
    pub file: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.group`.
    pub group: String,
    /// `spec.names.kind`.
    pub kind: String,
    /// `spec.names.plural`.
    pub plural: String,
    /// `spec.versions[]` by name.
    pub versions: BTreeMap<String, CrdVersion>,
}

/// The vendored CRDs by (group, kind).
#[derive(Debug, Clone)]
pub struct Crds(pub BTreeMap<(String, String), Crd>);

impl Crds {
    /// The CRD and the schema of `api_version` (`group/version`) `kind`, or why there is none.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Result<(&Crd, &Value), String> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let crd = self.0.get(&(group.to_owned(), kind.to_owned())).ok_or_else(|| {
            format!("no CRD for {api_version} {kind} under fixtures/crds/ (vendor it, see SOURCES.md)")
        })?;
        match crd.versions.get(version) {
            Some(v) if v.served => Ok((crd, &v.schema)),
            Some(_) => Err(format!(
                "{api_version} {kind}: version {version} is not served by the CRD ({})",
                crd.file
            )),
            None => Err(format!(
                "{api_version} {kind}: the CRD has no version {version}, only {} ({})",
                crd.versions.keys().cloned().collect::<Vec<_>>().join(", "),
                crd.file
            )),
        }
    }
}

/// Every CRD of `dir` (`*.yaml`). Panics on a malformed file or a duplicate.
pub fn load(dir: &Path) -> Crds {
    let mut out = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc = parse_crd(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name")
            .to_owned();
        let str_at = |pointer: &str| {
            doc.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{file}: no `{pointer}`"))
                .to_owned()
        };
        assert_eq!(
            (str_at("/apiVersion").as_str(), str_at("/kind").as_str()),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            "{file}: not a CustomResourceDefinition"
        );
        let mut versions = BTreeMap::new();
        for v in doc["spec"]["versions"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no spec.versions"))
        {
            let name = v["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: a version without a name"));
            let schema = v["schema"]["openAPIV3Schema"].clone();
            assert!(
                schema.is_object(),
                "{file}: version {name} has no openAPIV3Schema"
            );
            let version = CrdVersion {
                served: v["served"].as_bool().unwrap_or(false),
                schema,
            };
            assert!(
                versions.insert(name.to_owned(), version).is_none(),
                "{file}: version {name} twice"
            );
        }
        let crd = Crd {
            name: str_at("/metadata/name"),
            group: str_at("/spec/group"),
            kind: str_at("/spec/names/kind"),
            plural: str_at("/spec/names/plural"),
            versions,
            file,
        };
        let key = (crd.group.clone(), crd.kind.clone());
        if let Some(old) = out.insert(key, crd) {
            panic!(
                "{} and another file both define {} {}",
                old.file, old.group, old.kind
            );
        }
    }
    Crds(out)
}

/// The YAML document of a CRD file, as JSON.
///
/// Upstream CRDs are written for go-yaml (libyaml), which accepts continuation lines of a
/// multi-line quoted scalar at the indentation of its key, as Flagger's
/// `description: '...'` lines are. serde-saphyr follows YAML 1.2 (`s-flow-line-prefix`) and
/// rejects them, so [`indent_quoted_continuations`] indents those lines first: leading
/// white space of a continuation line is not part of a flow scalar's value, so the value read
/// is the one the API server reads.
pub fn parse_crd(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(&indent_quoted_continuations(text)).map_err(|e| e.to_string())
}

/// `text` with every continuation line of a multi-line quoted block-mapping value that is not
/// indented past its key indented two columns past it; other lines as they are.
pub fn indent_quoted_continuations(text: &str) -> String {
    /// Whether a quoted scalar opened with `quote` is still open after `rest`.
    fn still_open(rest: &str, quote: char) -> bool {
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match (quote, c) {
                ('\'', '\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                }
                ('"', '\\') => {
                    chars.next();
                }
                (q, c) if q == c => return false,
                _ => {}
            }
        }
        true
    }
    let mut out = String::with_capacity(text.len() + 64);
    // (indentation of the key, quote) of the quoted scalar being read.
    let mut open: Option<(usize, char)> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        match open {
            Some((key_indent, quote)) => {
                if indent <= key_indent && !content.trim().is_empty() {
                    out.push_str(&" ".repeat(key_indent + 2));
                    out.push_str(content);
                } else {
                    out.push_str(line);
                }
                if !still_open(content, quote) {
                    open = None;
                }
            }
            None => {
                out.push_str(line);
                // `key: 'text...` or `- key: "text...` whose quote does not close on the line.
                let item = content.strip_prefix("- ").unwrap_or(content);
                let key_indent = indent + (content.len() - item.len());
                if !item.starts_with(['\'', '"', '#'])
                    && let Some((_, value)) = item.split_once(": ")
                    && let Some(quote) = value.chars().next().filter(|c| matches!(c, '\'' | '"'))
                    && still_open(&value[1..], quote)
                {
                    open = Some((key_indent, quote));
                }
            }
        }
    }
    out
}

/// Every `x-kubernetes-validations` rule of a schema, with the schema path it sits at.
pub fn rules_of(schema: &Value) -> Vec<(String, String)> {
    fn walk(s: &Value, path: &str, out: &mut Vec<(String, String)>) {
        let Some(m) = s.as_object() else { return };
        for r in m
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(rule) = r["rule"].as_str() {
                out.push((at(path).to_owned(), rule.to_owned()));
            }
        }
        if let Some(p) = m.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                walk(v, &format!("{path}.{k}"), out);
            }
        }
        if let Some(i) = m.get("items") {
            walk(i, &format!("{path}[*]"), out);
        }
        if let Some(a) = m.get("additionalProperties") {
            walk(a, &format!("{path}[*]"), out);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in m.get(key).and_then(Value::as_array).into_iter().flatten() {
                walk(sub, path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, "", &mut out);
    out
}

/// What became of the CEL rules met while validating.
#[derive(Debug, Clone, Default)]
pub struct CelStats {
    /// Evaluations (a rule of a list item counts once per item).
    pub evaluations: usize,
    /// Distinct rules evaluated at least once.
    pub evaluated: BTreeSet<String>,
    /// Rules met but not evaluated, with why (transition rule, does not compile, unsupported
    /// function).
    pub skipped: BTreeMap<String, String>,
}

impl CelStats {
    /// Adds `other` to `self`.
    pub fn merge(&mut self, other: &CelStats) {
        self.evaluations += other.evaluations;
        self.evaluated.extend(other.evaluated.iter().cloned());
        self.skipped
            .extend(other.skipped.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// Whether `rule` is a transition rule (reads `oldSelf`, never evaluated on create).
fn transition(rule: &str) -> bool {
    cel_identifiers(rule).any(|i| i == "oldSelf")
}

fn cel_identifiers(rule: &str) -> impl Iterator<Item = &str> {
    rule.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
}

/// A schema validator with its caches (compiled patterns and CEL programs).
pub struct Validator {
    env: Arc<cel::Env>,
    programs: RefCell<BTreeMap<String, Result<Arc<cel::Program>, String>>>,
    patterns: RefCell<BTreeMap<String, Result<regex::Regex, String>>>,
    stats: RefCell<CelStats>,
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// The standard CEL library plus the strings extension, as the API server has.
    pub fn new() -> Self {
        let mut env = cel::Env::stdlib();
        cel::extensions::strings(&mut env).expect("the strings extension registers");
        Self {
            env: Arc::new(env),
            programs: RefCell::default(),
            patterns: RefCell::default(),
            stats: RefCell::default(),
        }
    }

    /// The CEL rules met since the last call, and resets them.
    pub fn take_stats(&self) -> CelStats {
        std::mem::take(&mut *self.stats.borrow_mut())
    }

    /// The compiled program of `rule`, or why it cannot be evaluated.
    pub fn program(&self, rule: &str) -> Result<Arc<cel::Program>, String> {
        self.programs
            .borrow_mut()
            .entry(rule.to_owned())
            .or_insert_with(|| {
                if transition(rule) {
                    return Err("transition rule (oldSelf), not run on create".to_owned());
                }
                self.env
                    .compile(rule)
                    .map(Arc::new)
                    .map_err(|e| format!("does not compile: {e}"))
            })
            .clone()
    }

    /// Problems of `value` against `schema` (empty: valid), `value` defaulted first. Paths are
    /// JSONPath-like (`.spec.x[0]`).
    pub fn validate(&self, value: &Value, schema: &Value) -> Vec<String> {
        let mut value = value.clone();
        apply_defaults(&mut value, schema);
        let mut errors = Vec::new();
        self.check(&value, schema, "", true, true, &mut errors);
        errors
    }

    fn pattern_matches(&self, pattern: &str, text: &str) -> Result<bool, String> {
        let mut cache = self.patterns.borrow_mut();
        let re = cache
            .entry(pattern.to_owned())
            .or_insert_with(|| regex::Regex::new(pattern).map_err(|e| e.to_string()));
        match re {
            Ok(re) => Ok(re.is_match(text)),
            Err(e) => Err(e.clone()),
        }
    }

    /// `structural`: the schema declares fields (false inside allOf/anyOf/oneOf/not, whose
    /// sub-schemas only constrain values).
    fn check(
        &self,
        value: &Value,
        schema: &Value,
        path: &str,
        structural: bool,
        root: bool,
        errors: &mut Vec<String>,
    ) {
        let Some(s) = schema.as_object() else {
            errors.push(format!("{}: malformed schema", at(path)));
            return;
        };
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let embedded = flag("x-kubernetes-embedded-resource");

        if value.is_null() && flag("nullable") {
            return;
        }
        if flag("x-kubernetes-int-or-string") {
            if !matches!(type_name(value), "integer" | "string") {
                errors.push(format!(
                    "{}: expected an integer or a string, got {}",
                    at(path),
                    type_name(value)
                ));
            }
        } else if let Some(t) = s.get("type").and_then(Value::as_str) {
            let actual = type_name(value);
            let ok = actual == t || (t == "number" && actual == "integer");
            if !ok {
                errors.push(format!("{}: expected {t}, got {actual}", at(path)));
                return;
            }
        }

        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| a == value)
        {
            errors.push(format!(
                "{}: {value} is not one of {}",
                at(path),
                Value::Array(allowed.clone())
            ));
        }

        match value {
            Value::String(text) => self.check_string(text, s, path, errors),
            Value::Number(n) => check_number(n, s, path, errors),
            Value::Array(items) => self.check_array(items, s, path, structural, errors),
            Value::Object(fields) => {
                if let Some(required) = s.get("required").and_then(Value::as_array) {
                    for r in required.iter().filter_map(Value::as_str) {
                        if !fields.contains_key(r) {
                            errors.push(format!("{}: required field `{r}` is missing", at(path)));
                        }
                    }
                }
                check_count(fields.len(), s, "Properties", "properties", path, errors);
                if embedded {
                    for k in ["apiVersion", "kind"] {
                        match fields.get(k) {
                            Some(Value::String(_)) => {}
                            Some(v) => {
                                errors.push(format!("{path}.{k}: expected string, got {}", type_name(v)))
                            }
                            None => errors.push(format!(
                                "{}: required field `{k}` of an embedded resource is missing",
                                at(path)
                            )),
                        }
                    }
                }
                let properties = s.get("properties").and_then(Value::as_object);
                let additional = s.get("additionalProperties");
                for (k, v) in fields {
                    let sub = format!("{path}.{k}");
                    if (root || embedded) && k == "metadata" {
                        // Validated by the API server as ObjectMeta (ours is k8s-openapi's).
                        if !v.is_object() {
                            errors.push(format!("{sub}: expected object, got {}", type_name(v)));
                        }
                        continue;
                    }
                    if embedded
                        && (k == "apiVersion" || k == "kind")
                        && !properties.is_some_and(|p| p.contains_key(k))
                    {
                        continue;
                    }
                    if let Some(p) = properties.and_then(|p| p.get(k)) {
                        self.check(v, p, &sub, structural, false, errors);
                    } else if let Some(a) = additional.filter(|a| a.is_object()) {
                        self.check(v, a, &sub, structural, false, errors);
                    } else if structural && !preserve && additional != Some(&Value::Bool(true)) {
                        errors.push(format!("{sub}: unknown field (not in the schema)"));
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }

        // Value validations: sub-schemas constrain values, they do not declare fields.
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(value, sub, path, false, false, errors);
            }
        }
        let passes = |sub: &Value| {
            let mut e = Vec::new();
            self.check(value, sub, path, false, false, &mut e);
            e.is_empty()
        };
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(passes)
        {
            errors.push(format!(
                "{}: matches none of anyOf {}",
                at(path),
                Value::Array(any.clone())
            ));
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let n = one.iter().filter(|sub| passes(sub)).count();
            if n != 1 {
                errors.push(format!(
                    "{}: matches {n} of oneOf {} (exactly one required)",
                    at(path),
                    Value::Array(one.clone())
                ));
            }
        }
        if let Some(not) = s.get("not")
            && passes(not)
        {
            errors.push(format!("{}: matches the forbidden schema {not}", at(path)));
        }

        if structural && let Some(rules) = s.get("x-kubernetes-validations").and_then(Value::as_array) {
            self.check_rules(value, schema, rules, path, errors);
        }
    }

    fn check_string(&self, text: &str, s: &Map<String, Value>, path: &str, errors: &mut Vec<String>) {
        check_count(text.chars().count(), s, "Length", "characters", path, errors);
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            match self.pattern_matches(p, text) {
                Ok(true) => {}
                Ok(false) => errors.push(format!("{}: {text:?} does not match {p}", at(path))),
                Err(e) => errors.push(format!("{}: schema pattern {p} does not compile: {e}", at(path))),
            }
        }
        if let Some(f) = s.get("format").and_then(Value::as_str)
            && let Some(false) = self.format_ok(f, text)
        {
            errors.push(format!("{}: {text:?} is not a valid {f}", at(path)));
        }
    }

    /// Whether `text` has `format`; `None` for a format not checked (see the module docs).
    fn format_ok(&self, format: &str, text: &str) -> Option<bool> {
        let re = |p: &str| self.pattern_matches(p, text).unwrap_or(false);
        Some(match format {
            "byte" => re(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
            "date-time" | "datetime" => {
                re(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            }
            "date" => re(r"^\d{4}-\d{2}-\d{2}$"),
            "ipv4" => text.parse::<Ipv4Addr>().is_ok(),
            "ipv6" => text.parse::<Ipv6Addr>().is_ok(),
            "uuid" => re(r"^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
            _ => return None,
        })
    }

    fn check_array(
        &self,
        items: &[Value],
        s: &Map<String, Value>,
        path: &str,
        structural: bool,
        errors: &mut Vec<String>,
    ) {
        check_count(items.len(), s, "Items", "items", path, errors);
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(
                    item,
                    item_schema,
                    &format!("{path}[{i}]"),
                    structural,
                    false,
                    errors,
                );
            }
        }
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                let mut seen = BTreeSet::new();
                for item in items {
                    if !seen.insert(item.to_string()) {
                        errors.push(format!("{}: duplicate set item {item}", at(path)));
                    }
                }
            }
            Some("map") => {
                let keys: Vec<&str> = s
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut seen = BTreeSet::new();
                for item in items {
                    let key: Vec<String> = keys.iter().map(|k| item[*k].to_string()).collect();
                    if !seen.insert(key.clone()) {
                        errors.push(format!("{}: duplicate map-list key {key:?}", at(path)));
                    }
                }
            }
            _ => {}
        }
    }

    fn check_rules(
        &self,
        value: &Value,
        schema: &Value,
        rules: &[Value],
        path: &str,
        errors: &mut Vec<String>,
    ) {
        for r in rules {
            let Some(rule) = r["rule"].as_str() else {
                errors.push(format!("{}: a validation without a rule", at(path)));
                continue;
            };
            let program = match self.program(rule) {
                Ok(p) => p,
                Err(why) => {
                    self.stats.borrow_mut().skipped.insert(rule.to_owned(), why);
                    continue;
                }
            };
            let mut context = cel::Context::with_env(Arc::clone(&self.env));
            context.add_variable_from_value("self", to_cel(value, schema));
            let message = r["message"].as_str().unwrap_or("failed rule");
            match program.execute(&context) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    errors.push(format!("{}: {message} (CEL rule {rule})", at(path)));
                }
                Ok(other) => errors.push(format!(
                    "{}: CEL rule {rule} gave {other:?}, not a bool",
                    at(path)
                )),
                Err(
                    e
                    @ (cel::ExecutionError::UndeclaredReference(_) | cel::ExecutionError::NoSuchOverload(_)),
                ) => {
                    // The API server type-checks rules when the CRD is created: a missing
                    // function or overload here is the evaluator's, not the object's.
                    self.stats
                        .borrow_mut()
                        .skipped
                        .insert(rule.to_owned(), format!("unsupported by the evaluator: {e}"));
                    continue;
                }
                Err(e) => errors.push(format!("{}: CEL rule {rule} fails to evaluate: {e}", at(path))),
            }
            let mut stats = self.stats.borrow_mut();
            stats.evaluations += 1;
            stats.evaluated.insert(rule.to_owned());
        }
    }
}

/// `min{key}`/`max{key}` (`Length`, `Items`, `Properties`) against a count of `what`.
fn check_count(
    len: usize,
    s: &Map<String, Value>,
    key: &str,
    what: &str,
    path: &str,
    errors: &mut Vec<String>,
) {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    if let Some(min) = s.get(&format!("min{key}")).and_then(Value::as_u64)
        && len < min
    {
        errors.push(format!("{}: {len} {what}, fewer than min{key} {min}", at(path)));
    }
    if let Some(max) = s.get(&format!("max{key}")).and_then(Value::as_u64)
        && len > max
    {
        errors.push(format!("{}: {len} {what}, more than max{key} {max}", at(path)));
    }
}

fn check_number(n: &serde_json::Number, s: &Map<String, Value>, path: &str, errors: &mut Vec<String>) {
    let x = n.as_f64().unwrap_or(f64::NAN);
    let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        if flag("exclusiveMinimum") && x <= min {
            errors.push(format!(
                "{}: {n} is not above the exclusive minimum {min}",
                at(path)
            ));
        } else if x < min {
            errors.push(format!("{}: {n} is below the minimum {min}", at(path)));
        }
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        if flag("exclusiveMaximum") && x >= max {
            errors.push(format!(
                "{}: {n} is not below the exclusive maximum {max}",
                at(path)
            ));
        } else if x > max {
            errors.push(format!("{}: {n} is above the maximum {max}", at(path)));
        }
    }
    if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
        && (x / m).fract() != 0.0
    {
        errors.push(format!("{}: {n} is not a multiple of {m}", at(path)));
    }
}

/// Applies the schema's `default`s to `value` where a field is absent, as the API server does
/// on decode (defaults of a defaulted value's own fields included).
pub fn apply_defaults(value: &mut Value, schema: &Value) {
    let Some(s) = schema.as_object() else { return };
    match value {
        Value::Object(fields) => {
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    if let Some(d) = p.get("default")
                        && fields
                            .get(k)
                            .is_none_or(|v| v.is_null() && !p["nullable"].as_bool().unwrap_or(false))
                    {
                        fields.insert(k.clone(), d.clone());
                    }
                }
                for (k, v) in fields.iter_mut() {
                    if let Some(p) = props.get(k) {
                        apply_defaults(v, p);
                    }
                }
            } else if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
                for v in fields.values_mut() {
                    apply_defaults(v, a);
                }
            }
        }
        Value::Array(items) => {
            if let Some(i) = s.get("items") {
                for v in items {
                    apply_defaults(v, i);
                }
            }
        }
        _ => {}
    }
}

/// CEL reserved words: properties so named are `__{word}__` in CEL (as in the API server).
const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The CEL name of a property, escaped as the API server does; `None`: not accessible.
pub fn escape_property(name: &str) -> Option<String> {
    if CEL_RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !name.chars().all(ok_char) {
        return None;
    }
    Some(
        name.replace("__", "__underscores__")
            .replace('.', "__dot__")
            .replace('-', "__dash__")
            .replace('/', "__slash__"),
    )
}

/// `value` as CEL sees it under `schema`.
#[allow(clippy::disallowed_types)] // a CEL map is a HashMap; nothing here is rendered output
fn to_cel(value: &Value, schema: &Value) -> cel::Value {
    let s = schema.as_object();
    let get = |k: &str| s.and_then(|s| s.get(k));
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            if get("type").and_then(Value::as_str) == Some("number") {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            } else if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                cel::Value::UInt(u)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(t) => cel::Value::String(Arc::new(t.clone())),
        Value::Array(items) => {
            let item = get("items").unwrap_or(&Value::Null);
            cel::Value::List(Arc::new(items.iter().map(|v| to_cel(v, item)).collect()))
        }
        Value::Object(fields) => {
            let props = get("properties").and_then(Value::as_object);
            let additional = get("additionalProperties").filter(|a| a.is_object());
            let mut map: std::collections::HashMap<cel::objects::Key, cel::Value> =
                std::collections::HashMap::new();
            for (k, v) in fields {
                if let Some(p) = props.and_then(|p| p.get(k)) {
                    if let Some(name) = escape_property(k) {
                        map.insert(name.into(), to_cel(v, p));
                    }
                } else if props.is_none() {
                    map.insert(k.clone().into(), to_cel(v, additional.unwrap_or(&Value::Null)));
                }
            }
            cel::Value::from(map)
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}
