//! Layer 6, **output**: the rendered objects as text, and the GitOps tree (`gitops`, with the
//! Flux, kustomize and secret-placeholder objects of `gitops_objects`). The top layer; only
//! `gitops` calls the crate's [`render`](crate::render), once per environment.
//!
//! Output formats: a multi-document YAML stream (what `kubectl apply -f -` accepts), a JSON
//! `v1/List`, or one file per object. Pure: functions return bytes or (path, bytes) pairs; the
//! CLI writes them.
//!
//! YAML comes from [`yaml`], a block emitter for our JSON-shaped objects that writes exactly what
//! serde-saphyr writes, several times faster (see its module documentation); serde-saphyr remains
//! the fallback for any value outside that emitter's subset, and the reference it is tested
//! against ([`object_yaml_saphyr`]).

pub mod gitops;
pub(crate) mod gitops_objects;
pub mod yaml;

use crate::core::{ctx::Rendered, policy::Phase};

/// Why serialization failed (should not happen for builder output).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot serialize {object}: {message}")]
pub struct OutputError {
    /// The object.
    pub object: String,
    /// The serializer's message.
    pub message: String,
}

/// One object as a YAML document (no leading `---`).
pub fn object_yaml(r: &Rendered) -> Result<String, OutputError> {
    let mut out = String::new();
    append_object_yaml(&mut out, r)?;
    Ok(out)
}

/// Appends one object as a YAML document (no leading `---`) to `out`: the fast emitter, or
/// serde-saphyr for an object outside its subset (identical bytes either way).
fn append_object_yaml(out: &mut String, r: &Rendered) -> Result<(), OutputError> {
    if yaml::append(out, &r.object).is_ok() {
        return Ok(());
    }
    out.push_str(&object_yaml_saphyr(r)?);
    Ok(())
}

/// One object as a YAML document, written by serde-saphyr (the reference [`object_yaml`] is
/// tested against, and its fallback).
pub fn object_yaml_saphyr(r: &Rendered) -> Result<String, OutputError> {
    serde_saphyr::to_string(&r.object).map_err(|e| OutputError {
        object: r.object.id(),
        message: e.to_string(),
    })
}

/// All objects as one YAML stream, each document starting with `---`.
pub fn yaml_stream(objects: &[Rendered]) -> Result<String, OutputError> {
    let parts = in_parallel(objects, stream_part)?;
    let mut out = String::with_capacity(parts.iter().map(String::len).sum());
    for p in parts {
        out.push_str(&p);
    }
    Ok(out)
}

/// Writes the YAML stream of `objects` to `w` in windows (serialized in parallel into buffers
/// reused from window to window, written in order), so memory stays bounded however many
/// objects there are. Output is byte-identical to [`yaml_stream`].
pub fn write_yaml_stream<W: std::io::Write>(objects: &[Rendered], w: &mut W) -> Result<(), WriteError> {
    const WINDOW: usize = 256;
    let mut buffers: Vec<String> = (0..workers(objects.len().min(WINDOW)))
        .map(|_| String::new())
        .collect();
    for window in objects.chunks(WINDOW) {
        fill_in_parallel(window, &mut buffers)?;
        for b in &buffers {
            w.write_all(b.as_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}

/// The YAML stream of `objects` into `buffers` (cleared first): consecutive slices, one per
/// buffer and thread.
fn fill_in_parallel(objects: &[Rendered], buffers: &mut [String]) -> Result<(), OutputError> {
    for b in buffers.iter_mut() {
        b.clear();
    }
    if objects.len() < 2 * MIN_PER_THREAD || buffers.len() < 2 {
        return match buffers.first_mut() {
            Some(first) => append_stream(first, objects),
            None => Ok(()),
        };
    }
    let per = objects.len().div_ceil(buffers.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = objects
            .chunks(per)
            .zip(buffers.iter_mut())
            .map(|(chunk, buf)| s.spawn(move || append_stream(buf, chunk)))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join().unwrap_or_else(|_| {
                Err(OutputError {
                    object: "(worker)".into(),
                    message: "serializer thread panicked".into(),
                })
            })
        })
    })
}

/// The YAML stream of consecutive objects, as one string.
fn stream_part(objects: &[Rendered]) -> Result<String, OutputError> {
    let mut out = String::new();
    append_stream(&mut out, objects)?;
    Ok(out)
}

