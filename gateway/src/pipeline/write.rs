//! Stage 7: the results → the response's `data` as JSON bytes, in one pass
//! over the selection, in selection order, straight from the backend JSON
//! (no intermediate value tree).
//!
//! Output coercion happens as values are written: an `Int` accepts a JSON
//! number or a numeric string within 32 bits (proto3 JSON writes 64-bit
//! integers as strings), `ID` and `String` accept numbers, an enum accepts
//! its value names or protobuf-style prefixed names (`CATEGORY_BOOKS` for
//! `BOOKS`), a protobuf enum's `…_UNSPECIFIED` zero value is `null`.
//!
//! Null propagation follows the spec as it writes: a failed field is
//! `null`; when it may not be, the enclosing object or list is cut back to
//! where it started and written as `null`, up to the nearest nullable
//! position (or the whole `data`). Every error carries its `path`,
//! `locations` and `extensions.code`. A subgraph's errors are reported
//! where the executor placed them (`placed`): at the `null` they explain,
//! or at the field that made the call.

use std::ops::Range;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde_json::Value;

use super::authorize::Denied;
use super::coerce_variables::Variables;
use super::execute::{Results, slot_key};
use super::keyed::{Filed, Keyed};
use super::normalize::{Field, FieldKind, Operation, SelectionSet};
use super::placed::{self, SubgraphError};
use crate::error::{GraphqlError, PathSegment, codes};
use crate::json::{self, Json};
use crate::schema::model::{Binding, FieldDef, Shape, ShapeKind};

/// A value that had to be `null` where it may not be; the caller nulls
/// the nearest nullable position above it.
struct Null;

/// Where the writer is: a list index or a field's response key, under
/// the place it is in. Kept on the stack, as the writer recurses; read only
/// for an error's `path`.
enum At<'a> {
    Root,
    Key(&'a str, &'a At<'a>),
    Index(usize, &'a At<'a>),
}

impl At<'_> {
    fn path(&self) -> Vec<PathSegment> {
        let mut path = Vec::new();
        let mut at = self;
        loop {
            at = match at {
                At::Root => break,
                At::Key(key, parent) => {
                    path.push(PathSegment::Key((*key).to_owned()));
                    parent
                }
                At::Index(index, parent) => {
                    path.push(PathSegment::Index(*index));
                    parent
                }
            };
        }
        path.reverse();
        path
    }
}

/// Writes `data`: the operation's selection over `root`.
pub fn write(
    operation: &Operation,
    root: Json<'_>,
    results: &Results,
    variables: &Variables,
    denied: &Denied,
    introspection: Option<&Value>,
    capacity: usize,
) -> (Vec<u8>, Vec<GraphqlError>) {
    let mut writer = Writer {
        out: Vec::with_capacity(capacity),
        errors: Vec::new(),
        results,
        variables,
        denied,
        introspection,
        shared: FxHashMap::default(),
        by_key: WrittenByKey::default(),
        ahead: Ahead::default(),
    };
    if writer
        .object(&operation.selection, root, &At::Root)
        .is_err()
    {
        writer.out.clear();
        writer.out.extend_from_slice(b"null");
    }
    (writer.out, writer.errors)
}

struct Writer<'w> {
    out: Vec<u8>,
    errors: Vec<GraphqlError>,
    results: &'w Results,
    variables: &'w Variables,
    denied: &'w Denied,
    introspection: Option<&'w Value>,
    /// Where a loaded object was written whole, without errors, by its
    /// selection's address and the object's identity: an entity that
    /// many parents share (one product under every order item) is
    /// written once and copied after that.
    shared: FxHashMap<WrittenKey, Range<usize>>,
    by_key: WrittenByKey,
    ahead: Ahead,
}

/// The items of large grouped loads, written ahead in the order of their
/// answers. The writer meets such items parent by parent (a user's
/// orders, then the next user's), which jumps about an answer of
/// hundreds of kilobytes that has left the cache by then; written in
/// the answer's order, the reads run straight through it, and each item
/// is then copied where it belongs.
#[derive(Default)]
struct Ahead {
    /// The fields whose items were written ahead (or found too few).
    fields: Vec<u32>,
    /// Whether items are being written ahead: a grouped field inside them
    /// is written with them, in the same order.
    writing: bool,
    /// Where each item was written whole, without errors, by its
    /// selection's address and the item's identity.
    written: FxHashMap<WrittenKey, Range<usize>>,
    text: Vec<u8>,
}

