//! Loads looked up by key. A REST or gRPC batch field whose key is one
//! value read straight from the parent (`@entity(key: "$this.sku")`,
//! `groupBy`) gives every parent with the same key the same result: the
//! executor files its answers once per key ([`KeyedLoad`]). A level of
//! three thousand order items naming two hundred products then keeps two
//! hundred results, not three thousand, and walks each product once.
//!
//! The walker reads each parent's key and records which key it named
//! ([`Asked`]); it reads a loaded level's items in the order of their
//! answers, as the writer does, so the writer finds each parent's key at
//! the next place of that record. Where it meets parents in another order,
//! it reads the key again and looks its text up.
//!
//! Every other fetched field (own calls, subgraph entities, keys built
//! from several values) is filed per parent, as [`super::execute::Slot`]s.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::execute::Slot;
use super::normalize::{Field, FieldKind};
use crate::error::{GraphqlError, codes};
use crate::json::{self, Doc, Json, KeyPath};
use crate::schema::model::{Binding, FieldDef};
use crate::sources::batching::{BatchPlan, Key, key_text};
use crate::template::{Root, ValueTemplate};

/// A field loaded by a key read from its parent.
pub(crate) struct Keyed<'p> {
    /// The batch that loads it.
    pub(crate) batch: &'p Arc<BatchPlan>,
    /// Where the key (or list of keys) stands in the parent.
    pub(crate) path: &'p KeyPath,
    /// The entity's name for an entity field; `None` for grouped items.
    pub(crate) entity: Option<&'p str>,
}

impl<'p> Keyed<'p> {
    /// How `definition` is loaded, when it is loaded by a key read from
    /// its parent.
    pub(crate) fn of(definition: &'p FieldDef) -> Option<Self> {
        let (batch, template, entity) = match &definition.binding {
            Binding::Entity(plan) => (&plan.batch, &plan.key, Some(plan.entity.as_str())),
            Binding::Grouped(plan) if plan.after.is_empty() && plan.pick.is_none() => {
                (&plan.batch, &plan.key, None)
            }
            _ => return None,
        };
        let ValueTemplate::Var(var) = template else {
            return None;
        };
        let plain = var.root == Root::This && batch.key_names.len() == 1 && !batch.graphql;
        plain.then_some(Self {
            batch,
            path: &var.path,
            entity,
        })
    }

    /// How `field` is loaded, when it is a field of the schema loaded by a
    /// key read from its parent: worked out on its first use and kept
    /// with the field, since the walker and the writer ask for every
    /// parent.
    #[inline]
    pub(crate) fn of_field(field: &'p Field) -> Option<Self> {
        let by = field.keyed.get_or_init(|| match &field.kind {
            FieldKind::Schema(definition) => Self::of(definition).map(|keyed| KeyedBy {
                batch: keyed.batch.clone(),
                path: keyed.path.clone(),
                entity: keyed.entity.map(str::to_owned),
            }),
            _ => None,
        });
        by.as_ref().map(|by| Self {
            batch: &by.batch,
            path: &by.path,
            entity: by.entity.as_deref(),
        })
    }

    /// The parent's key (or list of keys); `None` when it has none.
    pub(crate) fn key_of<'j>(&self, parent: Json<'j>) -> Option<Json<'j>> {
        self.path.find(parent)
    }
}

/// What [`Keyed`] borrows from a field's definition, kept with a planned
/// field (see [`Keyed::of_field`]).
#[derive(Debug)]
pub(crate) struct KeyedBy {
    batch: Arc<BatchPlan>,
    path: KeyPath,
    entity: Option<String>,
}

/// Key texts and their indexes. Ids and codes are short: a text of up
/// to 15 bytes is packed with its length into two words, kept in a small
/// open-addressed table, so that finding it hashes two words and follows
/// no pointer.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// A power of two in length (or empty); linear probing.
    short: Vec<Place>,
    /// How many of `short` are taken.
    taken: usize,
    long: FxHashMap<Box<[u8]>, usize>,
}

