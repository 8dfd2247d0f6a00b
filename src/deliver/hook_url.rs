//! The settings piece of the kinds whose whole webhook URL is their credential
//! (Slack, Discord, Teams, Mattermost, Google Chat): `url`, `url_file` and
//! `allow_link_local`, checked, read, hidden and turned into a target once.
//!
//! [`hook_url_settings!`] writes the three keys into each kind's own struct
//! rather than nesting them with `#[serde(flatten)]`: a flattened struct is
//! read as a map, so serde's field list (the loader's unknown-key check) would
//! lose every key, and environment strings (`"true"`) would no longer be typed.

use super::channel::BuildContext;
use super::target::Target;
use super::DeliverError;
use crate::setting::url::check_secret_url;

/// The hook URL keys of one channel, whatever its kind.
pub(super) struct HookUrl<'a> {
    pub url: Option<&'a str>,
    pub allow_link_local: bool,
}

impl HookUrl<'_> {
    /// The URL is required; a problem names it, never shows it.
    pub fn check(&self, at: &str, kind: &str, problems: &mut Vec<String>) {
        match self.url {
            None => problems.push(format!(
                "{at}.url: a {kind} channel needs the webhook url (url or url_file)"
            )),
            Some(url) => {
                check_secret_url(&format!("{at}.url"), url, self.allow_link_local, problems)
            }
        }
    }

    /// The target the channel posts to.
    pub fn target(&self, context: &BuildContext<'_>) -> Result<Target, DeliverError> {
        Target::required(
            context.name,
            self.url,
            context.shared.timeout,
            self.allow_link_local,
        )
    }
}

/// A kind's settings struct with the hook URL keys around its own fields
/// (`url`, `url_file` first, `allow_link_local` last, as the reference lists
/// them), its `hook_url()` view, and the `ChannelConfig` methods that read,
/// hide and list the secret URL (`hook_url_secret_methods!()` in the impl).
macro_rules! hook_url_settings {
    (
        $(#[$url_doc:meta])*
        url;
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $type:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default, ::serde::Serialize, ::serde::Deserialize)]
        pub struct $name {
            $(#[$url_doc])*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub url: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub url_file: Option<std::path::PathBuf>,
            $($(#[$field_meta])* pub $field: $type,)*
            /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            pub allow_link_local: bool,
        }

        impl $name {
            pub(in $crate::deliver) fn hook_url(&self) -> $crate::deliver::hook_url::HookUrl<'_> {
                $crate::deliver::hook_url::HookUrl {
                    url: self.url.as_deref(),
                    allow_link_local: self.allow_link_local,
                }
            }
        }
    };
}
pub(super) use hook_url_settings;

/// The `ChannelConfig` methods of a [`hook_url_settings!`] kind.
macro_rules! hook_url_secret_methods {
    () => {
        $crate::deliver::hook_url::secret_methods! { url: url => url_file; keys: }
    };
}
pub(super) use hook_url_secret_methods;

/// The `ChannelConfig` methods that read a kind's secrets from their `_file`
/// twins, hide its URL and list every secret for scrubbing: one definition,
/// so how a secret is read, hidden and scrubbed cannot drift between kinds.
/// `url:` names the URL key that may carry credentials (and its file twin,
/// if it has one); `keys:` the secret keys and their file twins.
macro_rules! secret_methods {
    (url: $url:ident $(=> $url_file:ident)?; keys: $($key:ident => $key_file:ident),*) => {
        fn read_secret_files(&mut self, files: &mut $crate::setting::secret::SecretFiles<'_>) {
            $(files.fill(stringify!($url_file), self.$url_file.as_deref(), &mut self.$url);)?
            $(files.fill(stringify!($key_file), self.$key_file.as_deref(), &mut self.$key);)*
        }

        fn redact(&mut self) {
            $crate::setting::url::hide_url(&mut self.$url);
        }

        fn secrets(&self) -> Vec<String> {
            #[allow(unused_mut)]
            let mut secrets = $crate::setting::url::url_secrets(self.$url.as_deref());
            $(secrets.extend(self.$key.iter().map(|key| key.expose().trim().to_string()));)*
            secrets
        }
    };
}
pub(super) use secret_methods;