/// What was written: a selection (by its address) over a value (by its
/// identity).
type WrittenKey = (usize, (usize, u32));

fn written_key(selection: &SelectionSet, json: Json<'_>) -> WrittenKey {
    (std::ptr::from_ref(selection).addr(), json.identity())
}

/// How many items a grouped load must have to be written ahead: below
/// this, its answer is small enough to stay in cache.
const AHEAD_MIN_ITEMS: usize = 64;

/// Where a field loaded by its parent's key was written whole, without
/// errors, for each key: every parent naming that key has the same
/// result, so it is found again by the key's place in its load alone
/// (three thousand order items name two hundred products).
#[derive(Default)]
struct WrittenByKey {
    /// By field id, then load: by key index, where it was written (empty
    /// where nothing was, or what was has been cut back).
    written: Vec<Vec<Vec<Range<usize>>>>,
}

impl WrittenByKey {
    #[inline]
    fn get(&self, field: u32, (load, key): (usize, usize)) -> Option<Range<usize>> {
        let written = self.written.get(field as usize)?.get(load)?.get(key)?;
        Some(written.clone()).filter(|written| !written.is_empty())
    }

    fn insert(&mut self, field: u32, (load, key): (usize, usize), written: Range<usize>) {
        let by_load = grown(&mut self.written, field as usize);
        let by_key = grown(by_load, load);
        *grown(by_key, key) = written;
    }

    /// Forgets what was written from `start` on.
    fn cut_back(&mut self, start: usize) {
        let all = self.written.iter_mut().flatten().flatten();
        for written in all.filter(|written| written.end > start) {
            *written = 0..0;
        }
    }
}

/// The place `at` of `places`, which grows to hold it.
fn grown<T: Default>(places: &mut Vec<T>, at: usize) -> &mut T {
    if at >= places.len() {
        places.resize_with(at + 1, T::default);
    }
    &mut places[at]
}