/// A place of [`KeyIndex::short`]: a packed text and its index plus one
/// (zero when the place is free).
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    packed: Packed,
    index: u32,
}

/// A short text as two words: its bytes, its length in the top byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Packed {
    low: u64,
    high: u64,
}

impl Packed {
    /// A folded multiply of the two words, which spreads a difference in
    /// any byte over the whole hash (keys such as `SKU-0042` differ only
    /// in their last bytes).
    #[allow(clippy::cast_possible_truncation)]
    fn hash(self) -> usize {
        const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
        let folded = u128::from(self.low ^ SEED) * u128::from(self.high ^ SEED.rotate_left(32));
        ((folded as u64) ^ ((folded >> 64) as u64)) as usize
    }
}

impl KeyIndex {
    /// The index of `text`. Inlined where it is called: a call's saving
    /// and restoring of registers was a third of its cost.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn get(&self, text: &[u8]) -> Option<usize> {
        match pack(text) {
            Some(packed) => self.get_short(packed),
            None => self.long.get(text).copied(),
        }
    }

    #[inline]
    fn get_short(&self, packed: Packed) -> Option<usize> {
        let mask = self.short.len().checked_sub(1)?;
        let mut at = packed.hash() & mask;
        loop {
            let place = self.short.get(at)?;
            if place.index == 0 {
                return None;
            }
            if place.packed == packed {
                return Some(place.index as usize - 1);
            }
            at = (at + 1) & mask;
        }
    }

    /// Gives `text` the index `index`.
    pub(crate) fn insert(&mut self, text: &[u8], index: usize) {
        match (pack(text), u32::try_from(index + 1)) {
            (Some(packed), Ok(index)) => self.insert_short(Place { packed, index }),
            _ => {
                self.long.insert(text.into(), index);
            }
        }
    }

    fn insert_short(&mut self, new: Place) {
        if (self.taken + 1) * 2 > self.short.len() {
            self.grow();
        }
        let mask = self.short.len() - 1;
        let mut at = new.packed.hash() & mask;
        while let Some(place) = self.short.get_mut(at) {
            if place.index == 0 || place.packed == new.packed {
                self.taken += usize::from(place.index == 0);
                *place = new;
                return;
            }
            at = (at + 1) & mask;
        }
    }

    /// Doubles the table (at least sixteen places), placing every text again.
    fn grow(&mut self) {
        let size = (self.short.len() * 2).max(16);
        let old = std::mem::replace(&mut self.short, vec![Place::default(); size]);
        self.taken = 0;
        for place in old.into_iter().filter(|place| place.index != 0) {
            self.insert_short(place);
        }
    }
}

/// A text of up to 15 bytes as two words: its bytes (read as whole
/// words, some of them twice, so that nothing is copied byte by byte
/// through the stack), with its length in the top byte.
#[inline]
fn pack(bytes: &[u8]) -> Option<Packed> {
    let length = bytes.len();
    let word = |at: usize| bytes.get(at..at + 8).and_then(|b| b.first_chunk::<8>());
    let half = |at: usize| bytes.get(at..at + 4).and_then(|b| b.first_chunk::<4>());
    let (low, high) = match length {
        0 => (0, 0),
        1..=3 => {
            let byte = |at: usize| u64::from(bytes[at]);
            (byte(0) | byte(length / 2) << 8 | byte(length - 1) << 16, 0)
        }
        4..=7 => {
            let first = u64::from(u32::from_le_bytes(*half(0)?));
            let last = u64::from(u32::from_le_bytes(*half(length - 4)?));
            (first | last << 32, 0)
        }
        8..=15 => {
            let last = u64::from_le_bytes(*word(length - 8)?);
            // The bytes after the first eight, at the bottom.
            let unused_bits = u32::try_from(8 * (16 - length)).unwrap_or(64);
            let after_first = last.checked_shr(unused_bits).unwrap_or(0);
            (u64::from_le_bytes(*word(0)?), after_first)
        }
        _ => return None,
    };
    let high = high | (length as u64) << 56;
    Some(Packed { low, high })
}

