//! Property tests: loading never panics on any input, valid models round-trip through YAML,
//! and computed schedules do not depend on the order of projects in the file.

use devstats_model::testing::arb_model;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../fixtures/example.yaml");

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
    let schema = devstats_model::json_schema();
    let text = serde_json::to_string(&schema).expect("json");
    assert!(text.contains("\"additionalProperties\":false"));
}