impl Writer<'_> {
    fn object(
        &mut self,
        selection: &SelectionSet,
        parent: Json<'_>,
        at: &At<'_>,
    ) -> Result<(), Null> {
        self.out.push(b'{');
        let mut first = true;
        for field in &selection.fields {
            if field.hidden || !field.condition.holds(self.variables) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            field.key_json.append_to(&mut self.out);
            self.field(field, parent, &At::Key(&field.key, at))?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn field(&mut self, field: &Field, parent: Json<'_>, at: &At<'_>) -> Result<(), Null> {
        let definition = match &field.kind {
            FieldKind::Typename(name) => {
                self.out.extend_from_slice(name.as_bytes());
                return Ok(());
            }
            FieldKind::Introspection => {
                let value = self
                    .introspection
                    .and_then(|data| data.get(&field.key))
                    .unwrap_or(&Value::Null);
                self.json(value);
                return Ok(());
            }
            FieldKind::Schema(definition) => definition,
        };
        let shape = &definition.shape;
        if let Some(error) = self.denied.get(field.id) {
            self.fail(field, error.clone(), at);
            return self.null_if(shape);
        }
        if let Binding::Project(path) = &definition.binding {
            let found = path.find(parent);
            // Most fields are an id, a string or a small integer, copied
            // as they are: written without the general path's checks.
            if let Some(json) = found
                && write_plain(&mut self.out, &shape.kind, json)
            {
                return Ok(());
            }
            let found = found.or_else(|| self.null_node(parent, path));
            let reported = found.is_none() && self.report_missing(field, definition, parent, at);
            return self.value(field, shape, found, at, reported);
        }
        let results = self.results;
        let placed = results.placed().of_field(slot_key(parent, field));
        let reported = self.report(field, placed, at);
        if !reported && let Some(keyed) = Keyed::of_field(field) {
            return self.keyed(field, definition, &keyed, parent, at);
        }
        self.filed(
            field,
            shape,
            results.filed(field, definition, parent),
            at,
            reported,
        )
    }

    /// Writes a field loaded by its parent's key: copied when written for
    /// that key before.
    fn keyed(
        &mut self,
        field: &Field,
        definition: &FieldDef,
        keyed: &Keyed<'_>,
        parent: Json<'_>,
        at: &At<'_>,
    ) -> Result<(), Null> {
        if keyed.entity.is_none() && !self.ahead.writing && !self.ahead.fields.contains(&field.id) {
            self.write_ahead(field, definition);
        }
        let results = self.results;
        let shape = &definition.shape;
        let Some(located) = results.keyed().locate(field.id, keyed, parent) else {
            let key = keyed.key_of(parent);
            let filed = results.filed_by_key(field, definition, keyed, key);
            return self.filed(field, shape, filed, at, false);
        };
        if let Some(written) = self.by_key.get(field.id, located) {
            json::append_within(&mut self.out, written);
            return Ok(());
        }
        let (start, errors) = (self.out.len(), self.errors.len());
        let written = match results.keyed().filed_at(definition, keyed, located) {
            // Found by key from now on: not kept by identity as well.
            Filed::One(json) => self.value(field, shape, Some(json), at, false),
            filed => self.filed(field, shape, Some(filed), at, false),
        };
        if written.is_ok() && self.errors.len() == errors {
            self.by_key.insert(field.id, located, start..self.out.len());
        }
        written
    }

    /// Writes the items of a grouped load for `field` ahead, when there
    /// are enough of them (see [`Ahead`]), after what was written ahead
    /// before. Writing each uses the main output's place: copies of shared
    /// objects stay within the text ahead. An item whose writing reported
    /// an error is not kept, so that the error is reported where the item
    /// stands.
    #[inline(never)]
    fn write_ahead(&mut self, field: &Field, definition: &FieldDef) {
        self.ahead.fields.push(field.id);
        let Some(selection) = &field.selection else {
            return;
        };
        if !matches!(definition.shape.kind, ShapeKind::List(_)) {
            return;
        }
        let items = self.results.keyed().items_in_answer_order(field.id);
        if items.len() < AHEAD_MIN_ITEMS {
            return;
        }
        self.ahead.written.reserve(items.len());
        let room = self.out.capacity() - self.out.len();
        let mut text = std::mem::take(&mut self.ahead.text);
        text.reserve(room);
        let out = std::mem::replace(&mut self.out, text);
        let shared = std::mem::take(&mut self.shared);
        let by_key = std::mem::take(&mut self.by_key);
        let errors = self.errors.len();
        self.ahead.writing = true;
        for item in items.into_iter().filter(|item| item.is_object()) {
            let Ok(set) = selection.of_value(item) else {
                continue;
            };
            let start = self.out.len();
            if self.object(set, item, &At::Root).is_ok() && self.errors.len() == errors {
                let key = written_key(set, item);
                self.ahead.written.insert(key, start..self.out.len());
            } else {
                self.errors.truncate(errors);
                self.cut_back(start);
            }
        }
        self.ahead.writing = false;
        self.ahead.text = std::mem::replace(&mut self.out, out);
        self.shared = shared;
        self.by_key = by_key;
    }

    /// Writes an object, or copies it when it was written ahead. While
    /// items are being written ahead, every object met stands below their
    /// field, where nothing is written ahead (see [`Self::keyed`]): it is
    /// written without a look.
    #[inline]
    fn object_or_ahead(
        &mut self,
        selection: &SelectionSet,
        json: Json<'_>,
        at: &At<'_>,
    ) -> Result<(), Null> {
        if !self.ahead.writing && !self.ahead.written.is_empty() {
            let key = written_key(selection, json);
            if let Some(written) = self.ahead.written.get(&key) {
                self.out
                    .extend_from_slice(&self.ahead.text[written.clone()]);
                return Ok(());
            }
        }
        self.object(selection, json, at)
    }

    /// Writes a fetched field's result as filed.
    fn filed(
        &mut self,
        field: &Field,
        shape: &Shape,
        filed: Option<Filed<'_>>,
        at: &At<'_>,
        reported: bool,
    ) -> Result<(), Null> {
        match filed {
            Some(Filed::One(json)) => self.loaded(field, shape, json, at, reported),
            Some(Filed::Many(items)) => self.many(field, shape, &items, at),
            Some(Filed::Failed(error)) => {
                self.fail(field, Arc::unwrap_or_clone(error), at);
                self.null_if(shape)
            }
            Some(Filed::Null) | None => self.value(field, shape, None, at, reported),
        }
    }

    /// Writes a value loaded for this parent: an object written before
    /// (see `shared`) is copied.
    fn loaded(
        &mut self,
        field: &Field,
        shape: &Shape,
        json: Json<'_>,
        at: &At<'_>,
        reported: bool,
    ) -> Result<(), Null> {
        let copyable = !reported && json.is_object();
        let Some(selection) = field.selection.as_ref().filter(|_| copyable) else {
            return self.value(field, shape, Some(json), at, reported);
        };
        let key = written_key(selection, json);
        if let Some(written) = self.shared.get(&key) {
            json::append_within(&mut self.out, written.clone());
            return Ok(());
        }
        let (start, errors) = (self.out.len(), self.errors.len());
        let written = self.value(field, shape, Some(json), at, reported);
        if written.is_ok() && self.errors.len() == errors {
            self.shared.insert(key, start..self.out.len());
        }
        written
    }

    /// The `null` at `path` under `parent`, when subgraph errors may be
    /// placed at one.
    fn null_node<'j>(&self, parent: Json<'j>, path: &[String]) -> Option<Json<'j>> {
        if self.results.placed().is_empty() {
            return None;
        }
        path.iter().try_fold(parent, |at, key| at.get(key))
    }

    /// Reports the subgraph errors placed at `parent` for the field it
    /// lacks; whether there were any.
    fn report_missing(
        &mut self,
        field: &Field,
        definition: &FieldDef,
        parent: Json<'_>,
        at: &At<'_>,
    ) -> bool {
        let results = self.results;
        if results.placed().is_empty() {
            return false;
        }
        let before = self.errors.len();
        for (error, below) in placed::of_missing(results.placed(), parent, &definition.name) {
            let reported = placed::reported_below(error, below, field, at.path());
            self.errors.push(reported);
        }
        self.errors.len() > before
    }

    /// Reports subgraph errors placed under `field` at `at`; whether
    /// there were any.
    fn report(&mut self, field: &Field, errors: &[Arc<SubgraphError>], at: &At<'_>) -> bool {
        if errors.is_empty() {
            return false;
        }
        self.report_each(field, errors, at);
        true
    }

    #[cold]
    #[inline(never)]
    fn report_each(&mut self, field: &Field, errors: &[Arc<SubgraphError>], at: &At<'_>) {
        for error in errors {
            self.errors.push(placed::reported(error, field, at.path()));
        }
    }

    /// Writes `null` where `shape` allows it; else passes the null up.
    fn null_if(&mut self, shape: &Shape) -> Result<(), Null> {
        if shape.nullable {
            self.out.extend_from_slice(b"null");
            Ok(())
        } else {
            Err(Null)
        }
    }

    /// Writes a value of `shape`, or `null` in its place when it (or
    /// something non-null inside it) fails. A `null` a subgraph error is
    /// placed at reports that error; `reported` says one was reported
    /// for it already.
    fn value(
        &mut self,
        field: &Field,
        shape: &Shape,
        json: Option<Json<'_>>,
        at: &At<'_>,
        reported: bool,
    ) -> Result<(), Null> {
        let Some(json) = json.filter(|json| !json.is_null()) else {
            let results = self.results;
            let placed = json.map_or(&[][..], |null| results.placed().of_value(null));
            let reported = self.report(field, placed, at) || reported;
            if !shape.nullable && !reported {
                self.bad_response(field, "a non-null field got no value".to_owned(), at);
            }
            return self.null_if(shape);
        };
        let start = self.out.len();
        let written = match &shape.kind {
            ShapeKind::List(item) => {
                if let Some(items) = json.items() {
                    self.list(field, item, items.map(Some), at)
                } else {
                    self.bad_response(field, mismatch("a list", json), at);
                    Err(Null)
                }
            }
            ShapeKind::Object if json.is_object() => self.object_value(field, json, at),
            ShapeKind::Object => {
                self.bad_response(field, mismatch("an object", json), at);
                Err(Null)
            }
            scalar => match write_scalar(&mut self.out, scalar, json) {
                Ok(()) => Ok(()),
                Err(reason) => {
                    self.bad_response(field, reason, at);
                    Err(Null)
                }
            },
        };
        self.nulled(written, shape, start)
    }

    /// Writes an object value of `field` with the selection of its type;
    /// an object of no type the selection knows is a bad response.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn object_value(&mut self, field: &Field, json: Json<'_>, at: &At<'_>) -> Result<(), Null> {
        let Some(selection) = &field.selection else {
            return Err(Null);
        };
        match selection.of_value(json) {
            Ok(selection) => self.object_or_ahead(selection, json, at),
            Err(reason) => {
                self.bad_response(field, reason, at);
                Err(Null)
            }
        }
    }

    /// On a failure below, cuts the output back to `start` and writes
    /// `null` when `shape` allows it.
    fn nulled(
        &mut self,
        written: Result<(), Null>,
        shape: &Shape,
        start: usize,
    ) -> Result<(), Null> {
        match written {
            Err(Null) if shape.nullable => {
                self.cut_back(start);
                self.out.extend_from_slice(b"null");
                Ok(())
            }
            other => other,
        }
    }

    /// Forgets what was written from `start` on, and the copies kept of it.
    fn cut_back(&mut self, start: usize) {
        self.out.truncate(start);
        self.shared.retain(|_, written| written.end <= start);
        self.by_key.cut_back(start);
    }

    fn list<'v>(
        &mut self,
        field: &Field,
        item: &Shape,
        items: impl Iterator<Item = Option<Json<'v>>>,
        at: &At<'_>,
    ) -> Result<(), Null> {
        self.out.push(b'[');
        for (index, json) in items.enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            let at = At::Index(index, at);
            // Most items are objects: written without the general path's
            // checks.
            if let (ShapeKind::Object, Some(json)) = (&item.kind, json)
                && json.is_object()
            {
                let start = self.out.len();
                let written = self.object_value(field, json, &at);
                self.nulled(written, item, start)?;
                continue;
            }
            self.value(field, item, json, &at, false)?;
        }
        self.out.push(b']');
        Ok(())
    }

    /// Writes loaded items: a list, or the first item for a single value.
    fn many(
        &mut self,
        field: &Field,
        shape: &Shape,
        items: &[Option<Json<'_>>],
        at: &At<'_>,
    ) -> Result<(), Null> {
        let ShapeKind::List(item) = &shape.kind else {
            let first = items.iter().flatten().next().filter(|json| !json.is_null());
            return self.value(field, shape, first.copied(), at, false);
        };
        let start = self.out.len();
        let written = self.list(field, item, items.iter().copied(), at);
        self.nulled(written, shape, start)
    }

    fn json(&mut self, value: &Value) {
        if serde_json::to_writer(&mut self.out, value).is_err() {
            self.out.extend_from_slice(b"null");
        }
    }

    #[cold]
    #[inline(never)]
    fn bad_response(&mut self, field: &Field, reason: String, at: &At<'_>) {
        let message = format!("the backend's answer does not fit the schema: {reason}");
        let error = GraphqlError::new(message, codes::SOURCE_BAD_RESPONSE);
        self.fail(field, error, at);
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, field: &Field, error: GraphqlError, at: &At<'_>) {
        let mut error = error.at(at.path());
        error.locations = vec![field.location];
        self.errors.push(error);
    }
}

