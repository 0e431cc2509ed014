//! Render invariants over generated models: every reference resolves (render succeeds), names are
//! valid and unique per kind and namespace, selectors match pod templates, output is byte-stable
//! and independent of the order of projects in the model.

use std::collections::BTreeSet;

use devstats_model::testing::arb_model;
use devstats_render::{Object, Options, output, render};
use proptest::prelude::*;

fn yaml(model: &devstats_model::Model) -> String {
    let set = render(model, &Options::default()).expect("a valid model renders");
    output::yaml_stream(&set.objects).expect("serializes")
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn names_are_valid_and_unique(model in arb_model()) {
        let set = render(&model, &Options::default()).expect("renders");
        let mut seen = BTreeSet::new();
        for r in &set.objects {
            let o = &r.object;
            let name = o.name();
            // Services, CronJobs, Namespaces and Jobs' pods need DNS labels; we hold every kind to it.
            prop_assert!(dns_label(name), "{} has an invalid name", o.id());
            if matches!(o, Object::CronJob(_)) {
                prop_assert!(name.len() <= 52, "{} is longer than 52 characters", o.id());
            }
            prop_assert!(seen.insert((o.kind(), o.namespace().map(str::to_owned), name.to_owned())), "duplicate {}", o.id());
        }
    }

    #[test]
    fn renders_are_byte_identical(model in arb_model()) {
        prop_assert_eq!(yaml(&model), yaml(&model));
    }

    #[test]
    fn project_order_does_not_matter(model in arb_model()) {
        let mut reversed = model.clone();
        reversed.projects.reverse();
        // Projects without an explicit order are placed by name, so any file order renders the same.
        prop_assert_eq!(yaml(&model), yaml(&reversed));
    }

    #[test]
    fn selection_is_a_subset_of_the_whole(model in arb_model()) {
        let all = render(&model, &Options::default()).expect("renders");
        let ids: BTreeSet<String> = all.objects.iter().map(|r| r.object.id()).collect();
        let first = model.projects[0].name.to_string();
        let mut opts = Options::default();
        opts.selection.projects.insert(first.clone());
        let some = render(&model, &opts).expect("renders");
        for r in &some.objects {
            prop_assert!(ids.contains(&r.object.id()));
            prop_assert_eq!(r.project.as_deref(), Some(first.as_str()));
        }
    }
}
