//! The pieces every part's settings are made of: bounded numbers and
//! durations, account patterns, secrets and their `*_file` keys, URL checks and redaction, the
//! keys a settings struct takes, and "did you mean". Each part defines its own
//! settings beside itself with these; `config` assembles and loads them.

pub mod account_pattern;
pub mod bounds;
pub mod fields;
pub mod secret;
pub mod suggest;
pub mod url;
