#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The page cache wrapper (`sqlite::page_cache`) on a real database file. A test binary of its
//! own: the wrapper goes in only before SQLite's first use in a process, which the store's
//! first `open` is here.

use otpd_core::secrets::ServerSecrets;
use otpd_store::SqliteStore;
use otpd_store::sqlite::page_cache;
use rusqlite::Connection;
use std::sync::Arc;

fn count(c: &Connection) -> i64 {
    c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

fn integrity(c: &Connection) -> String {
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Keys in no order, as phone numbers arrive: the inserts rebalance the index all the time.
fn scattered_key(i: u64) -> String {
    format!("+1{:010}", (i * 48_271) % 9_999_999_967)
}

/// One test, so that nothing else in this process moves the count of skipped truncations
/// while a part of it reads that count.
#[test]
fn the_page_cache_wrapper() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let secrets = Arc::new(ServerSecrets::from_master(&[5u8; 32]).unwrap());
    let _store = SqliteStore::open(&path, secrets).unwrap();
    assert!(
        page_cache::installed(),
        "the store's first open installs it"
    );
    skips_only_truncations_with_nothing_to_drop();
    random_inserts_skip_the_empty_truncations_and_keep_the_data(&path);
}

/// Drives a cache through the methods SQLite was given, as the pager does.
fn skips_only_truncations_with_nothing_to_drop() {
    let m = page_cache::installed_methods().unwrap();
    let (create, fetch, unpin, rekey, truncate, count, destroy) = (
        m.xCreate.unwrap(),
        m.xFetch.unwrap(),
        m.xUnpin.unwrap(),
        m.xRekey.unwrap(),
        m.xTruncate.unwrap(),
        m.xPagecount.unwrap(),
        m.xDestroy.unwrap(),
    );
    let swap_page = 0x4000_0000 / 4096 + 1;
    // SAFETY: the calls follow the pager's protocol: pages come from this cache's fetch, are
    // unpinned once, and the cache is destroyed last. pcache1 was initialised by the open.
    unsafe {
        let cache = create(4096, 64, 1);
        assert!(!cache.is_null());
        m.xCachesize.unwrap()(cache, 1000);
        let pages: Vec<_> = (1..=100).map(|key| fetch(cache, key, 2)).collect();
        assert!(pages.iter().all(|p| !p.is_null()));
        // A rebalance's swap of pages 50 and 60, through the lock-byte page.
        rekey(cache, pages[49], 50, swap_page);
        rekey(cache, pages[59], 60, 50);
        rekey(cache, pages[49], swap_page, 60);
        for p in &pages {
            unpin(cache, *p, 0);
        }
        assert_eq!(count(cache), 100);

        let skipped = page_cache::truncations_skipped();
        truncate(cache, 101);
        assert_eq!(
            page_cache::truncations_skipped(),
            skipped + 1,
            "nothing at 101 or above"
        );
        assert_eq!(count(cache), 100);

        truncate(cache, 91);
        assert_eq!(page_cache::truncations_skipped(), skipped + 1);
        assert_eq!(count(cache), 90, "pages 91-100 are dropped");
        assert!(fetch(cache, 95, 0).is_null());

        // A page renamed past every page fetched is still found by a truncation.
        let p = fetch(cache, 90, 0);
        assert!(!p.is_null());
        rekey(cache, p, 90, 150);
        unpin(cache, p, 0);
        truncate(cache, 120);
        assert_eq!(page_cache::truncations_skipped(), skipped + 1);
        assert_eq!(count(cache), 89);
        assert!(fetch(cache, 150, 0).is_null());
        destroy(cache);
    }
}

fn random_inserts_skip_the_empty_truncations_and_keep_the_data(path: &std::path::Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA cache_size = -16000;
         CREATE TABLE t (k TEXT NOT NULL, v BLOB NOT NULL);
         CREATE INDEX t_k ON t (k);",
    )
    .unwrap();
    let skipped_before = page_cache::truncations_skipped();
    let insert = |from: u64, to: u64| {
        c.execute_batch("BEGIN").unwrap();
        let mut s = c
            .prepare_cached("INSERT INTO t (k, v) VALUES (?1, zeroblob(200))")
            .unwrap();
        for i in from..to {
            s.execute([scattered_key(i)]).unwrap();
        }
        drop(s);
        c.execute_batch("COMMIT").unwrap();
    };
    for batch in 0..400u64 {
        insert(batch * 50, batch * 50 + 50);
    }
    assert_eq!(count(&c), 20_000);
    assert_eq!(integrity(&c), "ok");
    let skipped = page_cache::truncations_skipped() - skipped_before;
    assert!(
        skipped >= 300,
        "most of the 400 commits had nothing to truncate, yet only {skipped} were skipped"
    );

    // A rolled-back transaction that grew the file, then a file that shrinks: the data stays
    // whole through both.
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    c.execute_batch("BEGIN").unwrap();
    c.execute_batch("INSERT INTO t (k, v) SELECT k || 'x', zeroblob(3000) FROM t")
        .unwrap();
    let grown: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    assert!(
        grown > pages * 2,
        "the insert grew the file ({pages} -> {grown})"
    );
    c.execute_batch("ROLLBACK").unwrap();
    assert_eq!(count(&c), 20_000);
    insert(20_000, 21_000);
    assert_eq!(count(&c), 21_000);
    assert_eq!(integrity(&c), "ok");

    c.execute_batch("DELETE FROM t WHERE rowid % 10 != 0; VACUUM;")
        .unwrap();
    assert_eq!(count(&c), 2_100);
    insert(30_000, 32_000);
    assert_eq!(count(&c), 4_100);
    assert_eq!(integrity(&c), "ok");
    let distinct: i64 = c
        .query_row("SELECT count(DISTINCT k) FROM t INDEXED BY t_k", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(distinct, 4_100, "the index holds every row once");
}
