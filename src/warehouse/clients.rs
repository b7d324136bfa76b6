//! `WarehouseClients`: one pooled HTTP client per warehouse target, so results requests reuse TCP
//! connections (and, for `https://`, the TLS configuration) instead of building a client each time.
//!
//! The server default is built once at startup. Environments' connections are cached by id and
//! rebuilt when the stored target differs from the cached one (URL, database, table, user or
//! password), so a changed connection takes effect on its next request; deleting a connection
//! drops its client. Users create connections, so the cache is bounded: at most `capacity`
//! clients, and one idle longer than `idle` is dropped when another is added. A cached client
//! holds no sockets while idle (its pool closes them after 2 s), only its configuration.
//!
//! Egress is still checked on every new TCP connection: the guarded connector lives inside the
//! pooled client (see `egress.rs`), and `https://` targets are re-checked before each query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::warehouse::{WarehouseConnection, WarehouseTarget};
use crate::domain::DomainError;

use super::{Warehouse, WarehouseOptions};

/// Connections' clients kept at most (beyond it, the least recently used is dropped).
pub const MAX_CACHED_CONNECTIONS: usize = 256;
/// A connection's client unused this long is dropped when another client is added.
pub const IDLE_EVICTION: Duration = Duration::from_secs(10 * 60);

/// The warehouse clients of one application (cheap to clone; clones share the cache).
#[derive(Clone)]
pub struct WarehouseClients {
    inner: Arc<Inner>,
}

struct Inner {
    options: WarehouseOptions,
    default: Option<Warehouse>,
    connections: Mutex<HashMap<String, Cached>>,
    capacity: usize,
    idle: Duration,
    /// Connections' clients built so far (each is a new HTTP pool).
    built: AtomicU64,
}

struct Cached {
    target: WarehouseTarget,
    warehouse: Warehouse,
    last_used: Instant,
}

impl WarehouseClients {
    /// The default target's client is built now; connections' clients when first asked for.
    pub fn new(default: Option<&WarehouseTarget>, options: &WarehouseOptions) -> Self {
        Self::bounded(default, options, MAX_CACHED_CONNECTIONS, IDLE_EVICTION)
    }

    /// Like `new`, with another bound on cached connections' clients.
    pub fn bounded(
        default: Option<&WarehouseTarget>,
        options: &WarehouseOptions,
        capacity: usize,
        idle: Duration,
    ) -> Self {
        WarehouseClients {
            inner: Arc::new(Inner {
                options: options.clone(),
                default: default.map(|target| Warehouse::new(target, options)),
                connections: Mutex::default(),
                capacity: capacity.max(1),
                idle,
                built: AtomicU64::new(0),
            }),
        }
    }

    /// The server-wide warehouse (`LIFT_CLICKHOUSE_URL`), if configured.
    pub fn default_target(&self) -> Option<Warehouse> {
        self.inner.default.clone()
    }

    /// The client of an environment's connection, built (and cached) unless one for the same
    /// target is cached already.
    pub fn for_connection(
        &self,
        connection: &WarehouseConnection,
    ) -> Result<Warehouse, DomainError> {
        let now = Instant::now();
        if let Some(cached) = self.lock().get_mut(&connection.id) {
            if cached.target == connection.target {
                cached.last_used = now;
                return Ok(cached.warehouse.clone());
            }
        }
        let warehouse = Warehouse::for_connection(connection, &self.inner.options)?;
        self.inner.built.fetch_add(1, Ordering::Relaxed);
        let mut connections = self.lock();
        connections.retain(|_, cached| now.duration_since(cached.last_used) < self.inner.idle);
        if !connections.contains_key(&connection.id) && connections.len() >= self.inner.capacity {
            let least_recent = connections
                .iter()
                .min_by_key(|(_, cached)| cached.last_used)
                .map(|(id, _)| id.clone());
            if let Some(id) = least_recent {
                connections.remove(&id);
            }
        }
        connections.insert(
            connection.id.clone(),
            Cached {
                target: connection.target.clone(),
                warehouse: warehouse.clone(),
                last_used: now,
            },
        );
        Ok(warehouse)
    }

    /// Drops a deleted connection's client (requests in flight keep theirs until they end).
    pub fn forget(&self, connection_id: &str) {
        self.lock().remove(connection_id);
    }

    /// Connections' clients built since startup (a cache miss builds one).
    pub fn built(&self) -> u64 {
        self.inner.built.load(Ordering::Relaxed)
    }

    /// Connections' clients cached now.
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // Every step under the lock is one map call, so a panic leaves the map consistent.
        self.inner
            .connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Settings;
    use crate::domain::warehouse::WarehouseKind;

    fn connection(id: &str, url: &str, password: &str) -> WarehouseConnection {
        WarehouseConnection {
            id: id.to_owned(),
            environment_id: "env".to_owned(),
            kind: WarehouseKind::ClickHouse,
            target: WarehouseTarget {
                url: url.to_owned(),
                database: "default".to_owned(),
                table: "events".to_owned(),
                cluster: None,
                user: "default".to_owned(),
                password: password.to_owned().into(),
            },
            created_at: chrono::Utc::now(),
        }
    }

    fn clients(capacity: usize, idle: Duration) -> WarehouseClients {
        let options = WarehouseOptions::from_settings(&Settings::defaults().clickhouse);
        WarehouseClients::bounded(None, &options, capacity, idle)
    }

    #[test]
    fn the_same_target_reuses_its_client_and_a_changed_one_replaces_it() {
        let clients = clients(4, IDLE_EVICTION);
        let original = connection("a", "http://203.0.113.1:8123", "p");
        for _ in 0..3 {
            clients.for_connection(&original).expect("a client");
        }
        assert_eq!(clients.built(), 1, "one client for one target");
        let moved = connection("a", "http://203.0.113.2:8123", "p");
        let rotated = connection("a", "http://203.0.113.2:8123", "rotated");
        for (changed, built) in [(&moved, 2), (&rotated, 3), (&rotated, 3)] {
            clients.for_connection(changed).expect("a client");
            assert_eq!(
                clients.built(),
                built,
                "rebuilt only when the target changed"
            );
        }
        assert_eq!(clients.cached(), 1);
        clients.forget("a");
        assert_eq!(clients.cached(), 0);
        clients.for_connection(&rotated).expect("a client");
        assert_eq!(
            clients.built(),
            4,
            "a forgotten connection's client is gone"
        );
    }

    #[test]
    fn at_most_capacity_clients_are_kept_and_the_least_recently_used_goes_first() {
        let clients = clients(3, IDLE_EVICTION);
        let url = "http://203.0.113.1:8123";
        clients
            .for_connection(&connection("kept", url, ""))
            .expect("a client");
        for i in 0..10 {
            clients
                .for_connection(&connection(&format!("other-{i}"), url, ""))
                .expect("a client");
            clients
                .for_connection(&connection("kept", url, ""))
                .expect("a client");
        }
        assert_eq!(clients.cached(), 3);
        assert_eq!(
            clients.built(),
            11,
            "the often used client was never evicted"
        );
    }

    #[test]
    fn idle_clients_are_dropped_when_another_is_added() {
        let clients = clients(10, Duration::ZERO);
        let url = "http://203.0.113.1:8123";
        for i in 0..5 {
            clients
                .for_connection(&connection(&format!("c{i}"), url, ""))
                .expect("a client");
        }
        assert_eq!(clients.cached(), 1, "only the one just added is not idle");
    }
}
