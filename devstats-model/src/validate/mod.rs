//! Semantic rules over the typed model. Every rule reports *all* its violations as [`Problem`]s with
//! a field path; the loader turns paths into `file:line:column`.

use std::collections::{BTreeMap, BTreeSet};

mod backup;
mod delivery;
mod hardening;
mod monitoring;

use crate::diagnostics::Problem;
use crate::source::Path;
use crate::types::{Model, ProjectStatus};
use crate::values::ResourceSpec;
use crate::values::{Name, Quantity, check_org, check_repo};

/// Longest CronJob name Kubernetes accepts (the controller appends an 11-character suffix to Jobs).
pub const MAX_CRONJOB_NAME: usize = 52;
/// Prefix of the longest per-project object name, the affiliations CronJob.
pub const AFFILIATIONS_PREFIX: &str = "devstats-affiliations-";
/// Most project hosts one certificate may carry (Let's Encrypt's SAN limit).
pub const MAX_SANS: u32 = 100;

/// Collects problems.
#[derive(Default)]
struct V {
    problems: Vec<Problem>,
}

impl V {
    fn push(&mut self, path: Path, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem::new(path, message).help(help));
    }

    fn check(&mut self, path: Path, result: Result<(), String>, help: &str) {
        if let Err(e) = result {
            self.push(path, e, help);
        }
    }

    fn name(&mut self, path: Path, name: &Name) {
        self.check(
            path,
            name.check(),
            "allowed: DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63 characters",
        );
    }

    fn quantity(&mut self, path: Path, q: &Quantity) {
        self.check(
            path,
            q.check_positive(),
            "allowed: a positive Kubernetes quantity such as 3Gi, 512Mi, 1000m",
        );
    }

    fn resources(&mut self, path: Path, r: &ResourceSpec) {
        for (which, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
            self.quantity(path.key(which).key("cpu"), &cm.cpu);
            self.quantity(path.key(which).key("memory"), &cm.memory);
        }
        for field in ["cpu", "memory"] {
            let (req, lim) = match field {
                "cpu" => (&r.requests.cpu, &r.limits.cpu),
                _ => (&r.requests.memory, &r.limits.memory),
            };
            if let (Ok(a), Ok(b)) = (req.to_milli(), lim.to_milli())
                && a > b
            {
                self.push(
                    path.key("requests").key(field),
                    format!("request {req} is larger than the limit {lim}"),
                    "a request must not exceed its limit",
                );
            }
        }
    }
}

