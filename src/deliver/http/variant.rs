//! Which request an `http` channel sends for an event: plain, a start or an end.

/// Which request an event gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Events that start no condition and end none (and `test-notify`).
    Plain,
    /// Events that start a condition (a pause, upload errors).
    Start,
    /// Events that end one (the campaign is live again).
    End,
}

impl Variant {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Start => "start.",
            Self::End => "end.",
        }
    }
}
