//! `kind = "telegram"`: a bot's `sendMessage` to one chat, one message per event.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{chat_id_value, looks_like_a_bot_token, TelegramChannel};
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::hook_url::secret_methods;
use crate::deliver::DeliverError;
use crate::setting::secret::Secret;
use crate::setting::url::check_secret_url;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TelegramSettings {
    /// The bot's token from @BotFather (`123456789:AA...`), a secret: it is
    /// part of every request's URL, which is therefore never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token_file: Option<PathBuf>,
    /// The chat: its number (groups are negative, e.g. `"-1001234567890"`)
    /// or a public channel's `@username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// A forum topic of the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    /// The Bot API server (default `https://api.telegram.org`; a local
    /// `telegram-bot-api` server, or a receiver in tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Let `api_url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for TelegramSettings {
    type Channel = Box<TelegramChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        match &self.bot_token {
            None => problems.push(format!(
                "{at}.bot_token: a telegram channel needs its bot's token from @BotFather (bot_token or bot_token_file)"
            )),
            Some(token) if !looks_like_a_bot_token(token.expose().trim()) => problems.push(format!(
                "{at}.bot_token: is not a bot token (digits, a colon, then letters, digits, - and _)"
            )),
            Some(_) => {}
        }
        match self.chat_id.as_deref() {
            None => problems.push(format!(
                "{at}.chat_id: a telegram channel needs the chat's number (e.g. \"-1001234567890\") or a channel's \"@username\""
            )),
            Some(chat_id) if chat_id_value(chat_id).is_none() => problems.push(format!(
                "{at}.chat_id: \"{}\" is neither a chat number nor an @username of 4-32 letters, digits or _",
                crate::text::terminal(&crate::text::cap(chat_id, 40))
            )),
            Some(_) => {}
        }
        if let Some(url) = &self.api_url {
            check_secret_url(
                &format!("{at}.api_url"),
                url,
                self.allow_link_local,
                problems,
            );
        }
        text.check(at, None, problems);
    }

    secret_methods! { url: api_url; keys: bot_token => bot_token_file }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<TelegramChannel>, DeliverError> {
        TelegramChannel::new(self, context).map(Box::new)
    }
}
