//! The size of a document once its fragments are inlined, measured without inlining them.
//!
//! async-graphql's own passes (the recursion-depth check at parse time, the complexity, depth and
//! cache-control visitors, the executor) walk a document with every fragment spread expanded. Ten
//! lines that spread a fragment twice, which spreads another twice, … describe 2^n selections:
//! walking them took gigabytes and minutes. This pass sizes every definition once (memoized per
//! fragment, iteratively, so long fragment chains cannot exhaust the stack) and the request is
//! refused above [`MAX_SELECTIONS`] before any of those passes runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

use crate::domain::DomainError;

/// Selections (fields, fragment spreads, inline fragments) a document may have once every
/// fragment is inlined, counted over its operations and its fragment definitions (the validator
/// walks each of them expanded). GraphiQL's introspection query needs a few hundred.
pub const MAX_SELECTIONS: usize = 10_000;

/// `Experiment.results` resolved per request at most. Query complexity refuses most queries that
/// ask for more before they run, but unpaginated lists are only estimated (10 items), so this
/// bound holds whatever the lists hold: each results field can run warehouse queries.
pub const MAX_RESULTS_PER_REQUEST: usize = 50;

/// How many `Experiment.results` a request has resolved; one per request, in its data.
#[derive(Default)]
pub struct ResultsBudget(AtomicUsize);

impl ResultsBudget {
    /// Counts one more results field; refused beyond [`MAX_RESULTS_PER_REQUEST`].
    pub fn spend(&self) -> Result<(), DomainError> {
        let used = self.0.fetch_add(1, Ordering::Relaxed);
        if used < MAX_RESULTS_PER_REQUEST {
            Ok(())
        } else {
            Err(DomainError::validation(
                "results",
                format!(
                    "a request may ask for the results of at most {MAX_RESULTS_PER_REQUEST} \
                     experiments; ask for fewer"
                ),
            ))
        }
    }
}

/// What one definition contributes on its own, and the fragments it spreads (once per spread).
struct Shape<'a> {
    own: usize,
    spreads: Vec<&'a str>,
}

/// Adds the selections of `set` to `shape`. Recursion follows the nesting written in one
/// definition, which the parser bounds (64 levels).
fn measure<'a>(set: &'a SelectionSet, shape: &mut Shape<'a>) {
    for selection in &set.items {
        shape.own = shape.own.saturating_add(1);
        match &selection.node {
            Selection::Field(field) => measure(&field.node.selection_set.node, shape),
            Selection::InlineFragment(inline) => measure(&inline.node.selection_set.node, shape),
            Selection::FragmentSpread(spread) => {
                shape.spreads.push(spread.node.fragment_name.node.as_str())
            }
        }
    }
}

fn shape_of(set: &SelectionSet) -> Shape<'_> {
    let mut shape = Shape {
        own: 0,
        spreads: Vec::new(),
    };
    measure(set, &mut shape);
    shape
}

enum Mark {
    /// On the current path: a spread of it is a cycle, which the validator reports; here it
    /// counts only as the spread itself.
    Open,
    Done(usize),
}

