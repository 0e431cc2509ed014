//! Every file in `fixtures/invalid/` must fail to load with located problems, and the exact
//! message (file:line:column, field path, what is wrong, what is allowed) is snapshotted.

use std::path::PathBuf;

use devstats_model::LoadError;

fn invalid_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/invalid"))
}

#[test]
fn every_invalid_fixture_fails_with_located_problems() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(invalid_dir())
        .expect("fixtures/invalid exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "at least 20 invalid fixtures, found {}",
        files.len()
    );
    for path in files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_owned();
        let err = devstats_model::load(&path).expect_err(&format!("{stem} must be invalid"));
        let LoadError::Invalid(inv) = &err else {
            panic!("{stem}: expected problems, got {err}")
        };
        assert!(!inv.problems.is_empty(), "{stem}: no problems listed");
        if stem != "empty" {
            for p in &inv.problems {
                assert!(p.pos.is_some(), "{stem}: problem without a location: {p:?}");
            }
        }
        // Snapshot with a stable file name (not the absolute path).
        let text = err.to_string().replace(
            &path.display().to_string(),
            &format!("fixtures/invalid/{stem}.yaml"),
        );
        insta::assert_snapshot!(stem, text);
    }
}

#[test]
fn secret_values_are_never_echoed() {
    let path = invalid_dir().join("secret-value-in-model.yaml");
    let err = devstats_model::load(&path).expect_err("invalid");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn valid_fixtures_load() {
    let example = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/example.yaml"));
    let m = devstats_model::load(&example).expect("example.yaml is valid");
    assert_eq!(m.projects.len(), 4);
}
