//! Fields that are data already in memory, resolved in one synchronous walk.
//!
//! async-graphql resolves every field of an object as a boxed future of its own, polled through a
//! `FuturesUnordered` (two allocations and a wake-up per field), and then builds the object from
//! their results. For a metric's scalars, its definition and its filters — a few dozen fields per
//! item of a list — that machinery cost most of the list (`benches/batching.md`, "Plain fields
//! read in one walk").
//!
//! [`Fast`] is the same GraphQL type as the object it wraps: its type information is the inner
//! type's, so the schema does not change. It resolves the fields the object names in
//! [`PlainFields`] by reading them, in the order they were selected, and leaves only the others
//! (relations through the loaders, fields with arguments) to async-graphql, run concurrently so
//! their loads still batch. Objects all of whose fields are plain (a definition and everything in
//! it) are walked without any future at all ([`Plain`]); a page of a list, by [`FastConn`].
//!
//! Fragments are followed as async-graphql follows them; `@skip` and `@include` are gone before
//! execution (async-graphql removes skipped selections when it prepares the request). `tests`
//! queries every registered plain field both ways and holds the walk to async-graphql's answer,
//! byte for byte.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerError, ServerResult, Value,
};
use futures_util::future::{join_all, BoxFuture};

/// A value resolved for a field's selection without awaiting anything.
pub trait Plain {
    /// `ctx` is the field's own selection set (what an object-valued field selects inside).
    fn plain(&self, ctx: &ContextSelectionSet<'_>) -> Value;
}

/// The fields of an object that are plain data. A field named here is read, not resolved: it
/// would skip a `guard` or a field directive, so name only fields that have neither.
pub trait PlainFields: OutputType {
    /// The value of the field `name` for the selection `ctx`, or `None` when the field is not
    /// plain (async-graphql resolves it).
    fn plain_field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> Option<Value>;
}

/// An object resolved by [`PlainFields`] where it can be, by async-graphql where it cannot.
pub struct Fast<T>(pub T);

impl<T: PlainFields + ContainerType> OutputType for Fast<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut slots = Vec::new();
        let mut pending = Vec::new();
        collect(ctx, &self.0, &mut |key, field, value| {
            match value {
                Some(value) => slots.push((key, Some(value))),
                None => {
                    pending.push((slots.len(), field));
                    slots.push((key, None));
                }
            };
        })?;
        // Boxed: objects refer to each other (a metric's attachments, an attachment's metric),
        // and a future that contained the other's future would contain itself.
        let resolved = join_all(pending.iter().map(|(_, field)| {
            let future: BoxFuture<'_, ServerResult<Option<Value>>> = Box::pin(async {
                let ctx_field = ctx.with_field(field);
                self.0.resolve_field(&ctx_field).await
            });
            future
        }))
        .await;
        for ((slot, _), result) in pending.iter().zip(resolved) {
            match result {
                Ok(value) => slots[*slot].1 = Some(value.unwrap_or_default()),
                // As async-graphql does: the error is the response's, the field is left out.
                Err(error) => ctx.add_error(error),
            }
        }
        Ok(object(slots))
    }
}

/// Walks an object whose every field is plain.
pub fn walk<T: PlainFields>(ctx: &ContextSelectionSet<'_>, root: &T) -> Value {
    let mut slots = Vec::new();
    let walked = collect(ctx, root, &mut |key, _, value| {
        // A field that is not plain has no value here: `every_plain_field_resolves_…` keeps
        // walked types entirely plain.
        if let Some(value) = value {
            slots.push((key, Some(value)));
        }
    });
    match walked {
        Ok(()) => object(slots),
        Err(error) => {
            ctx.add_error(error);
            Value::Null
        }
    }
}

/// Walks `root` when every field selected of it is plain; `None` when one is not (async-graphql
/// resolves it then, and reports whatever the selection has wrong).
pub fn try_walk<T: PlainFields>(ctx: &ContextSelectionSet<'_>, root: &T) -> Option<Value> {
    let mut slots = Vec::new();
    let mut every_field = true;
    let walked = collect(ctx, root, &mut |key, _, value| match value {
        Some(value) => slots.push((key, Some(value))),
        None => every_field = false,
    });
    (walked.is_ok() && every_field).then(|| object(slots))
}

/// The value of each selected field of `root` that is plain (`None` for the others), in
/// selection order.
fn collect<'a, T: PlainFields>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    found: &mut impl FnMut(Name, &'a Positioned<Field>, Option<Value>),
) -> ServerResult<()> {
    for_each_field(ctx, &T::type_name(), &mut |field| {
        let key = field.node.response_key().node.clone();
        let value = match field.node.name.node.as_str() {
            "__typename" => Some(Value::String(root.introspection_type_name().into_owned())),
            name => root.plain_field(name, &selection_of(ctx, field)),
        };
        found(key, field, value);
        Ok(())
    })
}

