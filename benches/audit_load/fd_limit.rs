//! This process's open-file limit, which the server inherits (no libc crate here: the two calls
//! are declared directly; Linux 64-bit only, elsewhere the limit is not read).

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub use linux::raise;

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn raise(_want: u64) -> Option<(u64, u64)> {
    None
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod linux {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    const RLIMIT_NOFILE: i32 = 7;
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }

    fn get() -> Option<(u64, u64)> {
        let mut limit = RLimit { cur: 0, max: 0 };
        // SAFETY: `limit` is a valid, writable `struct rlimit` (two 64-bit `rlim_t`).
        let rc = unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) };
        (rc == 0).then_some((limit.cur, limit.max))
    }

    fn set(cur: u64, max: u64) -> bool {
        let limit = RLimit { cur, max };
        // SAFETY: `limit` is a valid `struct rlimit`; the call only reads it.
        unsafe { setrlimit(RLIMIT_NOFILE, &limit) == 0 }
    }

    /// Raises the soft limit to `want` (raising the hard limit too when permitted, e.g. as
    /// root), else to the hard limit. Returns the resulting (soft, hard).
    pub fn raise(want: u64) -> Option<(u64, u64)> {
        let (cur, max) = get()?;
        if cur >= want {
            return Some((cur, max));
        }
        let raised = (want <= max && set(want, max)) || set(want, want.max(max));
        if !raised {
            set(max, max);
        }
        get()
    }
}