/// Writes a scalar or enum value of `kind`; the error says what did not fit.
/// Strings and integers are copied as the backend wrote them.
fn write_scalar(out: &mut Vec<u8>, kind: &ShapeKind, json: Json<'_>) -> Result<(), String> {
    if write_plain(out, kind, json) {
        return Ok(());
    }
    let written = match kind {
        ShapeKind::Int => int(json).map(|n| {
            if json.is_number() {
                out.extend_from_slice(json.raw_bytes());
            } else {
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            }
        }),
        ShapeKind::Float => float(json).map(|n| text(out, &n)),
        ShapeKind::String | ShapeKind::Id => {
            if json.is_number() {
                out.push(b'"');
                out.extend_from_slice(json.raw_bytes());
                out.push(b'"');
                Some(())
            } else {
                None
            }
        }
        ShapeKind::Boolean => json.as_bool().map(|b| {
            out.extend_from_slice(if b { b"true" } else { b"false" });
        }),
        ShapeKind::Enum(values) => json.as_str().and_then(|s| match values.resolve(&s) {
            Some(name) => {
                text(out, name);
                Some(())
            }
            None if s.ends_with("_UNSPECIFIED") => {
                out.extend_from_slice(b"null");
                Some(())
            }
            None => None,
        }),
        _ => {
            out.extend_from_slice(json.raw_bytes());
            Some(())
        }
    };
    written.ok_or_else(|| mismatch(expected(kind), json))
}

