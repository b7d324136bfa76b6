//! How many queries one warehouse target may run at once, so a slow or hung tenant's warehouse
//! fills only its own slots and not the whole process's.
//!
//! A target is a warehouse connection (keyed by its id) or the server default (`default`). Its
//! semaphore lives as long as some `Warehouse` for it does (requests in flight); the map keeps
//! only weak references and drops dead ones when it adds a target, so deleted connections do not
//! pile up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Semaphore;

/// The key of the server-wide warehouse (`LIFT_CLICKHOUSE_URL`).
pub const DEFAULT_TARGET: &str = "default";

/// Per-target concurrency bounds shared by the process.
#[derive(Debug, Clone)]
pub struct TargetLimits {
    per_target: usize,
    slots: Arc<Mutex<HashMap<String, Weak<Semaphore>>>>,
}

impl TargetLimits {
    /// `per_target` queries at once for each target.
    pub fn new(per_target: usize) -> Self {
        TargetLimits {
            per_target: per_target.max(1),
            slots: Arc::default(),
        }
    }

    /// The semaphore of `target`, shared with every other holder of it.
    pub fn slots(&self, target: &str) -> Arc<Semaphore> {
        // A panic while holding this lock leaves the map consistent (each step is one call).
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = slots.get(target).and_then(Weak::upgrade) {
            return existing;
        }
        slots.retain(|_, slot| slot.strong_count() > 0);
        let fresh = Arc::new(Semaphore::new(self.per_target));
        slots.insert(target.to_owned(), Arc::downgrade(&fresh));
        fresh
    }

    /// Targets the map tracks (live or not yet pruned).
    pub fn tracked(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_of_one_target_share_its_slots_and_other_targets_have_their_own() {
        let limits = TargetLimits::new(2);
        let a = limits.slots("a");
        let again = limits.slots("a");
        let b = limits.slots("b");
        assert!(Arc::ptr_eq(&a, &again));
        let _first = a.try_acquire().expect("a slot");
        let _second = again.try_acquire().expect("a second slot");
        assert!(a.try_acquire().is_err(), "target a is full");
        assert!(b.try_acquire().is_ok(), "target b is not");
    }

    #[test]
    fn targets_nobody_holds_are_dropped_from_the_map() {
        let limits = TargetLimits::new(1);
        for i in 0..100 {
            drop(limits.slots(&format!("deleted-{i}")));
        }
        let held = limits.slots("live");
        assert_eq!(limits.tracked(), 1, "only the held target remains");
        drop(held);
    }
}
