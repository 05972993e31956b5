//! Verification resources: start (create), fetch, update (cancel), and VerificationCheck.
//! Every parameter is read and validated before the core is called, so a refused request
//! writes nothing.

use super::error::TwError;
use super::form::{Params, TwForm};
use super::wire::{CheckJson, VerificationJson};
use super::{TwAuth, TwPath, services_url};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use otpd_core::code::Code;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::StartInput;
use otpd_core::render::Locale;
use otpd_core::verification::Status;

/// Parameters that change what is sent or checked in ways otpd cannot do (per-request brand,
/// free text, templates, PSD2 transactions, per-request rate limits): refused, not dropped.
const UNSUPPORTED_START: &[&str] = &[
    "CustomFriendlyName",
    "CustomMessage",
    "TemplateSid",
    "TemplateCustomSubstitutions",
    "Amount",
    "Payee",
    "RateLimits",
];

/// `Channel`: otpd's three. Twilio's `whatsapp`, `sna` and `auto` have no otpd route.
fn channel(p: &Params) -> Result<Channel, TwError> {
    match p.required("Channel")? {
        "sms" => Ok(Channel::Sms),
        "call" => Ok(Channel::Call),
        "email" => Ok(Channel::Email),
        _ => Err(TwError::invalid(
            "Channel",
            "must be sms, call or email (otpd has no other channel)",
        )),
    }
}

fn start_input(p: &Params) -> Result<StartInput, TwError> {
    let to = p.required("To")?;
    let channel = channel(p)?;
    p.refuse(UNSUPPORTED_START)?;
    let to = Destination::parse_for(channel, to, "to")?;
    let locale = p
        .get("Locale")
        .map(|l| Locale::parse(l, "locale"))
        .transpose()?;
    let custom_code = p
        .get("CustomCode")
        .map(|c| Code::custom(c, "custom_code"))
        .transpose()?;
    Ok(StartInput {
        locale,
        custom_code,
        ..StartInput::new(to, channel)
    })
}

/// `POST /v2/Services/{sid}/Verifications`: sends a code (or re-sends, with the same sid,
/// while one is pending for `To`).
pub async fn create(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
    TwPath(sid): TwPath<String>,
    TwForm(p): TwForm,
) -> Result<(StatusCode, Json<VerificationJson>), TwError> {
    let input = start_input(&p)?;
    let service = state.engine.service(&who, &sid).await?;
    let started = state
        .engine
        .start_with_service(&who, service, input)
        .await?;
    let base = format!("{}/{sid}", services_url(&headers));
    Ok((
        StatusCode::CREATED,
        Json(VerificationJson::new(
            &started.verification,
            state.engine.now(),
            &base,
        )),
    ))
}

/// `GET /v2/Services/{sid}/Verifications/{vsid}`: the verification in whatever state it is.
pub async fn fetch(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
    TwPath((sid, vsid)): TwPath<(String, String)>,
) -> Result<Json<VerificationJson>, TwError> {
    let v = state.engine.verification(&who, &sid, &vsid).await?;
    let base = format!("{}/{sid}", services_url(&headers));
    Ok(Json(VerificationJson::new(&v, state.engine.now(), &base)))
}

/// `POST /v2/Services/{sid}/Verifications/{vsid}` `Status=canceled`. A verification that is no
/// longer pending is gone for Twilio: 20404. `Status=approved` (approving without the code) is
/// refused: otpd approves only the right code.
pub async fn update(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
    TwPath((sid, vsid)): TwPath<(String, String)>,
    TwForm(p): TwForm,
) -> Result<Json<VerificationJson>, TwError> {
    match p.required("Status")? {
        "canceled" => {}
        "approved" => {
            return Err(TwError::invalid(
                "Status",
                "approved is not supported: otpd approves a verification only with its code",
            ));
        }
        _ => return Err(TwError::invalid("Status", "must be canceled")),
    }
    let v = state.engine.cancel_verification(&who, &sid, &vsid).await?;
    let base = format!("{}/{sid}", services_url(&headers));
    Ok(Json(VerificationJson::new(&v, state.engine.now(), &base)))
}

/// `POST /v2/Services/{sid}/VerificationCheck` `Code` and `VerificationSid` or `To` (the
/// pending verification for that destination). Answers as Twilio does: 200 `approved` for the
/// right code, 200 `pending` for a wrong one that was counted (`max_attempts_reached` when it
/// was the last allowed), 429 60202 once attempts are exhausted, 404 20404 for an approved,
/// canceled, expired or unknown verification.
pub async fn check(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    TwPath(sid): TwPath<String>,
    TwForm(p): TwForm,
) -> Result<Json<CheckJson>, TwError> {
    p.refuse(&["Amount", "Payee"])?;
    let code = Code::candidate(p.required("Code")?, "code")?;
    let checked = match (p.get("VerificationSid"), p.get("To")) {
        (Some(vsid), _) => {
            state
                .engine
                .check_verification(&who, &sid, vsid, code)
                .await?
        }
        (None, Some(to)) => {
            let to = Destination::parse_any(to, "to")?;
            state
                .engine
                .check_destination(&who, &sid, &to, code)
                .await?
        }
        (None, None) => return Err(TwError::missing("To")),
    };
    let o = checked.outcome;
    let counted = o.changed && matches!(o.status, Status::Pending | Status::MaxAttemptsReached);
    if o.valid || counted {
        return Ok(Json(CheckJson::new(
            &checked.verification,
            o.status,
            o.valid,
        )));
    }
    match o.status {
        Status::MaxAttemptsReached => Err(TwError::max_check_attempts()),
        _ => Err(TwError::not_found()),
    }
}
