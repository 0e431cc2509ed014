//! Proptest strategies for generated, always-valid models (feature `testing`), shared by the
//! workspace's property tests.

use proptest::prelude::*;

use crate::{Foundation, Hostname, ImageRef, Instance, Model, Name, Project, ProjectStatus, Quantity, Role};

/// A minimal valid project.
#[must_use]
pub fn project(
    name: &str,
    order: Option<u32>,
    disk_gi: u32,
    foundations: Vec<Name>,
    archived: bool,
) -> Project {
    Project {
        name: Name::from(name),
        display_name: format!("Project {name}"),
        url: None,
        database: None,
        icon: None,
        main_repo: None,
        foundations,
        status: if archived {
            ProjectStatus::Archived
        } else {
            ProjectStatus::Active
        },
        maturity: None,
        order,
        disk: Quantity(format!("{disk_gi}Gi")),
        github: crate::GithubSelectors {
            orgs: vec![format!("{name}-org")],
            repos: vec![],
            regexps: vec![],
        },
        aliases: vec![],
        suspended: false,
        schedule: crate::ScheduleOverride::default(),
        max_history: 8,
        max_run_duration: None,
        durable_pq: true,
        no_durable: false,
        affiliations: crate::AffiliationSettings::default(),
        google_analytics: None,
    }
}

/// Two foundations, `alpha` (site `alpha`) and `beta` (site `b`).
#[must_use]
pub fn foundations() -> Vec<Foundation> {
    vec![
        Foundation {
            name: Name::from("alpha"),
            display_name: None,
            domain: Hostname::from("stats.alpha.org"),
            site: None,
            static_image: ImageRef::from("example/static-alpha:1"),
            aggregate: None,
        },
        Foundation {
            name: Name::from("beta"),
            display_name: Some("Beta Foundation".into()),
            domain: Hostname::from("stats.beta.org"),
            site: Some(Name::from("b")),
            static_image: ImageRef::from("example/static-beta:1"),
            aggregate: None,
        },
    ]
}

/// A synthetic instance with `n` active projects in `alpha` (every 7th also in `beta`).
#[must_use]
pub fn synthetic(n: usize) -> Model {
    let projects = (0..n)
        .map(|i| {
            let mut fs = vec![Name::from("alpha")];
            if i % 7 == 0 {
                fs.push(Name::from("beta"));
            }
            project(&format!("p{i:05}"), Some(i as u32), 3 + (i % 5) as u32, fs, false)
        })
        .collect();
    let mut instance = Instance::new("synthetic", "devstats-synthetic", Role::Prod, &["alpha", "beta"]);
    instance.schedules.first = None;
    instance.schedules.last = None;
    Model {
        instance,
        foundations: foundations(),
        projects,
    }
}

prop_compose! {
    /// A valid model with 1–40 projects, random foundations, order, status and role.
    pub fn arb_model()(
        names in proptest::collection::btree_set("[a-z][a-z0-9]{0,12}", 1..40),
        disks in proptest::collection::vec(1u32..500, 40),
        flags in proptest::collection::vec(any::<(bool, bool, bool)>(), 40),
        role in prop_oneof![Just(Role::Prod), Just(Role::Test)],
        replicas in 1u32..9,
    ) -> Model {
        let projects = names.iter().enumerate().map(|(i, n)| {
            let (in_beta, ordered, archived) = flags[i];
            let mut fs = vec![Name::from("alpha")];
            if in_beta { fs.push(Name::from("beta")); }
            project(n, ordered.then_some(i as u32), disks[i], fs, archived)
        }).collect();
        let mut instance = Instance::new("inst", "devstats-inst", role, &["alpha", "beta"]);
        instance.schedules.first = None;
        instance.schedules.last = None;
        instance.patroni.replicas = replicas;
        instance.storage.postgres_size = Quantity::from("100Gi");
        Model { instance, foundations: foundations(), projects }
    }
}

