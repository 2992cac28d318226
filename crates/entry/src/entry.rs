//! A loaded entry: its id, kind, free-form meta and data, where it came from, and the checked
//! spec of the kinds Starling runs.
//!
//! The spec ([`EntrySpec`]) is defined with the kinds in [`crate::kind`], the place
//! ([`Origin`]) in [`crate::origin`]; both are re-exported here.

use serde_json::{Map, Value};

use crate::error::{EntryRef, Site};
use crate::id::EntryId;
pub use crate::kind::EntrySpec;
pub use crate::origin::Origin;

/// One named definition of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `namespace:name`.
    pub id: EntryId,
    /// The kind as written (`process.lua`, `http.service`, ...).
    pub kind: String,
    /// Free-form metadata: file-level `meta` merged with the entry's (entry keys win).
    pub meta: Map<String, Value>,
    /// The entry's fields other than `name`, `kind` and `meta` (or its `data:` value), with
    /// `file://` references replaced by file contents and overrides applied.
    pub data: Map<String, Value>,
    /// Where the entry is defined.
    pub origin: Origin,
    /// The checked, typed form of `data` for the kinds Starling implements.
    pub spec: EntrySpec,
}

impl Entry {
    /// A [`Site`] naming this entry, for error messages of later layers.
    pub fn site(&self) -> Site {
        Site {
            file: self.origin.file.clone(),
            line: self.origin.line,
            column: None,
            entry: Some(EntryRef::Id(self.id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_the_entry() {
        let entry = Entry {
            id: EntryId::new("app", "x"),
            kind: "x.y".into(),
            meta: Map::new(),
            data: Map::new(),
            origin: Origin {
                file: "src/a.yaml".into(),
                line: Some(12),
                index: Some(3),
            },
            spec: EntrySpec::Unsupported,
        };
        assert_eq!(entry.site().to_string(), "src/a.yaml:12: entry app:x");
    }
}
