//! What a single request may cost, in parts: documents whose fragments expand exponentially or
//! that repeat a field thousands of times are refused before they are expanded (`expansion`);
//! lists multiply their items' cost so a query cannot fan out to thousands of warehouse queries
//! (`cost`); free text and names are bounded and clean (`inputs`); who may introspect the schema
//! and whether errors suggest names (`introspection`).

mod cost;
mod expansion;
mod inputs;
mod introspection;
