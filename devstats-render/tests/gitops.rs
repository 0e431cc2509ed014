//! Environments and the GitOps tree.
//!
//! - `render --env prod` of the CNCF fixture is byte for byte the render of the prod install, and
//!   `--env test` reproduces the chart's test install (namespace, images, class, issuer, projects);
//! - the tree of `fixtures/example.yaml` is snapshotted (review every change: this is what a Flux
//!   user commits);
//! - `kubectl kustomize` builds every generated directory (when kubectl is installed);
//! - re-rendering changes no byte, and a model change touches only the changed objects' files;
//! - Flux objects follow the apply phases; Secrets never appear in plaintext.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use devstats_import::{ImportOptions, import, parse_set};
use devstats_model::{EnvModel, GitOpsSecrets, Model, load_env, load_environments};
use devstats_render::gitops::{GitOpsEnv, GitOpsFile, kustomization_name, phase_policy, tree};
use devstats_render::{Options, Phase, PruneGuard, output, render};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(rel)
}

fn environments(name: &str) -> Vec<EnvModel> {
    load_environments(&fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn gitops(envs: &[EnvModel]) -> Vec<GitOpsFile> {
    let list: Vec<GitOpsEnv<'_>> = envs
        .iter()
        .map(|e| GitOpsEnv {
            name: &e.name,
            model: &e.model,
        })
        .collect();
    tree(&list).expect("the tree builds")
}

fn by_path(files: &[GitOpsFile]) -> BTreeMap<&str, &str> {
    files
        .iter()
        .map(|f| (f.path.as_str(), f.contents.as_str()))
        .collect()
}

fn yaml_stream(model: &Model) -> String {
    let set = render(model, &Options::default()).expect("renders");
    output::yaml_stream(&set.objects).expect("yaml")
}

/// YAML documents of a file as JSON values.
fn docs(text: &str) -> Vec<serde_json::Value> {
    text.split("\n---\n")
        .flat_map(|d| d.split("---\n"))
        .filter(|d| d.lines().any(|l| !l.starts_with('#') && !l.trim().is_empty()))
        .map(|d| serde_saphyr::from_str(d).expect("valid YAML"))
        .collect()
}

#[test]
fn cncf_prod_environment_renders_exactly_like_the_prod_install() {
    let path = fixture("helm/cncf-imported.yaml");
    let prod = load_env(&path, Some("prod")).expect("prod");
    let default = load_env(&path, None).expect("default");
    let ours = yaml_stream(&prod);
    assert_eq!(ours, yaml_stream(&default), "the default environment is prod");

    // The prod install as the golden import's header records it (before it had environments): the render must be identical, byte for byte.
    let text = std::fs::read_to_string(&path).expect("fixture");
    let header = text.lines().next().expect("header");
    let words: Vec<&str> = header.split(' ').collect();
    let mut sets = Vec::new();
    for w in words.windows(2).filter(|w| w[0] == "--set") {
        sets.extend(parse_set(w[1]).expect("--set"));
    }
    let values = std::fs::read_to_string(fixture("helm/values.yaml")).expect("values");
    let projects = std::fs::read_to_string(fixture(
        "upstream/cncf_devstats-docker-images__devstats-helm__projects.yaml",
    ))
    .expect("projects.yaml");
    let chart = import(
        &values,
        &ImportOptions {
            sets,
            projects_yaml: Some(projects),
            recompute_schedules: false,
        },
    )
    .expect("imports")
    .model;
    assert!(
        ours == yaml_stream(&chart),
        "render --env prod differs from the prod install"
    );
}

#[test]
fn cncf_test_environment_renders_the_test_install() {
    let test = load_env(&fixture("cncf.yaml"), Some("test")).expect("test");
    let set = render(&test, &Options::default()).expect("renders");
    let mut images = BTreeSet::new();
    let mut projects = BTreeSet::new();
    for r in &set.objects {
        let v = serde_json::to_value(&r.object).expect("json");
        // Everything in the test namespace, but the ops dashboards (kube-prometheus-stack's).
        if r.object.kind() != "Namespace" && r.component != devstats_render::Component::Monitoring {
            assert_eq!(r.object.namespace(), Some("devstats-test"), "{}", r.object.id());
        }
        if let Some(p) = &r.project {
            projects.insert(p.clone());
        }
        collect_images(&v, &mut images);
        if r.object.kind() == "Ingress" {
            assert_eq!(v["spec"]["ingressClassName"], "nginx-test");
            assert_eq!(
                v["metadata"]["annotations"]["cert-manager.io/issuer"],
                "letsencrypt-test"
            );
        }
    }
    // The images' repositories (the production model pins every image to a tag).
    let images: BTreeSet<&str> = images.iter().map(|i| i.split(':').next().unwrap_or(i)).collect();
    for image in [
        "lukaszgryglicki/devstats-test",
        "lukaszgryglicki/devstats-minimal-test",
        "lukaszgryglicki/devstats-api-test",
        "lukaszgryglicki/devstats-static-test",
        "lukaszgryglicki/devstats-static-default",
    ] {
        assert!(images.contains(image), "{image} not used: {images:?}");
    }
    for image in [
        "lukaszgryglicki/devstats-minimal-prod",
        "lukaszgryglicki/devstats-api-prod",
        "lukaszgryglicki/devstats-static-prod",
    ] {
        assert!(!images.contains(image), "{image} used on test");
    }
    assert_eq!(projects.len(), 12, "{projects:?}");
    let statics: Vec<&str> = set
        .objects
        .iter()
        .filter(|r| r.object.kind() == "Deployment" && r.object.name().starts_with("devstats-static-"))
        .map(|r| r.object.name())
        .collect();
    assert_eq!(statics, ["devstats-static-default", "devstats-static-test"]);
}

fn collect_images(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("image", serde_json::Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => collect_images(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_images(x, out)),
        _ => {}
    }
}

#[test]
fn example_tree() {
    let files = gitops(&environments("example.yaml"));
    let mut text = String::new();
    for f in &files {
        text.push_str(&format!(
            "=== {}{} ===\n{}",
            f.path,
            if f.create_only { " (create-only)" } else { "" },
            f.contents
        ));
    }
    insta::assert_snapshot!("example-tree", text);
}

#[test]
fn rerendering_changes_no_byte_and_a_change_touches_only_its_objects() {
    let envs = environments("example.yaml");
    let before = gitops(&envs);
    assert_eq!(before, gitops(&envs), "re-rendering changed the tree");
    let old = by_path(&before);

    let changed = |mutate: fn(&mut Model)| -> BTreeSet<String> {
        let mut envs = environments("example.yaml");
        for e in &mut envs {
            mutate(&mut e.model);
        }
        let after = gitops(&envs);
        let new = by_path(&after);
        let paths: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
        paths
            .into_iter()
            .filter(|p| old.get(p) != new.get(p))
            .map(str::to_owned)
            .collect()
    };
    // A project's volume: its PersistentVolumeClaim in each environment that deploys it.
    let got = changed(|m| {
        if let Some(p) = m.projects.iter_mut().find(|p| p.name.as_str() == "prometheus") {
            p.disk = "6Gi".into();
        }
    });
    assert_eq!(
        got,
        BTreeSet::from([
            "apps/prod/storage/persistentvolumeclaim-devstats-pvc-prometheus.yaml".to_owned(),
            "apps/test/storage/persistentvolumeclaim-devstats-pvc-prometheus.yaml".to_owned(),
        ])
    );
    // The Grafana image: every Grafana Deployment, nothing else.
    let got = changed(|m| m.instance.images.grafana = "example/grafana:2".into());
    assert!(!got.is_empty());
    for p in &got {
        assert!(
            p.contains("/workloads/deployment-devstats-grafana-"),
            "{p} changed"
        );
    }
    // Archiving a project removes its workloads and lists: only that project's files and the
    // kustomization.yaml of the phases it leaves, plus the Ingress that served its host.
    let got = changed(|m| {
        if let Some(p) = m.projects.iter_mut().find(|p| p.name.as_str() == "podman") {
            p.status = devstats_model::ProjectStatus::Archived;
        }
    });
    for p in &got {
        assert!(
            p.contains("podman") || p.ends_with("/kustomization.yaml") || p.contains("/routing/ingress-"),
            "{p} changed"
        );
    }
}

#[test]
fn flux_objects_follow_the_apply_phases() {
    let files = gitops(&environments("example.yaml"));
    let map = by_path(&files);
    for env in ["prod", "test"] {
        let phases: Vec<Phase> = Phase::ALL
            .iter()
            .copied()
            .filter(|p| map.contains_key(format!("apps/{env}/{}/kustomization.yaml", p.as_str()).as_str()))
            .collect();
        assert!(phases.len() >= 8, "{env}: {phases:?}");
        let apps = docs(map[format!("clusters/{env}/apps.yaml").as_str()]);
        assert_eq!(apps.len(), phases.len());
        let infra = map.contains_key(format!("clusters/{env}/infrastructure.yaml").as_str());
        assert!(infra, "{env}: the example opts into controllers");
        let mut previous = format!("devstats-{env}-infrastructure");
        for (k, phase) in apps.iter().zip(&phases) {
            assert_eq!(k["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
            assert_eq!(k["kind"], "Kustomization");
            assert_eq!(k["metadata"]["name"], kustomization_name(env, *phase));
            assert_eq!(k["metadata"]["namespace"], "flux-system");
            assert_eq!(k["spec"]["dependsOn"][0]["name"], previous.as_str());
            assert_eq!(k["spec"]["prune"], true);
            assert_eq!(k["spec"]["wait"], phase_policy(*phase).wait);
            assert_eq!(k["spec"]["path"], format!("./apps/{env}/{}", phase.as_str()));
            assert_eq!(k["spec"]["sourceRef"]["kind"], "GitRepository");
            assert_eq!(k["spec"]["sourceRef"]["name"], format!("devstats-{env}"));
            previous = kustomization_name(env, *phase);
        }
        let source = docs(map[format!("clusters/{env}/source.yaml").as_str()]);
        assert_eq!(source[0]["apiVersion"], "source.toolkit.fluxcd.io/v1");
        assert_eq!(source[0]["kind"], "GitRepository");
        assert_eq!(
            source[0]["spec"]["url"],
            "https://github.com/example/devstats-deploy"
        );
        for (path, text) in &map {
            if path.starts_with(&format!("infrastructure/{env}/helmrelease-")) {
                assert_eq!(docs(text)[0]["apiVersion"], "helm.toolkit.fluxcd.io/v2");
            }
        }
    }
    // Jobs never finish for days and fail for good: not waited for. Storage neither.
    for phase in [Phase::Storage, Phase::Bootstrap, Phase::Provision] {
        assert!(!phase_policy(phase).wait);
    }
    // Flux annotations: Jobs (and Patroni's config Endpoints, with an Endpoints DCS) are created
    // once; data and the database are never pruned (see `the_flux_tree_never_prunes_data`).
    let mut seen = BTreeSet::new();
    for (path, text) in map
        .iter()
        .filter(|(p, _)| p.starts_with("apps/") && p.ends_with(".yaml"))
    {
        let Some(d) = docs(text).into_iter().next() else {
            continue;
        };
        let annotations = &d["metadata"]["annotations"];
        let kind = d["kind"].as_str().unwrap_or_default();
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        let expected: &[(&str, &str)] = match kind {
            "Job" => &[
                ("kustomize.toolkit.fluxcd.io/ssa", "IfNotPresent"),
                ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
            ],
            "Endpoints" if name == "devstats-postgres-config" => &[
                ("kustomize.toolkit.fluxcd.io/ssa", "IfNotPresent"),
                ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
            ],
            "PersistentVolumeClaim" | "Namespace" => &[("kustomize.toolkit.fluxcd.io/prune", "disabled")],
            "StatefulSet" | "ServiceAccount" | "Role" | "RoleBinding" | "Service" | "Endpoints"
                if name.starts_with("devstats-postgres") && !name.contains("basebackup") =>
            {
                &[("kustomize.toolkit.fluxcd.io/prune", "disabled")]
            }
            "Pod" => &[("kustomize.toolkit.fluxcd.io/force", "Enabled")],
            _ => &[],
        };
        let flux: BTreeSet<(&str, &str)> = annotations
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("kustomize.toolkit.fluxcd.io/"))
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
            .collect();
        if kind != "Kustomization" {
            assert_eq!(flux, expected.iter().copied().collect(), "{path}");
        }
        if !expected.is_empty() {
            seen.insert(kind.to_owned());
        }
    }
    for kind in ["Job", "PersistentVolumeClaim", "Namespace", "StatefulSet"] {
        assert!(seen.contains(kind), "no {kind} checked");
    }
}

/// Issue 12: the phase Kustomizations prune, so every object apply refuses to prune without a flag
/// (volumes, run-once Job records, the database) must opt out, or removing it from the model
/// deletes it in every GitOps environment.
#[test]
fn the_flux_tree_never_prunes_data() {
    let envs = environments("cncf.yaml");
    let e = &envs[0];
    let set = render(&e.model, &Options::default()).expect("render");
    let files = gitops(&envs);
    let by_path = by_path(&files);
    let apps = format!("apps/{}/", e.name);
    let mut guarded = 0;
    for r in &set.objects {
        let Some((_, text)) = by_path.iter().find(|(p, _)| {
            p.starts_with(&apps)
                && p.ends_with(&format!(
                    "/{}-{}.yaml",
                    r.object.kind().to_ascii_lowercase(),
                    r.object.name()
                ))
        }) else {
            continue;
        };
        let d = docs(text).into_iter().next().expect("one document");
        let prune = &d["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"];
        if r.policy.prune == PruneGuard::None {
            assert!(prune.is_null(), "{} must stay prunable", r.object.id());
        } else {
            guarded += 1;
            assert_eq!(
                prune,
                "disabled",
                "{} is guarded ({:?}) but Flux may prune it",
                r.object.id(),
                r.policy.prune
            );
        }
    }
    // The Patroni StatefulSet in particular (GitOps used to delete it when it left the tree).
    let sts = by_path
        .iter()
        .find(|(p, _)| p.ends_with("/statefulset-devstats-postgres.yaml"))
        .expect("the Patroni StatefulSet is in the tree");
    assert_eq!(
        docs(sts.1)[0]["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"],
        "disabled"
    );
    assert!(guarded > 3, "{guarded}");
}

#[test]
fn secrets_never_appear_in_plaintext() {
    // The example: prod reads them through External Secrets, test has SealedSecret placeholders.
    let files = gitops(&environments("example.yaml"));
    for f in files.iter().filter(|f| f.path.ends_with(".yaml")) {
        for d in docs(&f.contents) {
            assert_ne!(d["kind"], "Secret", "{} holds a Secret", f.path);
        }
    }
    let external: Vec<&GitOpsFile> = files
        .iter()
        .filter(|f| f.path.starts_with("apps/prod/config/externalsecret-"))
        .collect();
    assert_eq!(external.len(), 3);
    let pg = docs(
        &external
            .iter()
            .find(|f| f.path.ends_with("-pg-db.yaml"))
            .expect("pg-db")
            .contents,
    );
    assert_eq!(pg[0]["apiVersion"], "external-secrets.io/v1");
    assert_eq!(pg[0]["spec"]["data"].as_array().map(Vec::len), Some(9));
    assert_eq!(pg[0]["spec"]["data"][0]["remoteRef"]["key"], "devstats/pg-db");
    let sealed: Vec<&GitOpsFile> = files
        .iter()
        .filter(|f| f.path.starts_with("apps/test/config/sealedsecret-"))
        .collect();
    assert_eq!(sealed.len(), 3);
    assert!(
        sealed
            .iter()
            .all(|f| f.create_only && f.contents.contains("SEAL-ME"))
    );

    // The CNCF fixture leaves them out and lists them.
    let envs = environments("cncf.yaml");
    assert!(
        envs.iter()
            .all(|e| e.model.instance.gitops.secrets == GitOpsSecrets::Omit)
    );
    let files = gitops(&envs);
    let map = by_path(&files);
    let md = map["apps/prod/SECRETS.md"];
    for needle in [
        "`pg-db`",
        "`github-oauth`",
        "`grafana-secret`",
        "`PG_PASS.secret`",
        "kubectl -n devstats-prod",
    ] {
        assert!(md.contains(needle), "{needle} missing from SECRETS.md:\n{md}");
    }
    assert!(!files.iter().any(|f| f.path.contains("/config/secret-")));
}

/// Every directory with a `kustomization.yaml` builds with `kubectl kustomize`, and the build
/// holds one object per listed file.
#[test]
fn kubectl_kustomize_builds_every_directory() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("kubectl is not installed: skipping the kustomize build check");
        return;
    }
    for name in ["example.yaml", "cncf.yaml"] {
        let files = gitops(&environments(name));
        let root = std::env::temp_dir().join(format!(
            "devstats-gitops-{}-{}",
            std::process::id(),
            name.trim_end_matches(".yaml")
        ));
        let _ = std::fs::remove_dir_all(&root);
        for f in &files {
            let path = root.join(&f.path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &f.contents).expect("write");
        }
        let mut dirs = 0;
        for f in files.iter().filter(|f| f.path.ends_with("kustomization.yaml")) {
            let dir = root.join(Path::new(&f.path).parent().expect("dir"));
            let out = Command::new("kubectl")
                .arg("kustomize")
                .arg(&dir)
                .output()
                .expect("kubectl runs");
            assert!(
                out.status.success(),
                "kubectl kustomize {} failed:\n{}",
                f.path,
                String::from_utf8_lossy(&out.stderr)
            );
            let built = String::from_utf8_lossy(&out.stdout);
            let listed = docs(&f.contents)[0]["resources"].as_array().map_or(0, Vec::len);
            let objects = built.lines().filter(|l| l.starts_with("kind: ")).count();
            if f.path.starts_with("apps/") || f.path.starts_with("infrastructure/") {
                assert_eq!(objects, listed, "{}", f.path);
            }
            dirs += 1;
        }
        assert!(dirs >= 20, "{name}: only {dirs} directories");
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[test]
fn a_tree_that_carries_the_resource_holds_the_install_and_the_resource_only() {
    let mut envs = environments("example.yaml");
    for e in &mut envs {
        e.model.instance.gitops.carries = devstats_model::GitOpsCarries::Resource;
    }
    let files = gitops(&envs);
    let by_path = by_path(&files);
    for e in &envs {
        let env = e.name.as_str();
        let apps = format!("apps/{env}/");
        let dirs: BTreeSet<&str> = by_path
            .keys()
            .filter_map(|p| p.strip_prefix(apps.as_str()))
            .filter_map(|p| p.split_once('/').map(|(d, _)| d))
            .collect();
        assert_eq!(dirs, BTreeSet::from(["operator", "resource"]), "{env}");

        // The operator's install: CRD (never pruned: that would delete every resource), RBAC,
        // Deployment; the same objects `devstats-k8s install --env` prints.
        let operator: Vec<serde_json::Value> = by_path
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{apps}operator/")) && !p.ends_with("kustomization.yaml"))
            .flat_map(|(_, t)| docs(t))
            .collect();
        let set = render(&e.model, &Options::default()).expect("render");
        let install = devstats_render::operator::install(&[set.objects.as_slice()]).expect("install");
        let mut want = install.documents().expect("documents");
        for d in &mut want {
            if d["kind"] == "CustomResourceDefinition" {
                d["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] = "disabled".into();
            }
        }
        let key = |d: &serde_json::Value| {
            format!(
                "{}/{}/{}",
                d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]
            )
        };
        let mut got = operator.clone();
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got, want, "{env}: apps/{env}/operator/ is the install");
        let kustomization = docs(by_path[format!("{apps}operator/kustomization.yaml").as_str()]);
        assert_eq!(
            kustomization[0]["resources"].as_array().map(Vec::len),
            Some(operator.len()),
            "{env}: every install file is listed"
        );

        // The resource: its Namespace, the Secrets' ExternalSecrets or placeholders, the
        // DevStats resource (never pruned) whose spec is the environment's model.
        let resource: Vec<(&str, serde_json::Value)> = by_path
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{apps}resource/")) && !p.ends_with("kustomization.yaml"))
            .flat_map(|(p, t)| docs(t).into_iter().map(move |d| (*p, d)))
            .collect();
        let kinds: BTreeSet<&str> = resource.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
        let secret_kind = match e.model.instance.gitops.secrets {
            GitOpsSecrets::ExternalSecret(_) => "ExternalSecret",
            GitOpsSecrets::SealedSecretPlaceholder => "SealedSecret",
            GitOpsSecrets::Omit => unreachable!("the example puts Secrets in the tree"),
        };
        assert_eq!(
            kinds,
            BTreeSet::from(["DevStats", "Namespace", secret_kind]),
            "{env}"
        );
        let (_, ds) = resource
            .iter()
            .find(|(_, d)| d["kind"] == "DevStats")
            .expect("the resource");
        assert_eq!(
            ds["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"],
            "disabled"
        );
        assert_eq!(ds["metadata"]["namespace"], e.model.instance.namespace.as_str());
        let (_, model) = devstats_render::resource::parse_resource(ds).expect("the model accepts its spec");
        assert_eq!(
            model, e.model,
            "{env}: the resource's spec is the environment's model"
        );
        let ns = resource
            .iter()
            .find(|(_, d)| d["kind"] == "Namespace")
            .expect("namespace");
        assert_eq!(
            ns.1["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"],
            "disabled"
        );

        // Two Kustomizations: the resource's depends on the operator's (its CRD must exist).
        let ks = docs(by_path[format!("clusters/{env}/apps.yaml").as_str()]);
        let names: Vec<&str> = ks.iter().filter_map(|k| k["metadata"]["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                format!("devstats-{env}-operator"),
                format!("devstats-{env}-resource")
            ]
        );
        assert_eq!(
            ks[1]["spec"]["dependsOn"][0]["name"],
            format!("devstats-{env}-operator")
        );
        assert_eq!(ks[1]["spec"]["path"], format!("./apps/{env}/resource"));
        assert_eq!(ks[1]["spec"]["wait"], false, "the first provisioning lasts hours");
        assert!(by_path.contains_key(format!("apps/{env}/SECRETS.md").as_str()));
    }
}