/// Appends the YAML stream of consecutive objects to `out`.
fn append_stream(out: &mut String, objects: &[Rendered]) -> Result<(), OutputError> {
    for r in objects {
        out.push_str("---\n");
        append_object_yaml(out, r)?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(())
}

/// Why writing output failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An object could not be serialized.
    #[error(transparent)]
    Serialize(#[from] OutputError),
    /// The writer failed (e.g. a closed pipe).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Below this many objects per thread, serializing on more threads does not pay.
const MIN_PER_THREAD: usize = 128;

/// How many threads to serialize `n` objects on.
fn workers(n: usize) -> usize {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    threads.min(n / MIN_PER_THREAD).max(1)
}

/// Applies `f` to consecutive slices of `objects`, one per thread on large inputs, and returns
/// the results in order (identical to `f(objects)` split at the same points).
fn in_parallel<T: Send>(
    objects: &[Rendered],
    f: fn(&[Rendered]) -> Result<T, OutputError>,
) -> Result<Vec<T>, OutputError> {
    let threads = workers(objects.len());
    if threads < 2 {
        return Ok(vec![f(objects)?]);
    }
    let per = objects.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = objects
            .chunks(per)
            .map(|chunk| s.spawn(move || f(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(OutputError {
                        object: "(worker)".into(),
                        message: "serializer thread panicked".into(),
                    })
                })
            })
            .collect()
    })
}

/// Serializes objects one document each, in order, in parallel on large inputs.
fn serialize_all(objects: &[Rendered]) -> Result<Vec<String>, OutputError> {
    let parts = in_parallel(objects, |chunk| {
        chunk.iter().map(object_yaml).collect::<Result<Vec<_>, _>>()
    })?;
    Ok(parts.into_iter().flatten().collect())
}

/// A `v1/List`, serialized directly (no intermediate JSON value tree).
#[derive(serde::Serialize)]
struct List<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    items: Vec<&'a crate::core::object::Object>,
}

impl<'a> List<'a> {
    fn of(objects: &'a [Rendered]) -> Self {
        List {
            api_version: "v1",
            kind: "List",
            items: objects.iter().map(|r| &r.object).collect(),
        }
    }
}

/// All objects as a pretty-printed JSON `v1/List`.
pub fn json_list(objects: &[Rendered]) -> Result<String, OutputError> {
    let mut s = serde_json::to_string_pretty(&List::of(objects)).map_err(|e| OutputError {
        object: "v1/List".into(),
        message: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}

/// Writes [`json_list`]'s bytes to `w` as they are serialized, without holding the whole text
/// (at 10,000 projects that text is 450 MB).
pub fn write_json_list<W: std::io::Write>(objects: &[Rendered], w: &mut W) -> Result<(), WriteError> {
    serde_json::to_writer_pretty(&mut *w, &List::of(objects)).map_err(|e| {
        if e.is_io() {
            WriteError::Io(e.into())
        } else {
            WriteError::Serialize(OutputError {
                object: "v1/List".into(),
                message: e.to_string(),
            })
        }
    })?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

/// Relative path of an object's file: `NN-phase/kind-name.yaml`, in apply order when sorted.
#[must_use]
pub fn file_path(r: &Rendered) -> String {
    let n = Phase::ALL.iter().position(|p| *p == r.policy.phase).unwrap_or(0) + 1;
    format!(
        "{n:02}-{}/{}-{}.yaml",
        r.policy.phase.as_str(),
        r.object.kind().to_ascii_lowercase(),
        r.object.name()
    )
}

/// One (relative path, YAML) pair per object.
pub fn files(objects: &[Rendered]) -> Result<Vec<(String, String)>, OutputError> {
    let docs = serialize_all(objects)?;
    Ok(objects.iter().map(file_path).zip(docs).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn streamed_output_equals_the_string_output() {
        let model = devstats_model::testing::synthetic(300);
        let set = crate::render(&model, &crate::Options::default()).expect("renders");
        let mut buf = Vec::new();
        super::write_yaml_stream(&set.objects, &mut buf).expect("writes");
        assert_eq!(
            String::from_utf8(buf).expect("utf-8"),
            super::yaml_stream(&set.objects).expect("yaml")
        );
    }

    #[test]
    fn streamed_json_equals_the_string_json() {
        let model = devstats_model::testing::synthetic(30);
        let set = crate::render(&model, &crate::Options::default()).expect("renders");
        let mut buf = Vec::new();
        super::write_json_list(&set.objects, &mut buf).expect("writes");
        let text = super::json_list(&set.objects).expect("json");
        assert!(text.len() > 10_000 && text.ends_with("}\n"));
        assert_eq!(String::from_utf8(buf).expect("utf-8"), text);
    }
}
