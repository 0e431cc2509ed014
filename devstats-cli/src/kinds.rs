//! The kinds devstats-k8s reads and writes. The table itself (built-in and custom kinds, their
//! REST coordinates and apply order) is render's [`devstats_render::kind`], shared with the
//! render's ordering; this module adds the identity of one object, [`ObjectKey`].

use std::fmt;

use serde_json::Value;

pub use devstats_render::kind::{CUSTOM_RANK, Kind};

/// Identity of one object: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    #[must_use]
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kind,
            namespace: if kind.namespaced {
                namespace.map(str::to_owned)
            } else {
                None
            },
            name: name.to_owned(),
        }
    }

    /// The key of a JSON object (from `apiVersion`, `kind`, `metadata`), when it is a known kind.
    #[must_use]
    pub fn of_value(v: &Value) -> Option<Self> {
        let kind = Kind::from_type_meta(v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?)?;
        let name = v.pointer("/metadata/name")?.as_str()?;
        let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
        Some(Self::new(kind, ns, name))
    }

    /// The key of a listed item whose kind is known from the list request.
    #[must_use]
    pub fn of_item(kind: Kind, v: &Value) -> Option<Self> {
        let name = v.pointer("/metadata/name")?.as_str()?;
        let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
        Some(Self::new(kind, ns, name))
    }

    /// The object's REST path.
    #[must_use]
    pub fn path(&self) -> String {
        self.kind.object_path(self.namespace.as_deref(), &self.name)
    }

    /// Sort key for apply order (kind rank, then namespace and name).
    #[must_use]
    pub fn apply_order(&self) -> (u8, Option<&str>, &str) {
        (self.kind.rank, self.namespace.as_deref(), &self.name)
    }
}

impl serde::Serialize for ObjectKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind.kind, self.name),
            None => write!(f, "{} {}", self.kind.kind, self.name),
        }
    }
}
