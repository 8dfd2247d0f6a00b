//! `kind = "console"`: one line per event on stdout. It has no keys of its own.

use serde::{Deserialize, Serialize};

use super::ConsoleChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::DeliverError;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConsoleSettings {}

impl ChannelConfig for ConsoleSettings {
    type Channel = ConsoleChannel;
    const RENDERS_TEXT: bool = false;

    fn check(&self, _at: &str, _text: &TextSettings, _problems: &mut Vec<String>) {}

    fn build(&self, _context: &BuildContext<'_>) -> Result<ConsoleChannel, DeliverError> {
        Ok(ConsoleChannel::new())
    }
}