/// Writes the most common scalars, those copied as the backend wrote
/// them: an `Int` of at most nine digits, a string as a `String` or `ID`.
/// Whether it wrote `json`; anything else is left to [`write_scalar`].
#[allow(clippy::inline_always)]
#[inline(always)]
fn write_plain(out: &mut Vec<u8>, kind: &ShapeKind, json: Json<'_>) -> bool {
    let Some((text, length, number)) = json.scalar_text() else {
        return false;
    };
    let plain = match kind {
        ShapeKind::Int => number && text.get(..length).is_some_and(fits_without_parsing),
        ShapeKind::String | ShapeKind::Id => !number,
        _ => false,
    };
    if plain {
        json::append_prefix(out, text, length);
    }
    plain
}

/// Whether a JSON number is an integer of at most nine digits, which
/// always fits in 32 bits: most are, and need no parsing.
fn fits_without_parsing(number: &[u8]) -> bool {
    let digits = number.strip_prefix(b"-").unwrap_or(number);
    digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit)
}

/// A 32-bit integer from a JSON number or a numeric string.
fn int(json: Json<'_>) -> Option<i32> {
    match json.as_str() {
        Some(s) => s.parse().ok(),
        None => json.as_i64().and_then(|n| i32::try_from(n).ok()),
    }
}

