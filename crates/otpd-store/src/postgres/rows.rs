//! Row <-> domain mapping for PostgreSQL rows.

use super::pool::pg_err;
use otpd_core::Result;
use otpd_core::clock::Timestamp;
use otpd_core::destination::{Channel, Destination};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::render::Locale;
use otpd_core::secrets::Digest32;
use otpd_core::verification::{Reference, Status, Verification};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

pub(super) const VERIFICATION_COLUMNS: &str = "id, tenant_id, service_id, channel, destination, \
    status, code_mac, custom_code, locale, attempts, max_attempts, send_count, created_at, \
    updated_at, expires_at, context_id, source, reference_code";

/// A typed column read whose failure is an error, not a panic.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(pg_err)
}

pub(super) fn channel(s: &str) -> Result<Channel> {
    Channel::parse(s, "channel")
        .map_err(|_| otpd_core::Error::Internal(format!("unknown stored channel {s:?}")))
}

pub(super) fn locale(s: &str) -> Result<Locale> {
    Locale::parse(s, "locale")
        .map_err(|_| otpd_core::Error::Internal(format!("unknown stored locale {s:?}")))
}

fn count(row: &Row, i: usize) -> Result<u32> {
    let n: i64 = get(row, i)?;
    u32::try_from(n).map_err(|_| otpd_core::Error::Internal("stored count out of range".into()))
}

/// Reads a row selected with `VERIFICATION_COLUMNS`.
pub(super) fn verification(row: &Row) -> Result<Verification> {
    let ch = channel(get(row, 3)?)?;
    let mac: &[u8] = get(row, 6)?;
    Ok(Verification {
        id: VerificationId::from_trusted(get(row, 0)?),
        tenant_id: TenantId::from_trusted(get(row, 1)?),
        service_id: ServiceId::from_trusted(get(row, 2)?),
        channel: ch,
        to: Destination::from_trusted(ch, get(row, 4)?),
        status: Status::parse(get(row, 5)?)?,
        code_mac: Digest32::from_slice(mac)?,
        custom_code: get(row, 7)?,
        locale: locale(get(row, 8)?)?,
        attempts: count(row, 9)?,
        max_attempts: count(row, 10)?,
        send_count: count(row, 11)?,
        created_at: Timestamp(get(row, 12)?),
        updated_at: Timestamp(get(row, 13)?),
        expires_at: Timestamp(get(row, 14)?),
        reference: Reference {
            context_id: get(row, 15)?,
            source: get(row, 16)?,
            reference_code: get(row, 17)?,
        },
    })
}
