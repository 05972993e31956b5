//! SQLite's own page cache, with one wasted scan taken out of every commit.
//!
//! When a B-tree rebalance puts sibling pages back in page-number order, SQLite swaps their
//! numbers through a temporary one: the lock-byte page's (`PENDING_BYTE / page size + 1`, page
//! 262 145 at 4 KiB), which never holds data. The default cache (pcache1) records the largest
//! page number it has seen and never learns that this one left at once. At the end of every
//! transaction SQLite asks the cache to drop pages past the end of the database; with that
//! stale maximum ~256 000 pages past the end, pcache1 walks its whole hash table and every
//! cached page, only to find nothing to drop. Random inserts into an index (the destination
//! index, under real traffic) rebalance in almost every group commit: the walk was 3.7 % of
//! the server's core in the send benchmark, 8 % of the writer's time (perf, BENCHMARKS.md).
//!
//! This wrapper keeps pcache1 for everything and tracks the largest page number actually in
//! the cache, leaving out the temporary one. A truncation that could not find a page is not
//! passed on; every other call goes through unchanged.

use rusqlite::ffi;
use std::os::raw::{c_int, c_uint};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// SQLite's `PENDING_BYTE`: the start of the lock-byte range, the same in every build that
/// does not change it for testing.
const PENDING_BYTE: u32 = 0x4000_0000;

struct Inner(ffi::sqlite3_pcache_methods2);
// SAFETY: the methods are plain function pointers and pcache1's `pArg`, which is null; SQLite
// calls them from any thread.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

static INNER: OnceLock<Inner> = OnceLock::new();
/// Whether `install` put the wrapper in place; unset until it has run.
static INSTALLED: OnceLock<bool> = OnceLock::new();
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// One page cache: pcache1's, and the largest page number that may be in it.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    methods: &'static ffi::sqlite3_pcache_methods2,
    /// The page number used only for the moment of a swap.
    swap_page: c_uint,
    max_page: AtomicU32,
}

impl Cache {
    /// A cache serves one connection, which SQLite never uses from two threads at once, so a
    /// plain load and store do (no locked read-modify-write on every page fetch).
    fn note(&self, page: c_uint) {
        if page > self.max_page.load(Ordering::Relaxed) {
            self.max_page.store(page, Ordering::Relaxed);
        }
    }
}

/// Puts the wrapper in place. It must run before SQLite is first used in the process (SQLite
/// refuses configuration once initialised); if it comes too late, pcache1 stays as it is and
/// nothing else changes (`installed` tells which).
pub(crate) fn install() {
    INSTALLED.get_or_init(|| {
        let mut default = std::mem::MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
        // SAFETY: GETPCACHE2 writes the current methods into the struct we pass.
        let rc =
            unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, default.as_mut_ptr()) };
        if rc != ffi::SQLITE_OK {
            return false;
        }
        // SAFETY: SQLite filled it in (rc is OK).
        let default = unsafe { default.assume_init() };
        let ours = wrapper(&INNER.get_or_init(|| Inner(default)).0);
        // SAFETY: SQLite copies the struct; every method it names is defined below.
        let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &ours) };
        rc == ffi::SQLITE_OK
    });
}

/// The wrapper's methods, around the default ones `install` found.
fn wrapper(inner: &ffi::sqlite3_pcache_methods2) -> ffi::sqlite3_pcache_methods2 {
    ffi::sqlite3_pcache_methods2 {
        iVersion: 1,
        pArg: inner.pArg,
        xInit: inner.xInit,
        xShutdown: inner.xShutdown,
        xCreate: Some(create),
        xCachesize: Some(cachesize),
        xPagecount: Some(pagecount),
        xFetch: Some(fetch),
        xUnpin: Some(unpin),
        xRekey: Some(rekey),
        xTruncate: Some(truncate),
        xDestroy: Some(destroy),
        xShrink: Some(shrink),
    }
}

/// The methods SQLite was given, for tests that drive a cache directly; `None` unless
/// `install` succeeded.
#[doc(hidden)]
pub fn installed_methods() -> Option<ffi::sqlite3_pcache_methods2> {
    INNER
        .get()
        .filter(|_| installed())
        .map(|inner| wrapper(&inner.0))
}

/// Whether this process's SQLite uses the wrapper.
pub fn installed() -> bool {
    INSTALLED.get() == Some(&true)
}

/// How many truncations the wrapper has found nothing to do for (and so skipped).
pub fn truncations_skipped() -> u64 {
    SKIPPED.load(Ordering::Relaxed)
}

/// # Safety
/// `p` must come from `create` and not yet be destroyed.
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a Cache {
    // SAFETY: the caller's contract.
    unsafe { &*(p as *const Cache) }
}

unsafe extern "C" fn create(
    sz_page: c_int,
    sz_extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    // Set before these methods were handed to SQLite.
    let Some(Inner(methods)) = INNER.get() else {
        return std::ptr::null_mut();
    };
    let Some(create) = methods.xCreate else {
        return std::ptr::null_mut();
    };
    // SAFETY: forwarding SQLite's own call.
    let inner = unsafe { create(sz_page, sz_extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let page_size = u32::try_from(sz_page).unwrap_or(1).max(1);
    let wrapped = Box::new(Cache {
        inner,
        methods,
        swap_page: PENDING_BYTE / page_size + 1,
        max_page: AtomicU32::new(0),
    });
    Box::into_raw(wrapped) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, n: c_int) {
    // SAFETY: SQLite passes a cache it created with `create`.
    let c = unsafe { cache(p) };
    if let Some(f) = c.methods.xCachesize {
        // SAFETY: forwarding to pcache1 with its own cache.
        unsafe { f(c.inner, n) }
    }
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    // SAFETY: as in `cachesize`.
    c.methods.xPagecount.map_or(0, |f| unsafe { f(c.inner) })
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    let Some(f) = c.methods.xFetch else {
        return std::ptr::null_mut();
    };
    // SAFETY: as in `cachesize`.
    let page = unsafe { f(c.inner, key, create) };
    if !page.is_null() {
        c.note(key);
    }
    page
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    if let Some(f) = c.methods.xUnpin {
        // SAFETY: as in `cachesize`; `page` came from pcache1.
        unsafe { f(c.inner, page, discard) }
    }
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    if let Some(f) = c.methods.xRekey {
        // SAFETY: as in `unpin`.
        unsafe { f(c.inner, page, old, new) }
    }
    // The swap page is renamed again before SQLite does anything else with the cache.
    if new != c.swap_page {
        c.note(new);
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    if limit > c.max_page.load(Ordering::Relaxed) {
        // No page numbered `limit` or above is cached: nothing to drop.
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if let Some(f) = c.methods.xTruncate {
        // SAFETY: as in `cachesize`.
        unsafe { f(c.inner, limit) }
    }
    c.max_page.store(limit.saturating_sub(1), Ordering::Relaxed);
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite destroys each cache once, after its last use.
    let c = unsafe { Box::from_raw(p as *mut Cache) };
    if let Some(f) = c.methods.xDestroy {
        // SAFETY: as in `cachesize`.
        unsafe { f(c.inner) }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: as in `cachesize`.
    let c = unsafe { cache(p) };
    if let Some(f) = c.methods.xShrink {
        // SAFETY: as in `cachesize`.
        unsafe { f(c.inner) }
    }
}
