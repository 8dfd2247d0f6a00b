//! The faults the simulator injects into its answers, and the answers they make.

use super::*;

/// Size of the `Huge` fault's body: well past any sane `max_response_bytes`.
pub(super) const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;
pub(super) const HUGE_CHUNK_BYTES: usize = 64 * 1024;

/// A fault to inject into API answers. JSON form: `{"kind":"status","status":503,"retry_after":"2","times":1}`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many answers it affects; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
    /// Only GETs of this campaign id; `None` = every API request.
    #[serde(default)]
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// A Spring-style error answer with this status (and `Retry-After` when given).
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// 502 with an HTML error page, as a gateway would send.
    Html,
    /// 200 with `text/plain` garbage.
    NotJson,
    /// 200 JSON lacking `campaignStatus` (and, for lists, lacking `data`).
    WrongShape,
    /// Wait this long, then answer normally.
    Delay { millis: u64 },
    /// 200 with a ~10 MiB streamed body.
    Huge,
    /// The campaign's name is sent as `"lone \ud800 surrogate"` (a lone UTF-16
    /// surrogate escape), in its GET and in listings, until cleared.
    LoneSurrogate,
    /// The campaign's name is sent with bytes that are not UTF-8 (0xFF 0xFE), in
    /// its GET and in listings, until cleared.
    InvalidUtf8,
    /// Listings ignore `page` and answer the first page with `hasNext: true`,
    /// for ever, until cleared.
    EndlessListing,
    /// Listings ignore `status` and answer every campaign, until cleared (the
    /// real API documents the filter; this is what the watcher does if it
    /// is not honoured).
    IgnoreStatusFilter,
}

impl FaultKind {
    /// Standing faults change how answers are written rather than answering
    /// instead of them; they are never used up (`times` does not apply).
    pub(super) fn is_standing(&self) -> bool {
        matches!(
            self,
            Self::LoneSurrogate
                | Self::InvalidUtf8
                | Self::EndlessListing
                | Self::IgnoreStatusFilter
        )
    }
}

/// Stands in for a campaign name until the answer is serialised, then is
/// replaced by bytes `serde_json` would never write.
pub(super) const LONE_SURROGATE_MARK: &str = "sim-mark:lone-surrogate";
pub(super) const INVALID_UTF8_MARK: &str = "sim-mark:invalid-utf8";

pub(super) struct ActiveFault {
    pub(super) fault: Fault,
    pub(super) remaining: Option<u32>,
}

impl SimControl {
    /// The standing name fault on this campaign, if any.
    pub(super) fn name_fault(&self, campaign_id: &str) -> Option<&'static str> {
        self.lock().faults.iter().find_map(|active| {
            let applies = active
                .fault
                .campaign
                .as_deref()
                .map_or(true, |target| target == campaign_id);
            match active.fault.kind {
                FaultKind::LoneSurrogate if applies => Some(LONE_SURROGATE_MARK),
                FaultKind::InvalidUtf8 if applies => Some(INVALID_UTF8_MARK),
                _ => None,
            }
        })
    }

    pub(super) fn ignores_status_filter(&self) -> bool {
        self.lock()
            .faults
            .iter()
            .any(|active| matches!(active.fault.kind, FaultKind::IgnoreStatusFilter))
    }

    pub(super) fn endless_listing(&self) -> bool {
        self.lock()
            .faults
            .iter()
            .any(|active| matches!(active.fault.kind, FaultKind::EndlessListing))
    }

    /// `campaign` with its name marked for a standing name fault, if one applies.
    pub(super) fn with_name_fault(&self, mut campaign: Value) -> Value {
        let id = campaign
            .get("campaignId")
            .and_then(Value::as_str)
            .map(String::from);
        if let (Some(mark), Some(fields)) = (
            id.and_then(|id| self.name_fault(&id)),
            campaign.as_object_mut(),
        ) {
            fields.insert("campaignName".into(), Value::String(mark.into()));
        }
        campaign
    }
}

/// `value` as a JSON answer, with the name-fault marks replaced by what they stand for.
pub(super) fn json_with_faults(value: &Value) -> Response {
    let text = value.to_string();
    let mut body = text.into_bytes();
    for (mark, raw) in [
        (LONE_SURROGATE_MARK, &br#"lone \ud800 surrogate"#[..]),
        (INVALID_UTF8_MARK, &b"bad \xff\xfe bytes"[..]),
    ] {
        body = replace_bytes(&body, mark.as_bytes(), raw);
    }
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

pub(super) fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while at < haystack.len() {
        if haystack[at..].starts_with(needle) {
            out.extend_from_slice(with);
            at += needle.len();
        } else {
            out.push(haystack[at]);
            at += 1;
        }
    }
    out
}

/// Streamed without a Content-Length, so a client must enforce its cap while reading.
pub(super) fn huge_answer() -> Response {
    let chunks = HUGE_BODY_BYTES / HUGE_CHUNK_BYTES;
    let opening = std::iter::once(Bytes::from_static(
        b"{\"campaignId\":\"camp_huge\",\"padding\":\"",
    ));
    let padding = (0..chunks).map(|_| Bytes::from(vec![b'x'; HUGE_CHUNK_BYTES]));
    let closing = std::iter::once(Bytes::from_static(b"\",\"campaignStatus\":\"live\"}"));
    let body = futures::stream::iter(
        opening
            .chain(padding)
            .chain(closing)
            .map(Ok::<_, Infallible>),
    );
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}
