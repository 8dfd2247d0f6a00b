//! Standard Webhooks v1 signatures: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the base64 part of a `whsec_` secret.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::setting::secret::Secret;

/// Secrets are often pasted without their `=` padding; accept both.
const SECRET_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const PREFIX: &str = "whsec_";

/// Why a signing key is unusable. Never carries the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("the signing secret must start with \"whsec_\"")]
    MissingPrefix,
    #[error("the signing secret after \"whsec_\" is not valid base64")]
    InvalidBase64,
    #[error("the signing secret is empty after \"whsec_\"")]
    Empty,
}

/// The raw HMAC key of a `whsec_<base64>` secret.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SigningError> {
    let encoded = secret
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SigningError::MissingPrefix)?;
    let key = SECRET_ENGINE
        .decode(encoded)
        .map_err(|_| SigningError::InvalidBase64)?;
    if key.is_empty() {
        return Err(SigningError::Empty);
    }
    Ok(key)
}

/// One signature, `v1,<base64>`.
pub fn sign(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, SigningError> {
    let key = decode_secret(secret)?;
    // HMAC takes keys of any length, so this cannot fail for a decoded key.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SigningError::Empty)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` value: one signature per secret, space-separated, so a
/// receiver holding either the old or the new key verifies during a rotation.
pub fn signature_header(
    secrets: &[&Secret],
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, SigningError> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret.expose(), msg_id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1649367553;
    const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
    const EXPECTED: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        assert_eq!(sign(KEY, ID, TS, BODY).unwrap(), EXPECTED);
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let new = Secret::new(KEY);
        let old = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let header = signature_header(&[&new, &old], ID, TS, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], EXPECTED);
        assert_eq!(parts[1], sign(old.expose(), ID, TS, BODY).unwrap());
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn bad_secrets_are_rejected_without_echoing_them() {
        assert_eq!(
            sign("C2FVsBQI", ID, TS, BODY),
            Err(SigningError::MissingPrefix)
        );
        let err = sign("whsec_not base64!!", ID, TS, BODY).unwrap_err();
        assert_eq!(err, SigningError::InvalidBase64);
        assert!(!err.to_string().contains("not base64!!"));
        assert_eq!(sign("whsec_", ID, TS, BODY), Err(SigningError::Empty));
        // Unpadded base64 is accepted.
        assert!(sign("whsec_YWJjZA", ID, TS, BODY).is_ok());
    }
}
