//! Properties of the planner and executor over generated models: the render's phase order is a
//! topological order of the derived graph; a fresh apply converges in one waiting apply; a second
//! apply writes nothing; moving from one model to another prunes exactly what disappeared (minus
//! the guarded kinds) and converges.

mod apply_support;

use std::collections::BTreeSet;

use apply_support::{apply, config};
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::{DesiredSet, EdgeKind};
use devstats_fake::FakeCluster;
use devstats_model::testing::arb_model;
use devstats_render::Options;
use proptest::prelude::*;

fn desired(m: &devstats_model::Model) -> DesiredSet {
    let set = devstats_render::render(m, &Options::default()).expect("renders");
    DesiredSet::new(&set, m.instance.namespace.as_str(), true).expect("desired")
}

fn managed(fake: &FakeCluster) -> BTreeSet<ObjectKey> {
    fake.keys()
        .into_iter()
        .filter(|k| k.kind != Kind::POD && k.name != devstats_cli::plan::inventory::NAME)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn phases_follow_the_derived_graph(model in arb_model()) {
        let set = desired(&model);
        for e in &set.edges {
            let (from, to) = (&set.objects[e.from], &set.objects[e.to]);
            match e.kind {
                EdgeKind::Exists => prop_assert!(to.policy.phase <= from.policy.phase, "{} needs {}", from.key, to.key),
                EdgeKind::Ready => prop_assert!(to.policy.phase < from.policy.phase, "{} waits for {}", from.key, to.key),
            }
        }
    }

    #[test]
    fn apply_converges_then_writes_nothing(model in arb_model()) {
        let set = desired(&model);
        let fake = FakeCluster::new();
        let mut cfg = config();
        cfg.plan.max_parallel = 100;
        let first = apply(&fake, &set, &cfg).expect("applies");
        prop_assert!(first.ok(), "{:?}", first.failed);
        prop_assert!(first.deferred.is_empty(), "{:?}", first.deferred);
        prop_assert_eq!(managed(&fake), set.keys());
        let second = apply(&fake, &set, &cfg).expect("applies");
        prop_assert_eq!(second.requests.writes, 0);
    }

    #[test]
    fn changing_models_prunes_exactly_what_disappeared(a in arb_model(), mut b in arb_model()) {
        // Volume claims can only grow (apply refuses a shrink); this property is about prune, so a
        // project present in both models keeps its volume size.
        for p in &mut b.projects {
            if let Some(old) = a.projects.iter().find(|o| o.name == p.name) {
                p.disk = old.disk.clone();
            }
        }
        let (sa, sb) = (desired(&a), desired(&b));
        let fake = FakeCluster::new();
        let mut cfg = config();
        cfg.plan.max_parallel = 100;
        cfg.plan.prune.max_deletes = usize::MAX;
        prop_assert!(apply(&fake, &sa, &cfg).expect("applies").ok());
        let r = apply(&fake, &sb, &cfg).expect("applies");
        prop_assert!(r.ok(), "{:?}", r.failed);
        let gone: BTreeSet<ObjectKey> = sa.keys().difference(&sb.keys()).cloned().collect();
        let expected: BTreeSet<ObjectKey> = sb
            .keys()
            .into_iter()
            .chain(gone.into_iter().filter(|k| sa.members()[k] != Some(devstats_render::PruneGuard::None)))
            .collect();
        prop_assert_eq!(managed(&fake), expected);
        let again = apply(&fake, &sb, &cfg).expect("applies");
        prop_assert_eq!(again.requests.writes, 0);
    }
}