/// What `field` selects inside. Its path stays the parent's: plain fields report no errors, and
/// a path is only ever read for one.
fn selection_of<'a>(
    ctx: &ContextSelectionSet<'a>,
    field: &'a Positioned<Field>,
) -> ContextSelectionSet<'a> {
    ctx.with_selection_set(&field.node.selection_set)
}

/// Calls `found` with each selected field, in selection order, following the fragments that
/// apply to `type_name` (the objects walked here implement no interface, so a fragment applies
/// when it names their type or none).
fn for_each_field<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    found: &mut impl FnMut(&'a Positioned<Field>) -> ServerResult<()>,
) -> ServerResult<()> {
    for selection in &ctx.item.node.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                found(field)?;
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                };
                (
                    Some(&fragment.node.type_condition.node.on.node),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| &c.node.on.node),
                &fragment.node.selection_set,
            ),
        };
        if condition.is_none_or(|on| on.as_str() == type_name) {
            for_each_field(&ctx.with_selection_set(selection_set), type_name, found)?;
        }
    }
    Ok(())
}

/// The response object, merging fields selected twice under one key as async-graphql does (and,
/// as it does, `null` for an object left with no field).
fn object(slots: Vec<(Name, Option<Value>)>) -> Value {
    let mut map = IndexMap::with_capacity(slots.len());
    for (key, value) in slots {
        if let Some(value) = value {
            insert(&mut map, key, value);
        }
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn insert(target: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    use async_graphql::indexmap::map::Entry;
    let previous = match target.entry(key) {
        Entry::Vacant(vacant) => {
            vacant.insert(value);
            return;
        }
        Entry::Occupied(occupied) => occupied.into_mut(),
    };
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                insert(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (item, value) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (item, value) {
                    for (key, value) in from {
                        insert(into, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

impl<T: Plain> Plain for Option<T> {
    fn plain(&self, ctx: &ContextSelectionSet<'_>) -> Value {
        self.as_ref().map_or(Value::Null, |value| value.plain(ctx))
    }
}

impl<T: Plain> Plain for Vec<T> {
    fn plain(&self, ctx: &ContextSelectionSet<'_>) -> Value {
        Value::List(self.iter().map(|item| item.plain(ctx)).collect())
    }
}

impl Plain for str {
    fn plain(&self, _: &ContextSelectionSet<'_>) -> Value {
        Value::String(self.to_owned())
    }
}

/// Scalars as their `ScalarType` writes them.
macro_rules! plain_scalars {
    ($($ty:ty),* $(,)?) => {$(
        impl Plain for $ty {
            fn plain(&self, _: &ContextSelectionSet<'_>) -> Value {
                ScalarType::to_value(self)
            }
        }
    )*};
}
plain_scalars!(
    String,
    bool,
    f64,
    i64,
    i32,
    u64,
    u32,
    async_graphql::ID,
    chrono::DateTime<chrono::Utc>
);

/// Enums as async-graphql writes them (by their GraphQL item name).
macro_rules! plain_enums {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::graphql::plain::Plain for $ty {
            fn plain(&self, _: &async_graphql::ContextSelectionSet<'_>) -> async_graphql::Value {
                async_graphql::resolver_utils::enum_value(*self)
            }
        }
    )*};
}
pub(crate) use plain_enums;

/// `PlainFields` from `"graphqlName" => field` pairs, and `Plain` by walking them.
macro_rules! plain_object {
    ($ty:ty { $($name:literal => $field:ident),* $(,)? }) => {
        impl $crate::graphql::plain::PlainFields for $ty {
            fn plain_field(
                &self,
                name: &str,
                ctx: &async_graphql::ContextSelectionSet<'_>,
            ) -> Option<async_graphql::Value> {
                use $crate::graphql::plain::Plain as _;
                match name {
                    $($name => Some(self.$field.plain(ctx)),)*
                    _ => None,
                }
            }
        }

        impl $crate::graphql::plain::Plain for $ty {
            fn plain(&self, ctx: &async_graphql::ContextSelectionSet<'_>) -> async_graphql::Value {
                $crate::graphql::plain::walk(ctx, self)
            }
        }
    };
}
pub(crate) use plain_object;

mod connection;
pub use connection::FastConn;

#[cfg(test)]
mod tests;