/// Checks every rule; returns all problems (empty when the model is valid).
#[must_use]
pub fn validate(model: &Model) -> Vec<Problem> {
    let mut v = V::default();
    let root = Path::root();
    let inst = &model.instance;
    let ip = root.key("instance");

    v.name(ip.key("name"), &inst.name);
    v.name(ip.key("namespace"), &inst.namespace);
    v.name(ip.key("ingress").key("className"), &inst.ingress.class_name);
    v.name(
        ip.key("ingress").key("issuer").key("name"),
        &inst.ingress.issuer.name,
    );
    let mh = inst.ingress.max_hosts_per_certificate;
    if mh == 0 || mh > MAX_SANS {
        v.push(
            ip.key("ingress").key("maxHostsPerCertificate"),
            format!("{mh} hosts per certificate is not possible"),
            format!("allowed: 1 to {MAX_SANS} (Let's Encrypt's limit of names per certificate)"),
        );
    }
    if !inst.ingress.api_path.starts_with('/') {
        v.push(
            ip.key("ingress").key("apiPath"),
            "must start with '/'",
            "e.g. /api/",
        );
    }
    for (field, name) in [
        ("postgres", &inst.secrets.postgres),
        ("github", &inst.secrets.github),
        ("grafana", &inst.secrets.grafana),
    ] {
        v.name(ip.key("secrets").key(field), name);
    }

    // Images.
    let im = &inst.images;
    for (field, img) in im.named() {
        v.check(
            ip.key("images").key(field),
            img.check(),
            "allowed: registry/repository[:tag][@sha256:digest]",
        );
    }

    // Storage.
    v.quantity(ip.key("storage").key("postgresSize"), &inst.storage.postgres_size);
    v.quantity(
        ip.key("storage").key("backups").key("size"),
        &inst.storage.backups.size,
    );

    // Resources.
    let r = &inst.resources;
    for (field, spec) in [
        ("provision", &r.provision),
        ("bootstrap", &r.bootstrap),
        ("sync", &r.sync),
        ("affiliations", &r.affiliations),
        ("grafana", &r.grafana),
        ("api", &r.api),
        ("staticSites", &r.static_sites),
        ("backups", &r.backups),
        ("vacuum", &r.vacuum),
        ("reports", &r.reports),
        ("postgres", &r.postgres),
    ] {
        if let Some(spec) = spec {
            v.resources(ip.key("resources").key(field), spec);
        }
    }

    // Patroni.
    let pa = &inst.patroni;
    let pp = ip.key("patroni");
    if pa.replicas == 0 {
        v.push(
            pp.key("replicas"),
            "a cluster needs at least one member",
            "allowed: 1 or more (3+ for failover)",
        );
    }
    if u64::from(pa.loop_wait) + 2 * u64::from(pa.retry_timeout) > u64::from(pa.ttl) {
        v.push(
            pp.key("ttl"),
            format!(
                "Patroni requires loop_wait + 2 × retry_timeout <= ttl, but {} + 2 × {} = {} > {}",
                pa.loop_wait,
                pa.retry_timeout,
                u64::from(pa.loop_wait) + 2 * u64::from(pa.retry_timeout),
                pa.ttl
            ),
            "raise ttl or lower loopWait/retryTimeout (e.g. loopWait 15, retryTimeout 20, ttl 60)",
        );
    }
    if pa.loop_wait == 0 {
        v.push(
            pp.key("loopWait"),
            "must be at least 1 second",
            "allowed: 1 or more",
        );
    }
    let pg = &pa.postgres;
    let pgp = pp.key("postgres");
    for (field, size) in [
        ("sharedBuffers", &pg.shared_buffers),
        ("workMem", &pg.work_mem),
        ("walBuffers", &pg.wal_buffers),
        ("maxTempFile", &pg.max_temp_file),
        ("walKeepSize", &pg.wal_keep_size),
        ("maintenanceWorkMem", &pg.maintenance_work_mem),
        ("maxWalSize", &pg.max_wal_size),
        ("minWalSize", &pg.min_wal_size),
        ("cacheSize", &pg.cache_size),
    ] {
        v.check(
            pgp.key(field),
            size.check(),
            "allowed: a PostgreSQL size such as 8GB, 512MB",
        );
    }
    for (field, d) in [
        ("autovacuumNaptime", &pg.autovacuum_naptime),
        ("idleTransactionTimeout", &pg.idle_transaction_timeout),
    ] {
        v.check(
            pgp.key(field),
            d.check(),
            "allowed: a PostgreSQL duration such as 120s, 30min",
        );
    }
    for (field, f) in [
        ("autovacuumVacuumScaleFactor", pg.autovacuum_vacuum_scale_factor),
        ("autovacuumAnalyzeScaleFactor", pg.autovacuum_analyze_scale_factor),
        ("checkpointCompletionTarget", pg.checkpoint_completion_target),
    ] {
        if !(0.0..=1.0).contains(&f) {
            v.push(pgp.key(field), format!("{f} is out of range"), "allowed: 0 to 1");
        }
    }
    if !(pg.random_page_cost.is_finite() && pg.random_page_cost > 0.0) {
        v.push(
            pgp.key("randomPageCost"),
            "must be a positive number",
            "e.g. 1.1 for SSDs, 4 for spinning disks",
        );
    }
    if pg.max_parallel_workers > pg.max_worker_processes {
        v.push(
            pgp.key("maxParallelWorkers"),
            format!(
                "{} parallel workers exceed max_worker_processes {}",
                pg.max_parallel_workers, pg.max_worker_processes
            ),
            "PostgreSQL caps parallel workers at max_worker_processes",
        );
    }

    // Components' schedules.
    let c = &inst.components;
    let cp = ip.key("components");
    for (field, sched) in [
        ("backups", &c.backups.schedule),
        ("affiliationsImport", &c.affiliations_import.schedule),
        ("vacuum", &c.vacuum.schedule),
    ] {
        v.check(
            cp.key(field).key("schedule"),
            sched.check(),
            "allowed: 5-field cron, e.g. '45 3 29 * *'",
        );
    }

    // Schedule settings.
    let s = &inst.schedules;
    let sp = ip.key("schedules");
    if s.sync_every_hours == 0 || 24 % s.sync_every_hours != 0 {
        v.push(
            sp.key("syncEveryHours"),
            format!("{} does not divide a day", s.sync_every_hours),
            "allowed: 1, 2, 3, 4, 6, 8, 12, 24",
        );
    }
    if s.gha_offset_minutes >= 60 {
        v.push(
            sp.key("ghaOffsetMinutes"),
            "must be less than 60",
            "allowed: 0-59",
        );
    }
    let period_hours: u32 = match s.period {
        crate::types::RotationPeriod::Weekly => 7 * 24,
        crate::types::RotationPeriod::Monthly => 28 * 24,
    };
    let reserved = s.first.as_ref().map_or(0, |r| r.hours) + s.last.as_ref().map_or(0, |r| r.hours);
    if reserved >= period_hours {
        v.push(
            sp.clone(),
            format!("reserved slots take {reserved} hours of a {period_hours}-hour rotation"),
            "leave time for the other projects",
        );
    }
    if s.offset_hours.unsigned_abs() >= period_hours {
        v.push(
            sp.key("offsetHours"),
            "is longer than the rotation",
            format!("allowed: -{period_hours} < offsetHours < {period_hours}"),
        );
    }

    // Foundations.
    let mut foundation_names = BTreeMap::new();
    let mut domains = BTreeMap::new();
    let mut sites = BTreeMap::new();
    for (i, f) in model.foundations.iter().enumerate() {
        let fp = root.key("foundations").index(i);
        v.name(fp.key("name"), &f.name);
        if let Some(site) = &f.site {
            v.name(fp.key("site"), site);
        }
        v.check(
            fp.key("domain"),
            f.domain.check(),
            "allowed: a DNS host name such as devstats.cncf.io",
        );
        v.check(
            fp.key("staticImage"),
            f.static_image.check(),
            "allowed: registry/repository[:tag][@digest]",
        );
        if let Some(prev) = foundation_names.insert(f.name.as_str(), i) {
            v.push(
                fp.key("name"),
                format!(
                    "foundation `{}` is defined twice (also foundations[{prev}])",
                    f.name
                ),
                "names must be unique",
            );
        }
        if let Some(prev) = domains.insert(f.domain.as_str(), i) {
            v.push(
                fp.key("domain"),
                format!("domain {} is used twice (also foundations[{prev}])", f.domain),
                "domains must be unique",
            );
        }
        if let Some(prev) = sites.insert(f.site_name().as_str(), i) {
            v.push(
                fp.key("site"),
                format!(
                    "site name `{}` is used twice (also foundations[{prev}])",
                    f.site_name()
                ),
                "static site names must be unique",
            );
        }
        let static_name = format!("devstats-static-service-{}", f.site_name());
        if static_name.len() > 63 {
            v.push(
                fp.key("site"),
                format!("derived Service name {static_name} is longer than 63 characters"),
                "use a shorter site name",
            );
        }
    }
    if model.foundations.is_empty() {
        v.push(
            root.key("foundations"),
            "no foundations are defined",
            "define at least one foundation with a domain",
        );
    }
    for (i, f) in inst.foundations.iter().enumerate() {
        if !foundation_names.contains_key(f.as_str()) {
            let known: Vec<&str> = foundation_names.keys().copied().collect();
            let mut msg = format!("unknown foundation `{f}`");
            if let Some(s) = crate::structure::suggest(f.as_str(), known.iter().copied()) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            v.push(
                ip.key("foundations").index(i),
                msg,
                format!("defined foundations: {}", known.join(", ")),
            );
        }
    }
    if inst.foundations.is_empty() {
        v.push(
            ip.key("foundations"),
            "the instance serves no foundation",
            "list the foundations this instance serves",
        );
    }

    // Projects.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dbs: BTreeMap<&str, usize> = BTreeMap::new();
    let mut orders: BTreeMap<u32, usize> = BTreeMap::new();
    let mut hosts: BTreeMap<String, String> = BTreeMap::new();
    for (i, p) in model.projects.iter().enumerate() {
        let pp = root.key("projects").index(i);
        v.name(pp.key("name"), &p.name);
        let longest = format!("{AFFILIATIONS_PREFIX}{}", p.name);
        if longest.len() > MAX_CRONJOB_NAME && p.name.check().is_ok() {
            v.push(
                pp.key("name"),
                format!("derived CronJob name {longest} is {} characters long", longest.len()),
                format!(
                    "CronJob names may have at most {MAX_CRONJOB_NAME} characters, so project names at most {}",
                    MAX_CRONJOB_NAME - AFFILIATIONS_PREFIX.len()
                ),
            );
        }
        if let Some(u) = &p.url {
            v.name(pp.key("url"), u);
        }
        if let Some(db) = &p.database {
            v.check(
                pp.key("database"),
                db.check(),
                "allowed: lowercase letters, digits and '_', starting with a letter",
            );
        }
        if let Some(r) = &p.main_repo {
            v.check(pp.key("mainRepo"), r.check(), "allowed: org/repo");
        }
        if p.display_name.trim().is_empty() {
            v.push(
                pp.key("displayName"),
                "must not be empty",
                "the name shown in Grafana, e.g. Open Policy Agent",
            );
        }
        if p.icon.as_deref().is_some_and(|s| s.trim().is_empty()) {
            v.push(
                pp.key("icon"),
                "must not be empty",
                "a DevStats icon name, e.g. k8s, cncf",
            );
        }
        v.quantity(pp.key("disk"), &p.disk);
        if let Some(prev) = names.insert(p.name.as_str(), i) {
            v.push(
                pp.key("name"),
                format!("project `{}` is defined twice (also projects[{prev}])", p.name),
                "project names must be unique",
            );
        }
        if let Some(prev) = dbs.insert(p.database(), i) {
            v.push(
                pp.key(if p.database.is_some() { "database" } else { "name" }),
                format!("database `{}` is also used by projects[{prev}]", p.database()),
                "each project needs its own database",
            );
        }
        if let Some(o) = p.order
            && let Some(prev) = orders.insert(o, i)
        {
            v.push(
                pp.key("order"),
                format!("order {o} is also used by projects[{prev}]"),
                "orders must be unique",
            );
        }
        if p.foundations.is_empty() && p.status == ProjectStatus::Active {
            v.push(
                pp.key("foundations"),
                "an active project must belong to at least one foundation",
                format!(
                    "defined foundations: {}",
                    foundation_names.keys().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        let mut seen_f = BTreeSet::new();
        for (j, f) in p.foundations.iter().enumerate() {
            if !seen_f.insert(f.as_str()) {
                v.push(
                    pp.key("foundations").index(j),
                    format!("foundation `{f}` is listed twice"),
                    "list each foundation once",
                );
            }
            match model.foundations.iter().find(|x| &x.name == f) {
                Some(found) => {
                    let host = format!("{}.{}", p.url(), found.domain);
                    if let Some(other) = hosts.insert(host.clone(), p.name.to_string()) {
                        v.push(
                            pp.key("url"),
                            format!("host {host} is also served by project `{other}`"),
                            "hosts must be unique: change `url`",
                        );
                    }
                }
                None => {
                    let known: Vec<&str> = foundation_names.keys().copied().collect();
                    let mut msg = format!("unknown foundation `{f}`");
                    if let Some(s) = crate::structure::suggest(f.as_str(), known.iter().copied()) {
                        msg.push_str(&format!("; did you mean `{s}`?"));
                    }
                    v.push(
                        pp.key("foundations").index(j),
                        msg,
                        format!("defined foundations: {}", known.join(", ")),
                    );
                }
            }
        }
        for (j, a) in p.aliases.iter().enumerate() {
            v.check(pp.key("aliases").index(j), a.check(), "allowed: a DNS host name");
            if let Some(other) = hosts.insert(a.to_string(), p.name.to_string())
                && other != p.name.as_str()
            {
                v.push(
                    pp.key("aliases").index(j),
                    format!("host {a} is also served by project `{other}`"),
                    "hosts must be unique",
                );
            }
        }
        let gp = pp.key("github");
        for (j, o) in p.github.orgs.iter().enumerate() {
            v.check(
                gp.key("orgs").index(j),
                check_org(o),
                "allowed: a GitHub organisation name",
            );
        }
        for (j, r) in p.github.repos.iter().enumerate() {
            v.check(gp.key("repos").index(j), check_repo(r), "allowed: org/repo");
        }
        for (j, re) in p.github.regexps.iter().enumerate() {
            if let Err(e) = regex::Regex::new(re) {
                let msg = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .to_owned();
                v.push(
                    gp.key("regexps").index(j),
                    format!("does not compile: {msg}"),
                    "allowed: a regular expression over org/repo, e.g. (?i)^containers/(podman|buildah)$",
                );
            }
        }
        if p.status == ProjectStatus::Active && p.github.is_empty() && p.main_repo.is_some() {
            v.push(
                gp,
                "an active project with a main repository selects no GitHub repositories",
                "add orgs, repos or regexps",
            );
        }
        if let Some(s) = &p.schedule.sync {
            v.check(
                pp.key("schedule").key("sync"),
                s.check(),
                "allowed: 5-field cron, e.g. '4 0,6,12,18 * * *'",
            );
        }
        if let Some(s) = &p.schedule.affiliations {
            v.check(
                pp.key("schedule").key("affiliations"),
                s.check(),
                "allowed: 5-field cron, e.g. '0 20 28 * *'",
            );
        }
        if let Some(rl) = &p.max_run_duration {
            v.check(
                pp.key("maxRunDuration"),
                rl.check(),
                "allowed: tool:duration:exitcode[,...], e.g. gha2db:120h:102",
            );
        }
        for (field, pct) in [
            ("skipUpdatePercent", p.affiliations.skip_update_percent),
            ("skipImportPercent", p.affiliations.skip_import_percent),
        ] {
            if pct.is_some_and(|x| x > 100) {
                v.push(
                    pp.key("affiliations").key(field),
                    "is a percentage",
                    "allowed: 0-100",
                );
            }
        }
        if let Some(db) = &p.affiliations.lock_database {
            v.check(
                pp.key("affiliations").key("lockDatabase"),
                db.check(),
                "allowed: a database name",
            );
        }
    }
    if model.projects.is_empty() {
        v.push(
            root.key("projects"),
            "no projects are defined",
            "define at least one project",
        );
    }

    // References from the instance to projects.
    for (field, slot) in [("first", &s.first), ("last", &s.last)] {
        if let Some(slot) = slot
            && !names.contains_key(slot.project.as_str())
        {
            v.push(
                sp.key(field).key("project"),
                format!("unknown project `{}`", slot.project),
                "name a project defined under `projects`",
            );
        }
    }
    for (j, name) in c.backups.only_projects.iter().enumerate() {
        if !names.contains_key(name.as_str()) {
            v.push(
                cp.key("backups").key("onlyProjects").index(j),
                format!("unknown project `{name}`"),
                "name a project defined under `projects`",
            );
        }
    }
    for (i, f) in model.foundations.iter().enumerate() {
        if let Some(agg) = &f.aggregate {
            match model.projects.iter().find(|p| &p.name == agg) {
                None => v.push(
                    root.key("foundations").index(i).key("aggregate"),
                    format!("unknown project `{agg}`"),
                    "name the foundation's aggregate project",
                ),
                Some(p) if !p.foundations.contains(&f.name) => v.push(
                    root.key("foundations").index(i).key("aggregate"),
                    format!("project `{agg}` does not belong to foundation `{}`", f.name),
                    "add the foundation to the project's `foundations`",
                ),
                Some(_) => {}
            }
        }
    }
    v.problems.extend(hardening::validate(model));
    v.problems.extend(backup::validate(model));
    v.problems.extend(monitoring::validate(model));
    v.problems.extend(delivery::validate(model));
    v.problems
}
