//! Row <-> domain mapping, shared by the query modules.

use super::pool::sql_err;
use otpd_core::Result;
use otpd_core::clock::Timestamp;
use otpd_core::destination::{Channel, Destination};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::render::Locale;
use otpd_core::secrets::Digest32;
use otpd_core::verification::{Reference, Status, Verification};
use rusqlite::Row;

pub(super) const VERIFICATION_COLUMNS: &str = "id, tenant_id, service_id, channel, destination, \
    status, code_mac, custom_code, locale, attempts, max_attempts, send_count, created_at, \
    updated_at, expires_at, context_id, source, reference_code";

pub(super) fn channel(s: &str) -> Result<Channel> {
    Channel::parse(s, "channel")
        .map_err(|_| otpd_core::Error::Internal(format!("unknown stored channel {s:?}")))
}

pub(super) fn locale(s: &str) -> Result<Locale> {
    Locale::parse(s, "locale")
        .map_err(|_| otpd_core::Error::Internal(format!("unknown stored locale {s:?}")))
}

/// Reads a row selected with `VERIFICATION_COLUMNS`.
pub(super) fn verification(row: &Row<'_>) -> Result<Verification> {
    let get_s = |i: usize| row.get::<_, String>(i).map_err(sql_err);
    let get_i = |i: usize| row.get::<_, i64>(i).map_err(sql_err);
    let ch = channel(&get_s(3)?)?;
    let mac: Vec<u8> = row.get(6).map_err(sql_err)?;
    Ok(Verification {
        id: VerificationId::from_trusted(get_s(0)?),
        tenant_id: TenantId::from_trusted(get_s(1)?),
        service_id: ServiceId::from_trusted(get_s(2)?),
        channel: ch,
        to: Destination::from_trusted(ch, get_s(4)?),
        status: Status::parse(&get_s(5)?)?,
        code_mac: Digest32::from_slice(&mac)?,
        custom_code: get_i(7)? != 0,
        locale: locale(&get_s(8)?)?,
        attempts: get_i(9)? as u32,
        max_attempts: get_i(10)? as u32,
        send_count: get_i(11)? as u32,
        created_at: Timestamp(get_i(12)?),
        updated_at: Timestamp(get_i(13)?),
        expires_at: Timestamp(get_i(14)?),
        reference: Reference {
            context_id: row.get(15).map_err(sql_err)?,
            source: row.get(16).map_err(sql_err)?,
            reference_code: row.get(17).map_err(sql_err)?,
        },
    })
}
