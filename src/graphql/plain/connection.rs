//! A page of a list (`Conn<N>`) walked like a plain object: its edges, cursors, page info and count
//! are data, so only the nodes are awaited — all of them at once, so that what they load batches.

use std::borrow::Cow;

use async_graphql::connection::{Edge, EmptyFields, PageInfo};
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use futures_util::future::{join_all, BoxFuture};

use super::{for_each_field, object, selection_of, Plain};
use crate::graphql::pagination::Conn;

plain_object!(PageInfo {
    "hasPreviousPage" => has_previous_page,
    "hasNextPage" => has_next_page,
    "startCursor" => start_cursor,
    "endCursor" => end_cursor,
});

/// `Conn<N>`, as the same GraphQL type (`MetricConnection`, …), resolved in one walk.
pub struct FastConn<N: OutputType>(pub Conn<N>);

/// The response, with a hole where each node goes.
enum Shape {
    Done(Value),
    Node,
    Object(Vec<(Name, Shape)>),
    List(Vec<Shape>),
}

type NodeFuture<'a> = BoxFuture<'a, ServerResult<Value>>;

impl<N: OutputType> OutputType for FastConn<N> {
    fn type_name() -> Cow<'static, str> {
        Conn::<N>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Conn::<N>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut nodes = Vec::new();
        let shape = self.shape(ctx, &mut nodes)?;
        let mut resolved = join_all(nodes).await.into_iter();
        Ok(fill(shape, &mut resolved, ctx).unwrap_or_default())
    }
}

impl<N: OutputType> FastConn<N> {
    fn shape<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        nodes: &mut Vec<NodeFuture<'a>>,
    ) -> ServerResult<Shape> {
        let conn = &self.0;
        let mut slots = Vec::new();
        for_each_field(ctx, &Self::type_name(), &mut |field| {
            let key = field.node.response_key().node.clone();
            let shape = match field.node.name.node.as_str() {
                "__typename" => Shape::Done(Value::String(Self::type_name().into_owned())),
                "totalCount" => Shape::Done(conn.additional_fields.total_count.plain(ctx)),
                "pageInfo" => Shape::Done(self.page_info().plain(&selection_of(ctx, field))),
                "edges" => {
                    let edge_type = Edge::<String, N, EmptyFields>::type_name();
                    let mut edges = Vec::with_capacity(conn.edges.len());
                    for index in 0..conn.edges.len() {
                        edges.push(self.edge(ctx, field, &edge_type, index, nodes)?);
                    }
                    Shape::List(edges)
                }
                "nodes" => Shape::List(
                    (0..conn.edges.len())
                        .map(|index| {
                            nodes.push(self.node(ctx, field, index, None));
                            Shape::Node
                        })
                        .collect(),
                ),
                // Validation refuses any other field of a connection.
                _ => Shape::Done(Value::Null),
            };
            slots.push((key, shape));
            Ok(())
        })?;
        Ok(Shape::Object(slots))
    }

    /// The edge at `index` (of the GraphQL type `type_name`), as `edges` (the field) selects it.
    fn edge<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        edges: &'a Positioned<Field>,
        type_name: &str,
        index: usize,
        nodes: &mut Vec<NodeFuture<'a>>,
    ) -> ServerResult<Shape> {
        let edge = &self.0.edges[index];
        let mut slots = Vec::new();
        for_each_field(&selection_of(ctx, edges), type_name, &mut |field| {
            let key = field.node.response_key().node.clone();
            let shape = match field.node.name.node.as_str() {
                "__typename" => Shape::Done(Value::String(type_name.to_owned())),
                "cursor" => Shape::Done(Value::String(edge.cursor.clone())),
                "node" => {
                    nodes.push(self.node(ctx, edges, index, Some(field)));
                    Shape::Node
                }
                _ => Shape::Done(Value::Null),
            };
            slots.push((key, shape));
            Ok(())
        })?;
        Ok(Shape::Object(slots))
    }

    /// The node at `index`, reached through `list` (`edges`, then `node`; or `nodes`), with the
    /// path async-graphql would give it, so its errors say where they are.
    fn node<'a>(
        &'a self,
        ctx: &'a ContextSelectionSet<'a>,
        list: &'a Positioned<Field>,
        index: usize,
        node_field: Option<&'a Positioned<Field>>,
    ) -> NodeFuture<'a> {
        let node = &self.0.edges[index].node;
        Box::pin(async move {
            let ctx_list = ctx.with_field(list);
            let items = ctx_list.with_selection_set(&list.node.selection_set);
            let item = items.with_index(index);
            match node_field {
                Some(field) => {
                    let ctx_node = item.with_field(field);
                    let selection = ctx_node.with_selection_set(&field.node.selection_set);
                    node.resolve(&selection, field).await
                }
                None => node.resolve(&item, list).await,
            }
        })
    }

    fn page_info(&self) -> PageInfo {
        let edges = &self.0.edges;
        PageInfo {
            has_previous_page: self.0.has_previous_page,
            has_next_page: self.0.has_next_page,
            start_cursor: edges.first().map(|edge| edge.cursor.clone()),
            end_cursor: edges.last().map(|edge| edge.cursor.clone()),
        }
    }
}

/// The response, each node in its hole. A node that failed leaves its field out, and a list
/// holding one is left out whole: async-graphql's way for a failed non-null field.
fn fill(
    shape: Shape,
    resolved: &mut impl Iterator<Item = ServerResult<Value>>,
    ctx: &ContextSelectionSet<'_>,
) -> Option<Value> {
    match shape {
        Shape::Done(value) => Some(value),
        Shape::Node => match resolved.next()? {
            Ok(value) => Some(value),
            Err(error) => {
                ctx.add_error(error);
                None
            }
        },
        Shape::Object(fields) => Some(object(
            fields
                .into_iter()
                .map(|(key, shape)| (key, fill(shape, resolved, ctx)))
                .collect(),
        )),
        Shape::List(items) => {
            let values: Vec<Option<Value>> = items
                .into_iter()
                .map(|item| fill(item, resolved, ctx))
                .collect();
            values
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Value::List)
        }
    }
}
