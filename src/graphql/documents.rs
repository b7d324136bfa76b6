//! Parsed GraphQL documents, kept by their text: clients send the same few queries again and
//! again, and parsing one (async-graphql's pest grammar) cost about as much as everything else
//! lift does for a small request (~4 % of the metric list's CPU in `benches/batching.md`), where
//! copying the parsed document costs a fraction of that.
//!
//! Bounded for untrusted clients: at most [`CAPACITY`] documents, each from a text of at most
//! [`MAX_TEXT_BYTES`], the least recently used evicted first. Only documents that parsed are kept;
//! what the request may run (limits, introspection, validation) is still decided per request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Request;
use lru::LruCache;

/// How many documents are kept.
pub const CAPACITY: usize = 128;

/// The longest query text whose document is kept: a parsed document takes some ten times its
/// text, so the cache holds at most a few megabytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Shared by every request of the executor; cheap to clone.
#[derive(Clone)]
pub struct DocumentCache(Arc<Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>>);

impl Default for DocumentCache {
    fn default() -> Self {
        let capacity = NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN);
        DocumentCache(Arc::new(Mutex::new(LruCache::new(capacity))))
    }
}

impl DocumentCache {
    /// Gives `request` the document parsed earlier from the same text, if there is one (and
    /// says whether there was).
    pub fn recall(&self, request: &mut Request) -> bool {
        if request.query.len() > MAX_TEXT_BYTES {
            return false;
        }
        let found = match self.0.lock() {
            Ok(mut cache) => cache.get(request.query.as_str()).cloned(),
            Err(_) => None,
        };
        match found {
            Some(document) => {
                request.set_parsed_query(ExecutableDocument::clone(&document));
                true
            }
            None => false,
        }
    }

    /// Keeps `request`'s document once it has parsed (a request that did not parse, or whose
    /// document is already kept, changes nothing).
    pub fn remember(&self, request: &mut Request) {
        if request.query.len() > MAX_TEXT_BYTES {
            return;
        }
        let Ok(mut cache) = self.0.lock() else {
            return;
        };
        if cache.contains(request.query.as_str()) {
            return;
        }
        let text: Arc<str> = Arc::from(request.query.as_str());
        if let Ok(document) = request.parsed_query() {
            cache.put(text, Arc::new(document.clone()));
        }
    }

    /// How many documents are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |cache| cache.len())
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Request {
        Request::new(query)
    }

    #[test]
    fn a_parsed_document_is_given_back_for_the_same_text() {
        let cache = DocumentCache::default();
        let mut first = request("{ a b }");
        assert!(!cache.recall(&mut first));
        cache.remember(&mut first);
        assert_eq!(cache.len(), 1);

        let mut second = request("{ a b }");
        assert!(cache.recall(&mut second));
        // A kept document, not a fresh parse: the same operations, field for field.
        let kept = format!("{:?}", second.parsed_query().expect("kept"));
        let fresh = format!("{:?}", request("{ a b }").parsed_query().expect("parses"));
        assert_eq!(kept, fresh);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn unparsable_and_long_texts_are_not_kept() {
        let cache = DocumentCache::default();
        cache.remember(&mut request("{ a "));
        let long = format!("{{ {} }}", "a ".repeat(MAX_TEXT_BYTES));
        cache.remember(&mut request(&long));
        assert!(cache.is_empty());
    }

    #[test]
    fn the_least_recently_used_is_evicted_past_the_capacity() {
        let cache = DocumentCache::default();
        for i in 0..=CAPACITY {
            cache.remember(&mut request(&format!("{{ f{i} }}")));
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(
            !cache.recall(&mut request("{ f0 }")),
            "the first was evicted"
        );
        assert!(cache.recall(&mut request(&format!("{{ f{CAPACITY} }}"))));
    }
}