/// Expanded sizes of every fragment, each computed once. An unknown fragment counts as nothing
/// beyond its spread (the validator reports it).
fn fragment_sizes<'a>(shapes: &HashMap<&'a str, Shape<'a>>) -> HashMap<&'a str, usize> {
    let mut marks: HashMap<&'a str, Mark> = HashMap::with_capacity(shapes.len());
    for &root in shapes.keys() {
        if marks.contains_key(root) {
            continue;
        }
        marks.insert(root, Mark::Open);
        // Depth-first with an explicit stack: (fragment, index of its next spread to visit).
        let mut stack: Vec<(&'a str, usize)> = vec![(root, 0)];
        while let Some((name, next)) = stack.last_mut() {
            let shape = &shapes[*name];
            if let Some(&child) = shape.spreads.get(*next) {
                *next += 1;
                if shapes.contains_key(child) && !marks.contains_key(child) {
                    marks.insert(child, Mark::Open);
                    stack.push((child, 0));
                }
                continue;
            }
            let size =
                shape
                    .spreads
                    .iter()
                    .fold(shape.own, |total, child| match marks.get(child) {
                        Some(Mark::Done(size)) => total.saturating_add(*size),
                        _ => total,
                    });
            marks.insert(name, Mark::Done(size));
            stack.pop();
        }
    }
    marks
        .into_iter()
        .filter_map(|(name, mark)| match mark {
            Mark::Done(size) => Some((name, size)),
            Mark::Open => None,
        })
        .collect()
}

/// How many selections `doc` has with every fragment spread inlined, over all its operations and
/// fragment definitions; saturates at `usize::MAX`. Linear in the size of the document.
pub fn expanded_selections(doc: &ExecutableDocument) -> usize {
    let shapes: HashMap<&str, Shape<'_>> = doc
        .fragments
        .iter()
        .map(|(name, fragment)| (name.as_str(), shape_of(&fragment.node.selection_set.node)))
        .collect();
    let sizes = fragment_sizes(&shapes);
    let expand = |shape: &Shape<'_>| {
        shape.spreads.iter().fold(shape.own, |total, name| {
            total.saturating_add(sizes.get(name).copied().unwrap_or(0))
        })
    };
    let operations = doc
        .operations
        .iter()
        .map(|(_, op)| expand(&shape_of(&op.node.selection_set.node)));
    let fragments = shapes.values().map(expand);
    operations
        .chain(fragments)
        .fold(0usize, usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn size(query: &str) -> usize {
        expanded_selections(&parse_query(query).expect("parses"))
    }

    /// `query { ...F<levels> }` where F0 is one field and each F<i> spreads F<i-1> twice.
    fn doubling_fragments(levels: usize, on: &str, field: &str) -> String {
        let mut query = format!("query {{ ...F{levels} }} fragment F0 on {on} {{ {field} }} ");
        for i in 1..=levels {
            query.push_str(&format!(
                "fragment F{i} on {on} {{ ...F{prev} ...F{prev} }} ",
                prev = i - 1
            ));
        }
        query
    }

    #[test]
    fn fields_and_nested_fields_count_once_each() {
        assert_eq!(size("{ a b { c d } }"), 4);
        assert_eq!(size("{ a: x b: x c: x }"), 3);
    }

    #[test]
    fn a_fragment_counts_once_per_spread_and_once_as_a_definition() {
        // Operation: the spread twice (2) plus the fragment's two fields each time (4);
        // the definition: its two fields (2).
        assert_eq!(size("{ ...F ...F } fragment F on Q { a b }"), 8);
        assert_eq!(size("{ ... on Q { a } }"), 2);
    }

    #[test]
    fn doubling_fragments_are_measured_without_being_expanded() {
        let started = std::time::Instant::now();
        let measured = size(&doubling_fragments(24, "QueryRoot", "__typename"));
        assert!(measured > 1 << 24, "{measured}");
        let huge = size(&doubling_fragments(200, "QueryRoot", "__typename"));
        assert_eq!(huge, usize::MAX, "saturates instead of overflowing");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn cycles_and_unknown_fragments_terminate_and_count_their_spreads() {
        // A's back edge counts as its spread alone: A is 2; the operation is 1 + 2, the
        // definition 2 + 2.
        assert_eq!(size("{ ...A } fragment A on Q { x ...A }"), 3 + 4);
        // Which fragment of a two-fragment cycle is entered first changes the count a little.
        let mutual = size("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }");
        assert!((7..=8).contains(&mutual), "{mutual}");
        assert_eq!(size("{ ...Missing }"), 1);
    }

    #[test]
    fn a_long_fragment_chain_does_not_exhaust_the_stack() {
        let mut query = String::from("{ ...F0 } ");
        for i in 0..50_000 {
            query.push_str(&format!("fragment F{i} on Q {{ ...F{} }} ", i + 1));
        }
        // Each F<i> expands to 50_000 - i spreads: the sum is far above the limit.
        assert!(size(&query) > MAX_SELECTIONS);
    }
}
