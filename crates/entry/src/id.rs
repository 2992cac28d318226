//! Entry ids: `namespace:name`, split at the first colon (SPEC 1.4).

use std::fmt;
use std::str::FromStr;

/// The id of an entry in the registry: `namespace:name`.
///
/// Namespaces are dot-separated (`app`, `app.api.v2`); names may contain dots, dashes and
/// underscores (`relay-service`, `get_user.endpoint`). Ids order by namespace, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    /// The part before the first colon.
    pub namespace: String,
    /// The part after the first colon.
    pub name: String,
}

impl EntryId {
    /// Builds an id from its two parts, unchecked.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> EntryId {
        EntryId {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Resolves a reference written in a YAML field of an entry in `namespace`: a bare `name`
    /// means `namespace:name`, a reference with a colon is taken verbatim.
    ///
    /// ```
    /// use starling_entry::EntryId;
    /// assert_eq!(EntryId::resolve("relay", "app").unwrap().to_string(), "app:relay");
    /// assert_eq!(EntryId::resolve("lib:x", "app").unwrap().to_string(), "lib:x");
    /// ```
    pub fn resolve(reference: &str, namespace: &str) -> Result<EntryId, IdError> {
        if reference.is_empty() {
            return Err(IdError::Empty);
        }
        if reference.contains(':') {
            reference.parse()
        } else {
            Ok(EntryId::new(namespace, reference))
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)
    }
}

impl FromStr for EntryId {
    type Err = IdError;

    /// Parses a fully qualified id; both parts must be non-empty.
    fn from_str(s: &str) -> Result<EntryId, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let Some((namespace, name)) = s.split_once(':') else {
            return Err(IdError::MissingNamespace(s.to_owned()));
        };
        if namespace.is_empty() {
            return Err(IdError::MissingNamespace(s.to_owned()));
        }
        if name.is_empty() {
            return Err(IdError::MissingName(s.to_owned()));
        }
        Ok(EntryId::new(namespace, name))
    }
}

/// A malformed entry id (`namespace:name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The empty string.
    #[error("entry id is empty")]
    Empty,
    /// No colon, or nothing before it.
    #[error("entry id {0:?} has no namespace (expected namespace:name)")]
    MissingNamespace(String),
    /// Nothing after the first colon.
    #[error("entry id {0:?} has no name (expected namespace:name)")]
    MissingName(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_colon() {
        let id: EntryId = "app.api:get:user".parse().expect("valid id");
        assert_eq!(id.namespace, "app.api");
        assert_eq!(id.name, "get:user");
        assert_eq!(id.to_string(), "app.api:get:user");
    }

    #[test]
    fn rejects_incomplete_ids() {
        assert_eq!("".parse::<EntryId>(), Err(IdError::Empty));
        assert_eq!(
            "relay".parse::<EntryId>(),
            Err(IdError::MissingNamespace("relay".into()))
        );
        assert_eq!(
            ":relay".parse::<EntryId>(),
            Err(IdError::MissingNamespace(":relay".into()))
        );
        assert_eq!(
            "app:".parse::<EntryId>(),
            Err(IdError::MissingName("app:".into()))
        );
        assert_eq!(
            "app:".parse::<EntryId>().unwrap_err().to_string(),
            "entry id \"app:\" has no name (expected namespace:name)"
        );
    }

    #[test]
    fn resolves_bare_names_in_own_namespace() {
        assert_eq!(
            EntryId::resolve("relay-service", "app.v2"),
            Ok(EntryId::new("app.v2", "relay-service"))
        );
        assert_eq!(
            EntryId::resolve("other:x", "app"),
            Ok(EntryId::new("other", "x"))
        );
        assert_eq!(EntryId::resolve("", "app"), Err(IdError::Empty));
        assert_eq!(
            EntryId::resolve("app:", "app"),
            Err(IdError::MissingName("app:".into()))
        );
    }

    #[test]
    fn orders_by_namespace_then_name() {
        let mut ids = [
            EntryId::new("b", "a"),
            EntryId::new("a", "z"),
            EntryId::new("a", "b"),
        ];
        ids.sort();
        let shown: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a:b", "a:z", "b:a"]);
    }
}
