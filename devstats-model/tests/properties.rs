//! Property tests: loading never panics on any input, valid models round-trip through YAML,
//! and computed schedules do not depend on the order of projects in the file.

use devstats_model::{Foundation, Hostname, ImageRef, Instance, Model, Name, Project, Quantity, Role};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../fixtures/example.yaml");

fn project(name: &str, order: Option<u32>, disk_gi: u32, foundations: Vec<Name>, archived: bool) -> Project {
    let src = format!(
        "name: {name}\ndisplayName: Project {name}\nfoundations: []\ndisk: {disk_gi}Gi\ngithub:\n  orgs: [{name}-org]\n"
    );
    let mut p: Project = serde_saphyr::from_str(&src).expect("project template parses");
    p.order = order;
    p.foundations = foundations;
    if archived {
        p.status = devstats_model::ProjectStatus::Archived;
    }
    p
}

prop_compose! {
    fn arb_model()(
        names in proptest::collection::btree_set("[a-z][a-z0-9]{0,12}", 1..40),
        disks in proptest::collection::vec(1u32..500, 40),
        flags in proptest::collection::vec(any::<(bool, bool, bool)>(), 40),
        role in prop_oneof![Just(Role::Prod), Just(Role::Test)],
        replicas in 1u32..9,
    ) -> Model {
        let foundations = vec![
            Foundation { name: Name::from("alpha"), display_name: None, domain: Hostname::from("stats.alpha.org"), site: None, static_image: ImageRef::from("example/static-alpha:1"), aggregate: None },
            Foundation { name: Name::from("beta"), display_name: Some("Beta Foundation".into()), domain: Hostname::from("stats.beta.org"), site: Some(Name::from("b")), static_image: ImageRef::from("example/static-beta:1"), aggregate: None },
        ];
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
        Model { instance, foundations, projects }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,400}") {
        let _ = devstats_model::parse_str("fuzz.yaml", &s);
    }

    #[test]
    fn arbitrary_yamlish_text_never_panics(s in "[ a-z:\\-\\[\\]{}&*!|>'\"#,0-9\n]{0,300}") {
        let _ = devstats_model::parse_str("fuzz.yaml", &s);
    }

    #[test]
    fn mutated_example_never_panics(cuts in proptest::collection::vec((0usize..EXAMPLE.len(), 0usize..40, ".{0,8}"), 1..6)) {
        let mut s = EXAMPLE.to_owned();
        for (at, len, insert) in cuts {
            let mut at = at.min(s.len());
            while !s.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(s.len());
            while !s.is_char_boundary(end) { end -= 1; }
            s.replace_range(at..end, &insert);
        }
        let _ = devstats_model::parse_str("mutated.yaml", &s);
    }

    #[test]
    fn valid_models_round_trip(model in arb_model()) {
        let yaml = model.to_yaml().expect("serializes");
        let back = devstats_model::parse_str("roundtrip.yaml", &yaml);
        prop_assert!(back.is_ok(), "generated model does not load:\n{}\n{}", back.err().map(|e| e.to_string()).unwrap_or_default(), yaml);
        prop_assert_eq!(back.ok(), Some(model));
    }

    #[test]
    fn schedules_do_not_depend_on_file_order(model in arb_model(), seed in any::<u64>()) {
        let mut shuffled = model.clone();
        // Deterministic shuffle from the seed.
        let n = shuffled.projects.len();
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.projects.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(model.schedules().ok(), shuffled.schedules().ok());
    }
}

#[test]
fn example_round_trips() {
    let m = devstats_model::parse_str("example.yaml", EXAMPLE).expect("valid");
    let yaml = m.to_yaml().expect("serializes");
    assert_eq!(devstats_model::parse_str("again.yaml", &yaml).expect("valid"), m);
}

#[test]
fn schema_is_strict_about_unknown_fields() {
    let schema = devstats_model::structure::json_schema();
    let text = serde_json::to_string(&schema).expect("json");
    assert!(text.contains("\"additionalProperties\":false"));
}
