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

#[test]
fn files_over_the_size_cap_are_refused_before_reading() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("size-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("huge.yaml");
    // Sparse: no 64 MiB written, and the size is checked before anything is read.
    std::fs::File::create(&path)?.set_len(devstats_model::MAX_FILE_BYTES as u64 + 1)?;
    let err = devstats_model::load(&path).expect_err("over the cap");
    let text = err.to_string();
    assert!(
        text.contains(
            "the file is 64.0 MiB (67108865 bytes); a model file may be at most 64.0 MiB (67108864 bytes)"
        ),
        "{text}"
    );
    // At the cap exactly, the file is read (and is then merely not a model).
    std::fs::File::create(&path)?.set_len(1024)?;
    let err = devstats_model::load(&path).expect_err("not a model");
    assert!(!err.to_string().contains("at most"), "{err}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
