//! Stage 6: which fields of a planned operation the caller may not read
//! (`@authenticated`, `@requiresScopes`), decided per request before any
//! backend call. The plan lists its guarded fields once; here each is
//! checked against the request's [`Identity`]. A denied field is neither
//! fetched nor walked into; the writer answers it `null` with the error at
//! its path (propagating as for any failed field), and the rest of the
//! response stays.

use super::normalize::{FieldKind, SelectionSet};
use crate::auth::{self, Identity};
use crate::error::GraphqlError;
use crate::schema::model::Access;

/// The fields of one request the caller may not read, by field id.
#[derive(Debug, Default)]
pub struct Denied(Vec<(u32, GraphqlError)>);

impl Denied {
    /// The guarded fields of a plan that `identity` may not read.
    pub fn of(guarded: &[(u32, Access)], identity: &Identity) -> Self {
        Self(
            guarded
                .iter()
                .filter_map(|(id, access)| Some((*id, auth::refusal(access, identity)?)))
                .collect(),
        )
    }

    /// The ids of the denied fields.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().map(|(id, _)| *id)
    }

    /// Why the field with this id is denied, if it is.
    pub fn get(&self, field: u32) -> Option<&GraphqlError> {
        self.0
            .iter()
            .find_map(|(id, error)| (*id == field).then_some(error))
    }
}

/// Every field under `selection` whose definition restricts who reads it.
pub fn guarded(selection: &SelectionSet) -> Vec<(u32, Access)> {
    let mut found = Vec::new();
    collect(selection, &mut found);
    found
}

fn collect(selection: &SelectionSet, found: &mut Vec<(u32, Access)>) {
    for field in selection.all_fields() {
        if let FieldKind::Schema(definition) = &field.kind
            && !definition.access.is_open()
        {
            found.push((field.id, definition.access.clone()));
        }
        if let Some(selection) = &field.selection {
            collect(selection, found);
        }
    }
}