/// A float from a JSON number or a numeric string.
fn float(json: Json<'_>) -> Option<f64> {
    match json.as_str() {
        Some(s) => s.parse::<f64>().ok().filter(|n| n.is_finite()),
        None => json.as_f64().filter(|n| n.is_finite()),
    }
}

/// Writes a value as JSON.
fn text<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    if sonic_rs::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
}

fn expected(kind: &ShapeKind) -> &'static str {
    match kind {
        ShapeKind::Int => "an Int (a 32-bit integer)",
        ShapeKind::Float => "a Float",
        ShapeKind::String => "a String",
        ShapeKind::Id => "an ID",
        ShapeKind::Boolean => "a Boolean",
        ShapeKind::Enum(_) => "one of the enum's values",
        _ => "a scalar",
    }
}

#[cold]
fn mismatch(expected: &str, got: Json<'_>) -> String {
    let got = match (got.as_str(), got.is_array(), got.is_object()) {
        (Some(s), _, _) if s.len() <= 40 => format!("\"{s}\""),
        (Some(_), _, _) => "a long string".to_owned(),
        (None, true, _) => "a list".to_owned(),
        (None, _, true) => "an object".to_owned(),
        _ => got.raw().to_owned(),
    };
    format!("expected {expected}, got {got}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::schema::model::EnumValues;

    fn scalar(kind: &ShapeKind, json: &serde_json::Value) -> Result<String, String> {
        let mut out = Vec::new();
        write_scalar(&mut out, kind, crate::json::Doc::from_plain(json).root())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn ints_accept_numbers_and_numeric_strings_within_32_bits() {
        assert_eq!(scalar(&ShapeKind::Int, &json!(42)), Ok("42".to_owned()));
        assert_eq!(
            scalar(&ShapeKind::Int, &json!("1299")),
            Ok("1299".to_owned())
        );
        assert_eq!(
            scalar(&ShapeKind::Int, &json!("9000000000")),
            Err("expected an Int (a 32-bit integer), got \"9000000000\"".to_owned())
        );
        assert!(scalar(&ShapeKind::Int, &json!(1.5)).is_err());
        assert_eq!(
            scalar(&ShapeKind::Int, &json!(-999_999_999)),
            Ok("-999999999".to_owned())
        );
        assert_eq!(
            scalar(&ShapeKind::Int, &json!(2_147_483_647)),
            Ok("2147483647".to_owned())
        );
        assert!(scalar(&ShapeKind::Int, &json!(2_147_483_648_i64)).is_err());
        assert!(scalar(&ShapeKind::Int, &json!(-2_147_483_649_i64)).is_err());
        assert!(scalar(&ShapeKind::Int, &json!(1e3)).is_err());
    }

    #[test]
    fn ids_and_strings_accept_numbers_and_escape_text() {
        assert_eq!(scalar(&ShapeKind::Id, &json!(7)), Ok("\"7\"".to_owned()));
        assert_eq!(
            scalar(&ShapeKind::String, &json!("a\"b")),
            Ok("\"a\\\"b\"".to_owned())
        );
        assert!(scalar(&ShapeKind::String, &json!(true)).is_err());
    }

    #[test]
    fn enums_accept_their_names_and_protobuf_prefixed_names() {
        let values = ShapeKind::Enum(Arc::new(EnumValues {
            names: ["BOOKS".to_owned()].into_iter().collect(),
        }));
        assert_eq!(scalar(&values, &json!("BOOKS")), Ok("\"BOOKS\"".to_owned()));
        assert_eq!(
            scalar(&values, &json!("PRODUCT_CATEGORY_BOOKS")),
            Ok("\"BOOKS\"".to_owned())
        );
        assert!(scalar(&values, &json!("TOYS")).is_err());
        assert_eq!(
            scalar(&values, &json!("CATEGORY_UNSPECIFIED")),
            Ok("null".to_owned())
        );
    }
}