/// A field's result, found by its parent's key or filed per parent:
/// borrowed from the answers, as the walker and the writer read it. A
/// single value may be `null`; a failure is shared, not copied.
pub(crate) type Filed<'r> = Resolved<Json<'r>, Arc<GraphqlError>>;

impl<'r> Filed<'r> {
    /// A result filed per parent, as read.
    pub(crate) fn of_slot(slot: &'r Slot) -> Self {
        match slot {
            Slot::One(found) => Self::One(found.node()),
            Slot::Many(items) => Self::Many(
                items
                    .iter()
                    .map(|found| found.as_ref().map(super::execute::Found::node))
                    .collect(),
            ),
            Slot::Null => Self::Null,
            Slot::Failed(error) => Self::Failed(error.clone()),
        }
    }
}

/// Where a key's items are, as (chunk, place in its answer). Most keys
/// name one entity: its place is kept inline, without an allocation.
pub(crate) type Places = SmallVec<[(usize, u32); 1]>;

/// One round's answers of a batch, by key.
#[derive(Debug)]
pub(crate) struct KeyedLoad {
    /// Each key's index, by its text.
    pub(crate) texts: KeyIndex,
    /// The keys, in the order they were met.
    pub(crate) keys: Vec<Key>,
    /// The answers (`None` for a chunk that failed).
    pub(crate) chunks: Vec<Option<Arc<Doc>>>,
    /// Per key: the items it found.
    pub(crate) found: Vec<Places>,
    /// Per key: why its chunk failed.
    pub(crate) failed: Vec<Option<Arc<GraphqlError>>>,
    /// The keyed fields that asked, each with the keys its parents named.
    pub(crate) asked: Vec<Asked>,
}

/// The keys a field's parents named in one round.
#[derive(Debug)]
pub(crate) struct Asked {
    /// The field's id.
    pub(crate) field: u32,
    /// Whether only each key's first item is its value (an entity, or a
    /// field that is not a list).
    pub(crate) first_only: bool,
    /// The keys, each once.
    pub(crate) keys: Vec<usize>,
    /// Whether each key of the group is among `keys`.
    marked: Vec<bool>,
    /// Which key each parent named.
    parents: ParentKeys,
}

/// Which key each parent named, in the order the walker met the parents:
/// the writer mostly meets them in the same order (both read a level's
/// items in the order of their answers), so it finds a parent's key at the
/// next place instead of reading and matching the key's text again.
#[derive(Debug, Default)]
struct ParentKeys {
    /// Each parent met (its identity) and the index of the key it named.
    named: Vec<((usize, u32), u32)>,
    /// Where the writer is expected to ask next.
    next: AtomicUsize,
}

/// The most parents [`Asked::new`] makes room for up front (1 MiB).
const MAX_PARENTS_ROOM: usize = 1 << 16;

/// How many places past the expected one a parent is looked for: a
/// parent the writer skips (or meets twice) does not lose the order.
const LOOK_AHEAD: usize = 4;

impl ParentKeys {
    fn record(&mut self, parent: Json<'_>, key: usize) {
        if let Ok(key) = u32::try_from(key) {
            self.named.push((parent.identity(), key));
        }
    }

    /// The key `parent` named, when it is among the next few places;
    /// `None` when it is not (the writer then matches the key's text).
    #[inline]
    fn get(&self, parent: Json<'_>) -> Option<usize> {
        let identity = parent.identity();
        let next = self.next.load(Ordering::Relaxed);
        let mut ahead = self.named.get(next..)?.iter().take(LOOK_AHEAD);
        let found = ahead.position(|(named, _)| *named == identity)?;
        self.next.store(next + found + 1, Ordering::Relaxed);
        Some(self.named[next + found].1 as usize)
    }
}

