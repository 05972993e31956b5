//! Storage adapters for otpd-core's `Store` port. SQLite is the embedded default; PostgreSQL
//! (many nodes on one database) implements the same trait.

pub mod sqlite;

pub use sqlite::SqliteStore;
