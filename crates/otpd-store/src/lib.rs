//! Storage adapters for otpd-core's `Store` port. SQLite is the embedded default; PostgreSQL
//! (many nodes on one database) implements the same trait.

pub mod postgres;
pub mod sqlite;
#[doc(hidden)]
pub mod testing;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

#[cfg(test)]
mod tests;