impl Asked {
    /// A field of `definition` with no key asked yet, whose record of
    /// parents has room for `parents` (at most [`MAX_PARENTS_ROOM`]: one
    /// large request does not size every later one).
    pub(crate) fn new(
        field: u32,
        definition: &FieldDef,
        keyed: &Keyed<'_>,
        parents: usize,
    ) -> Self {
        Self {
            field,
            first_only: keyed.entity.is_some() || !definition.shape.is_list(),
            keys: Vec::new(),
            marked: Vec::new(),
            parents: ParentKeys {
                named: Vec::with_capacity(parents.min(MAX_PARENTS_ROOM)),
                next: AtomicUsize::new(0),
            },
        }
    }

    /// How many parents named a key, one each.
    pub(crate) fn parents(&self) -> usize {
        self.parents.named.len()
    }

    /// Records that `parent` named the key at `index` (one key, not a
    /// list of them).
    pub(crate) fn ask_for(&mut self, parent: Json<'_>, index: usize) {
        self.ask(index);
        self.parents.record(parent, index);
    }

    /// Records that a parent named the key at `index`.
    pub(crate) fn ask(&mut self, index: usize) {
        if index >= self.marked.len() {
            self.marked.resize(index + 1, false);
        }
        if !self.marked[index] {
            self.marked[index] = true;
            self.keys.push(index);
        }
    }
}

impl KeyedLoad {
    /// The item at `(chunk, at)`.
    fn item(&self, (chunk, at): (usize, u32)) -> Option<Json<'_>> {
        self.chunks.get(chunk)?.as_ref().map(|answer| answer.at(at))
    }

    /// The first item key `index` found, or why its chunk failed.
    fn first(&self, index: usize) -> Result<Option<Json<'_>>, &Arc<GraphqlError>> {
        match &self.failed[index] {
            Some(error) => Err(error),
            None => Ok(self.found[index]
                .first()
                .and_then(|&place| self.item(place))),
        }
    }

    /// The items the walker goes on with for a field that asked, each
    /// once, in the order of their answers (`first_only` keeps each key's
    /// first): each answer's items are marked in a bit per value of it,
    /// then read off in order.
    pub(crate) fn walked(&self, asked: &Asked) -> Vec<Json<'_>> {
        let words =
            |answer: &Option<Arc<Doc>>| answer.as_ref().map_or(0, |doc| doc.values().div_ceil(64));
        let mut marks: Vec<Vec<u64>> = self
            .chunks
            .iter()
            .map(|answer| vec![0; words(answer)])
            .collect();
        for (chunk, at) in self.places(asked) {
            mark(&mut marks[chunk], at);
        }
        let count = marks
            .iter()
            .flatten()
            .map(|word| word.count_ones() as usize)
            .sum();
        let mut items = Vec::with_capacity(count);
        for (marked, answer) in marks.iter().zip(&self.chunks) {
            if let Some(answer) = answer {
                each_marked(marked, |at| items.push(answer.at(at)));
            }
        }
        items
    }

    /// Where the items of [`Self::walked`] are, key by key.
    fn places(&self, asked: &Asked) -> impl Iterator<Item = (usize, u32)> {
        asked
            .keys
            .iter()
            .filter(|&&index| self.failed[index].is_none())
            .flat_map(move |&index| {
                let found = &self.found[index];
                let taken = if asked.first_only { 1 } else { found.len() };
                found.iter().take(taken).copied()
            })
    }
}

/// Every keyed load of a request, and which of them each field's keys
/// went to.
#[derive(Debug, Default)]
pub(crate) struct KeyedResults {
    loads: Vec<KeyedLoad>,
    /// By field id: each load it asked, and where it is in the load's
    /// `asked`.
    by_field: Vec<Vec<(usize, usize)>>,
}

impl KeyedResults {
    /// Files a round's load; yields its index.
    pub(crate) fn add(&mut self, load: KeyedLoad) -> usize {
        let index = self.loads.len();
        for (position, asked) in load.asked.iter().enumerate() {
            let field = asked.field as usize;
            if field >= self.by_field.len() {
                self.by_field.resize_with(field + 1, Vec::new);
            }
            self.by_field[field].push((index, position));
        }
        self.loads.push(load);
        index
    }

