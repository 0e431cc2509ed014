//! Writes a scaled copy of a model file for file-level measurements:
//!
//! ```text
//! cargo run -p devstats-model --features testing --example scale -- fixtures/cncf.yaml 36 /tmp/cncf-x36.yaml
//! ```
//!
//! copies the projects of `fixtures/cncf.yaml` 36 times (10,188 projects), renamed as
//! [`devstats_model::testing::scaled_model`] describes.

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, copies, output] = args.as_slice() else {
        return Err("usage: scale <model.yaml> <copies> <output.yaml>".into());
    };
    let copies: usize = copies.parse().map_err(|e| format!("copies `{copies}`: {e}"))?;
    let src = std::fs::read_to_string(input).map_err(|e| format!("{input}: {e}"))?;
    let text = devstats_model::testing::scaled_model(&src, copies)?;
    std::fs::write(output, text).map_err(|e| format!("{output}: {e}"))?;
    Ok(())
}