/// The model file `src` (e.g. `fixtures/cncf.yaml`) with its projects copied so that it holds
/// `copies` times as many, for file-level benchmarks: copy `k` (1-based; the original text is
/// copy 0 and is kept byte for byte) renames what validation requires to be unique — `name`
/// and `url` get the suffix `-x<k>`, `database` and a matching `affiliations.lockDatabase` get
/// `_x<k>`, `order` moves up by `k × 100,000`, aliases gain the label `x<k>.` — and is appended
/// to the file's `projects` list (which must be its last top-level key).
///
/// `fixtures/cncf.yaml` (283 projects) with 4, 16 and 36 copies gives 1,132, 4,528 and 10,188
/// projects. The result is not validated here; the benchmarks load it like any model file.
///
/// # Errors
///
/// When `src` is not YAML, has no `projects` list, or has a top-level key after it.
pub fn scaled_model(src: &str, copies: usize) -> Result<String, String> {
    use serde_json::Value;
    let start = if src.starts_with("projects:\n") {
        Some(0)
    } else {
        src.find("\nprojects:\n").map(|i| i + 1)
    }
    .ok_or("the file has no top-level `projects:` line")?;
    if let Some(line) = src[start..].lines().skip(1).find(|l| {
        l.chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '-' && c != '#')
    }) {
        return Err(format!(
            "`projects` must be the last top-level key; found `{line}` after it"
        ));
    }
    let doc: Value = crate::source::from_yaml(src).map_err(|e| e.to_string())?;
    let projects = doc
        .get("projects")
        .and_then(Value::as_array)
        .ok_or("`projects` is not a list")?;
    let mut extra = Vec::with_capacity(projects.len() * copies.saturating_sub(1));
    for k in 1..copies {
        for p in projects {
            extra.push(renamed(p, k)?);
        }
    }
    let mut out = String::with_capacity(src.len() * copies.max(1));
    out.push_str(src);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if !extra.is_empty() {
        out.push_str(&serde_saphyr::to_string(&extra).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Copy `k` of project `p` for [`scaled_model`].
fn renamed(p: &serde_json::Value, k: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let mut p = p.clone();
    let obj = p.as_object_mut().ok_or("a project is not a mapping")?;
    let suffix = |v: Option<&Value>, sep: char| v.and_then(Value::as_str).map(|s| format!("{s}{sep}x{k}"));
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a project has no name")?;
    let own_db = obj
        .get("database")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    let new_name = format!("{name}-x{k}");
    let new_db = obj.get("database").is_some().then(|| format!("{own_db}_x{k}"));
    obj.insert("name".into(), Value::String(new_name));
    if let Some(u) = suffix(obj.get("url"), '-') {
        obj.insert("url".into(), Value::String(u));
    }
    if let Some(db) = &new_db {
        obj.insert("database".into(), Value::String(db.clone()));
    }
    if let Some(Value::Object(aff)) = obj.get_mut("affiliations")
        && aff.get("lockDatabase").and_then(Value::as_str) == Some(own_db.as_str())
    {
        let lock = new_db.clone().unwrap_or_else(|| format!("{own_db}_x{k}"));
        aff.insert("lockDatabase".into(), Value::String(lock));
    }
    if let Some(o) = obj.get("order").and_then(Value::as_u64) {
        obj.insert("order".into(), Value::from(o + 100_000 * k as u64));
    }
    if let Some(Value::Array(aliases)) = obj.get_mut("aliases") {
        for a in aliases.iter_mut() {
            if let Some(s) = a.as_str() {
                *a = Value::String(format!("x{k}.{s}"));
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod scaled_tests {
    #[test]
    fn scaled_cncf_models_load_with_every_project() {
        let src = include_str!("../../fixtures/cncf.yaml");
        let base = crate::parse_str("cncf.yaml", src).expect("valid").projects.len();
        assert_eq!(
            super::scaled_model(src, 1).expect("scales"),
            src,
            "one copy is the file itself"
        );
        let text = super::scaled_model(src, 4).expect("scales");
        let model = crate::parse_str("cncf-x4.yaml", &text).expect("the scaled model is valid");
        assert_eq!(model.projects.len(), 4 * base);
        assert!(model.projects.iter().any(|p| p.name.as_str() == "kubernetes-x3"));
    }

    #[test]
    fn projects_must_come_last() {
        let err = super::scaled_model("projects:\n- name: a\ninstance: {}\n", 2);
        assert!(err.is_err_and(|e| e.contains("last top-level key")));
    }
}
