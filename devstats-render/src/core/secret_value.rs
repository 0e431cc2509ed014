//! Secret values given to the render: held so that they are never printed.

use std::collections::BTreeMap;
use std::fmt;

/// A secret value; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes (for building the Secret only).
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Number of bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

/// Secret values by key (file name), e.g. `PG_PASS.secret`.
pub type SecretValues = BTreeMap<String, SecretValue>;

#[cfg(test)]
mod tests {
    use super::SecretValue;

    #[test]
    fn secret_values_never_print() {
        let v = SecretValue::new(b"hunter2".to_vec());
        assert_eq!(format!("{v:?}"), "<redacted, 7 bytes>");
        assert_eq!(format!("{v}"), "<redacted, 7 bytes>");
        assert!(!format!("{:?}", vec![v]).contains("hunter2"));
    }
}
