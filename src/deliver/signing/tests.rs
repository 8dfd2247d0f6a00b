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
