//! What SQLite's own allocator holds: its page caches (up to `cache_size`, 2,000 KiB by default,
//! per connection), prepared statements and parsed schemas, for every SQLite connection of the
//! process. Part of lift's RSS that lift's code does not allocate, shown on `/metrics` so that
//! growth under load can be told apart from lift's own (`benches/memory.md`).

/// Bytes currently allocated by SQLite (`sqlite3_memory_used`).
pub fn sqlite_memory_used() -> i64 {
    // SAFETY: takes no argument and reads SQLite's global memory statistics, which SQLite keeps
    // under its own mutex; callable from any thread, before or after any connection is opened.
    unsafe { libsqlite3_sys::sqlite3_memory_used() }
}
