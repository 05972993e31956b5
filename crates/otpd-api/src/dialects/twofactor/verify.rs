//! `VerifyTwoFactorSmsOtp` `{OtpIdReference, OtpCode}`: a core check of the verification the
//! reference names, its outcome as the dialect's code.

use super::codes::{Failure, ResponseCode, failure_of};
use super::wire::{Fields, Format, Object, Out, body_kind, negotiate};
use super::{Prologue, VERIFY_FIELDS, outcome_fields, prologue, respond_object, wire_number};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use otpd_core::Error;
use otpd_core::code::Code;
use otpd_core::tenant::Principal;
use otpd_core::verification::Status;

#[derive(Debug, Default)]
struct VerifyResponse {
    id: i64,
    otp_id_reference: Option<String>,
    remaining_attempts: i64,
    outcome: Option<Failure>,
}

impl VerifyResponse {
    fn object(&self) -> Object {
        let mut fields = vec![
            ("Id", Out::Int(self.id)),
            ("OtpIdReference", Out::Str(self.otp_id_reference.clone())),
            ("RemainingAttempts", Out::Int(self.remaining_attempts)),
        ];
        fields.extend(outcome_fields(&self.outcome));
        Object {
            name: "VerifyTwoFactorSmsOtpResponse",
            fields,
        }
    }

    fn into_response(self, format: Format) -> Response {
        respond_object(format, self.object(), &self.outcome)
    }
}

/// `POST /api/TwoFactor/VerifyTwoFactorSmsOtp` `{OtpIdReference, OtpCode}`.
pub async fn verify_two_factor_sms_otp(State(state): State<AppState>, req: Request) -> Response {
    let kind = body_kind(req.headers());
    let format = negotiate(req.headers(), kind);
    let (who, fields) = match prologue(
        &state,
        req,
        format,
        kind,
        "VerifyTwoFactorSmsOtpRequest",
        VERIFY_FIELDS,
    )
    .await
    {
        Prologue::Ready(who, fields) => (who, fields),
        Prologue::Refused(resp) => return resp,
        Prologue::Invalid(f) => {
            return VerifyResponse {
                outcome: Some(f),
                ..VerifyResponse::default()
            }
            .into_response(format);
        }
    };
    let resp = match verify(&state, &who, &fields).await {
        Ok(r) => r,
        Err(e) => VerifyResponse {
            otp_id_reference: fields.string("OtpIdReference").ok().flatten(),
            outcome: Some(failure_of(&e)),
            ..VerifyResponse::default()
        },
    };
    resp.into_response(format)
}

async fn verify(
    state: &AppState,
    who: &Principal,
    fields: &Fields,
) -> Result<VerifyResponse, Error> {
    let reference = fields
        .string("OtpIdReference")?
        .ok_or_else(|| Error::invalid("OtpIdReference", "is required"))?;
    let code = fields
        .string("OtpCode")?
        .ok_or_else(|| Error::invalid("OtpCode", "is required"))?;
    let code = Code::candidate(code.trim(), "OtpCode")?;
    let checked = state
        .engine
        .check_in_tenant(who, reference.trim(), code)
        .await?;
    let o = checked.outcome;
    let fail = |code, message: &str| Some(Failure::new(code, StatusCode::OK, message));
    let outcome = if o.valid {
        None
    } else {
        match o.status {
            Status::Pending => fail(ResponseCode::InvalidOtp, "OtpCode: the code is not valid"),
            Status::MaxAttemptsReached => fail(
                ResponseCode::MaxAttemptsExceeded,
                "Too many wrong codes; request a new OTP.",
            ),
            Status::Expired => fail(ResponseCode::OtpExpired, "The OTP has expired."),
            Status::Approved => fail(ResponseCode::InvalidOtp, "The OTP has already been used."),
            Status::Canceled => fail(ResponseCode::InvalidOtp, "The OTP was canceled."),
            Status::Failed => fail(
                ResponseCode::SmsSendFailed,
                "The SMS with this OTP could not be sent.",
            ),
        }
    };
    let v = &checked.verification;
    Ok(VerifyResponse {
        id: wire_number(&v.id),
        otp_id_reference: Some(v.id.to_string()),
        remaining_attempts: i64::from(o.attempts_remaining),
        outcome,
    })
}