    /// Whether a load filed so far was asked by the field `field`: the
    /// walker asks this of every keyed field it meets, most often of one
    /// not loaded yet.
    #[inline]
    pub(crate) fn loaded(&self, field: u32) -> bool {
        self.by_field
            .get(field as usize)
            .is_some_and(|loads| !loads.is_empty())
    }

    /// The load at `index`.
    pub(crate) fn load(&self, index: usize) -> &KeyedLoad {
        &self.loads[index]
    }

    /// The items of the field `field` ([`KeyedLoad::walked`] of every load
    /// it asked), each once, in the order of their answers.
    pub(crate) fn items_in_answer_order(&self, field: u32) -> Vec<Json<'_>> {
        let asked_by = self.by_field.get(field as usize).into_iter().flatten();
        let mut walked = asked_by.map(|&(index, asked)| {
            let load = &self.loads[index];
            load.walked(&load.asked[asked])
        });
        // Most fields ask one load: its items are the field's.
        let mut items = walked.next().unwrap_or_default();
        for more in walked {
            items.extend(more);
        }
        items
    }

    /// Where the key of the field `field` that `parent` named is: its
    /// load and its index there. Found where the walker recorded it, else
    /// by the key's text; `None` for a list of keys, or a key not loaded.
    #[inline]
    pub(crate) fn locate(
        &self,
        field: u32,
        keyed: &Keyed<'_>,
        parent: Json<'_>,
    ) -> Option<(usize, usize)> {
        let asked_by = self.by_field.get(field as usize)?;
        let recorded = asked_by.iter().find_map(|&(index, asked)| {
            let key = self.loads[index].asked[asked].parents.get(parent)?;
            Some((index, key))
        });
        recorded.or_else(|| {
            let key = keyed.key_of(parent).filter(|key| !key.is_array())?;
            self.locate_text(asked_by, key)
        })
    }

    /// The load (among those `asked_by` names) that loaded `key`, and its
    /// index there, found by the key's text.
    fn locate_text(&self, asked_by: &[(usize, usize)], key: Json<'_>) -> Option<(usize, usize)> {
        let text = json::key_text(key);
        asked_by
            .iter()
            .find_map(|&(index, _)| Some((index, self.loads[index].texts.get(&text)?)))
    }

    /// The result of a field of `definition` (loaded as `keyed` says)
    /// whose parent's key is the one [`Self::locate`] found.
    pub(crate) fn filed_at(
        &self,
        definition: &FieldDef,
        keyed: &Keyed<'_>,
        (load, key): (usize, usize),
    ) -> Filed<'_> {
        resolve(
            definition,
            keyed.entity,
            &[(&self.loads[load], key)],
            &ByKey(PhantomData),
        )
    }

    /// The result of the field `field` (loaded as `keyed` says) under
    /// the parent whose key is `key`; `None` while some key is not
    /// loaded.
    pub(crate) fn filed(
        &self,
        field: u32,
        definition: &FieldDef,
        keyed: &Keyed<'_>,
        key: Json<'_>,
    ) -> Option<Filed<'_>> {
        let asked_by = self
            .by_field
            .get(field as usize)
            .filter(|asked_by| !asked_by.is_empty())?;
        let locate = |key: Json<'_>| {
            let (index, key) = self.locate_text(asked_by, key)?;
            Some((&self.loads[index], key))
        };
        Some(match key.items() {
            Some(items) => {
                let located = items.map(locate).collect::<Option<Vec<_>>>()?;
                resolve(definition, keyed.entity, &located, &ByKey(PhantomData))
            }
            None => resolve(
                definition,
                keyed.entity,
                &[locate(key)?],
                &ByKey(PhantomData),
            ),
        })
    }
}

/// Marks the value at `at` in a bit per value of its document.
fn mark(marked: &mut [u64], at: u32) {
    if let Some(word) = marked.get_mut(at as usize / 64) {
        *word |= 1 << (at % 64);
    }
}

/// Calls `each` with the places marked, in order.
fn each_marked(marked: &[u64], mut each: impl FnMut(u32)) {
    for (index, &word) in (0_u32..).zip(marked) {
        let mut word = word;
        while word != 0 {
            each(index * 64 + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

/// What the keys of a loaded field found, as [`resolve`] reads it.
pub(crate) trait KeyItems {
    /// A key, as the field names it.
    type Key: Copy;
    /// An item found.
    type Item;
    /// Why a key found nothing it could use.
    type Error;

    /// The first item `key` found, or why its chunk failed.
    fn first(&self, key: Self::Key) -> Result<Option<Self::Item>, Self::Error>;

    /// Every item `key` found, or why its chunk failed.
    fn all(&self, key: Self::Key) -> Result<Vec<Option<Self::Item>>, Self::Error>;

    /// The error of a non-null entity `key` did not find.
    fn not_found(&self, entity: &str, key: Self::Key) -> Self::Error;
}

/// A fetched field's value: filed per parent ([`Slot`]) or found by its
/// parent's key ([`Filed`]); [`resolve`] decides a loaded one by the same
/// rules for both.
#[derive(Debug, Clone)]
pub enum Resolved<T, E> {
    /// One value.
    One(T),
    /// A list of loaded items (`None` where a key found nothing).
    Many(Vec<Option<T>>),
    /// Nothing (not found, or no key).
    Null,
    /// The fetch failed, or a non-null entity was not found; the error is
    /// reported at every path showing it.
    Failed(E),
}

/// The value of a field of `definition` (an entity's when `entity` names
/// it, else grouped items) whose parent named `keys`: a list of entities
/// takes each key's first item, a list of grouped items every item of
/// the first key, and a single value the first key's first item.
pub(crate) fn resolve<I: KeyItems>(
    definition: &FieldDef,
    entity: Option<&str>,
    keys: &[I::Key],
    items: &I,
) -> Resolved<I::Item, I::Error> {
    let resolved = match (entity, definition.shape.is_list(), keys.first()) {
        (_, _, None) => Ok(Resolved::Many(Vec::new())),
        (Some(_), true, _) => keys
            .iter()
            .map(|&key| items.first(key))
            .collect::<Result<Vec<_>, _>>()
            .map(Resolved::Many),
        (None, true, Some(&key)) => items.all(key).map(Resolved::Many),
        (entity, false, Some(&key)) => items.first(key).map(|found| match (found, entity) {
            (Some(item), _) => Resolved::One(item),
            (None, Some(name)) if !definition.shape.nullable => {
                Resolved::Failed(items.not_found(name, key))
            }
            (None, _) => Resolved::Null,
        }),
    };
    resolved.unwrap_or_else(Resolved::Failed)
}

/// The error of a non-null entity `name` that `key` did not find.
pub(crate) fn not_found(name: &str, key: &Key) -> GraphqlError {
    let message = format!("no `{name}` with key \"{}\"", key_text(key));
    GraphqlError::new(message, codes::NOT_FOUND)
}

/// Keys located in the keyed loads of a request.
struct ByKey<'r>(PhantomData<&'r KeyedLoad>);

impl<'r> KeyItems for ByKey<'r> {
    type Key = (&'r KeyedLoad, usize);
    type Item = Json<'r>;
    type Error = Arc<GraphqlError>;

    fn first(&self, (load, index): Self::Key) -> Result<Option<Json<'r>>, Self::Error> {
        load.first(index).map_err(Arc::clone)
    }

    fn all(&self, (load, index): Self::Key) -> Result<Vec<Option<Json<'r>>>, Self::Error> {
        if let Some(error) = &load.failed[index] {
            return Err(error.clone());
        }
        Ok(load.found[index]
            .iter()
            .map(|&place| load.item(place))
            .collect())
    }

    fn not_found(&self, entity: &str, (load, index): Self::Key) -> Self::Error {
        Arc::new(not_found(entity, &load.keys[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_places_come_out_in_order_once_each() {
        let items: Vec<String> = (0..140).map(|n| n.to_string()).collect();
        let doc = Doc::parse(format!("[{}]", items.join(","))).unwrap();
        let mut marked = vec![0; doc.values().div_ceil(64)];
        for at in [129, 3, 64, 3, 1, 63, 128] {
            mark(&mut marked, at);
        }
        let mut places = Vec::new();
        each_marked(&marked, |at| places.push(at));
        assert_eq!(places, [1, 3, 63, 64, 128, 129]);
    }

    #[test]
    fn parents_are_found_in_the_order_they_were_met_skipping_a_few() {
        let first = Doc::parse(r#"[{"k":"a"},{"k":"b"},{"k":"c"}]"#).unwrap();
        let second = Doc::parse(r#"[{"k":"a"},{"k":"b"},{"k":"c"}]"#).unwrap();
        let (one, two, three) = (1, 4, 7);
        let met = [
            (first.at(one), 10),
            (second.at(one), 11),
            (first.at(two), 12),
            (first.at(three), 13),
            (second.at(two), 14),
            (second.at(three), 15),
        ];
        let mut parents = ParentKeys::default();
        for (parent, key) in met {
            parents.record(parent, key);
        }
        assert_eq!(parents.get(first.at(one)), Some(10));
        // The same value of another document is another parent.
        assert_eq!(parents.get(second.at(one)), Some(11));
        // One skipped, then on from there.
        assert_eq!(parents.get(first.at(three)), Some(13));
        assert_eq!(parents.get(second.at(two)), Some(14));
        // Behind the order: left to the key's text.
        assert_eq!(parents.get(first.at(two)), None);
        assert_eq!(parents.get(second.at(three)), Some(15));
        assert_eq!(parents.get(second.at(three)), None);
        // Not a parent at all.
        assert_eq!(parents.get(first.at(0)), None);
    }

    #[test]
    fn a_parent_further_ahead_than_the_look_ahead_is_left_to_its_text() {
        let items: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        let doc = Doc::parse(format!("[{}]", items.join(","))).unwrap();
        let mut parents = ParentKeys::default();
        for at in 1..=10 {
            parents.record(doc.at(at), at as usize);
        }
        let far = u32::try_from(LOOK_AHEAD).unwrap() + 1;
        assert_eq!(parents.get(doc.at(far)), None);
        assert_eq!(parents.get(doc.at(1)), Some(1));
    }

    #[test]
    fn key_texts_short_and_long_find_their_own_index() {
        let texts = [
            "",
            "7",
            "07",
            "SKU-0042",
            "SKU-0043",
            "SKU-00420",
            "fifteen bytes!!",
            "sixteen bytes!!!",
            "a key much longer than sixteen bytes",
        ];
        let mut index = KeyIndex::default();
        for (at, text) in texts.iter().enumerate() {
            index.insert(text.as_bytes(), at);
        }
        for (at, text) in texts.iter().enumerate() {
            assert_eq!(index.get(text.as_bytes()), Some(at), "{text:?}");
        }
        assert_eq!(index.get(b"SKU-0044"), None);
        assert_eq!(index.get(b"sixteen bytes!!?"), None);
        assert_eq!(index.get(b"\0"), None);
    }

    #[test]
    fn texts_that_differ_in_one_byte_or_in_length_pack_apart() {
        let mut texts = Vec::new();
        for length in 0..=17 {
            let base: String = (0..length).map(|at| char::from(b'a' + at)).collect();
            texts.push(base.clone());
            for at in 0..usize::from(length) {
                let mut changed = base.clone().into_bytes();
                changed[at] = b'Z';
                texts.push(String::from_utf8(changed).unwrap());
            }
            texts.push("a".repeat(usize::from(length)));
        }
        texts.sort();
        texts.dedup();
        let mut index = KeyIndex::default();
        for (at, text) in texts.iter().enumerate() {
            index.insert(text.as_bytes(), at);
        }
        for (at, text) in texts.iter().enumerate() {
            assert_eq!(index.get(text.as_bytes()), Some(at), "{text:?}");
        }
    }
}
