//! The API's JSON as it really arrives, and its normalisation into [`Snapshot`].
//!
//! Everything is read from `serde_json::Value` by hand rather than derived: the
//! published docs contradict each other (see "Shape variations a client must
//! tolerate" in the API notes), and one odd field must fail only its own
//! campaign, never a whole page.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::FetchError;
use crate::observe::{Agent, CampaignStatus, Snapshot};

/// One page of `GET /v1/campaigns`; items stay raw so each normalises on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignPage {
    pub items: Vec<Value>,
    pub page: Option<u64>,
    pub size: Option<u64>,
    pub total_count: Option<u64>,
    pub total_pages: Option<u64>,
    pub has_next: Option<bool>,
}

/// Reads the list wrapper; only `data` is required (paging fields drift between versions).
pub fn parse_page(answer: Value) -> Result<CampaignPage, FetchError> {
    let Value::Object(mut wrapper) = answer else {
        return Err(wrong_shape(format!(
            "the campaign list is {} instead of an object",
            kind_of(&answer)
        )));
    };
    let items = match wrapper.remove("data") {
        Some(Value::Array(items)) => items,
        // An empty account may plausibly be answered with `"data": null`.
        Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(wrong_shape(format!(
                "the campaign list field \"data\" is {} instead of an array",
                kind_of(&other)
            )))
        }
        None => return Err(wrong_shape("the campaign list has no \"data\" field")),
    };
    Ok(CampaignPage {
        items,
        page: unsigned(wrapper.get("page")),
        size: unsigned(wrapper.get("size")),
        // The old calls page spells it `totalCounts`; accept either.
        total_count: unsigned(wrapper.get("totalCount")).or(unsigned(wrapper.get("totalCounts"))),
        total_pages: unsigned(wrapper.get("totalPages")),
        has_next: wrapper.get("hasNext").and_then(Value::as_bool),
    })
}

/// The `campaignId` of a raw campaign, when it can be read at all.
pub fn campaign_id_of(campaign: &Value) -> Option<String> {
    opaque_text(campaign.get("campaignId")?).filter(|id| !id.is_empty())
}

/// Normalises one raw campaign; a missing required field fails with its name.
pub fn normalise_campaign(campaign: &Value) -> Result<Snapshot, FetchError> {
    let Value::Object(fields) = campaign else {
        return Err(wrong_shape(format!(
            "the campaign is {} instead of an object",
            kind_of(campaign)
        )));
    };
    let id = match fields.get("campaignId") {
        None | Some(Value::Null) => return Err(wrong_shape("the campaign has no \"campaignId\"")),
        Some(value) => opaque_text(value)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| wrong_shape("the campaign's \"campaignId\" is empty or not text"))?,
    };
    let status = match fields.get("campaignStatus") {
        None | Some(Value::Null) => {
            return Err(wrong_shape(format!(
                "campaign {id} has no \"campaignStatus\""
            )))
        }
        Some(Value::String(text)) if !text.trim().is_empty() => CampaignStatus::parse(text),
        Some(_) => {
            return Err(wrong_shape(format!(
                "campaign {id} has an empty or non-text \"campaignStatus\""
            )))
        }
    };
    let name = fields
        .get("campaignName")
        .and_then(opaque_text)
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| id.clone());
    Ok(Snapshot {
        name,
        status,
        upload_errors: upload_errors(fields.get("errors")),
        agent: fields.get("agent").and_then(agent),
        caller_number: caller_number(fields.get("phoneNumber")),
        caller_active: caller_active(fields.get("phoneNumber")),
        concurrent_calls: fields.get("concurrentCalls").and_then(integer),
        scheduled_date: fields.get("scheduledDate").and_then(opaque_text),
        id,
    })
}

/// A phone number sent as text or as a bare number, as `+<digits>` when it was digits only.
pub fn normalise_phone_number(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => {
            let text = text.trim();
            if text.is_empty() {
                None
            } else if text.chars().all(|c| c.is_ascii_digit()) {
                Some(format!("+{text}"))
            } else {
                Some(text.to_string())
            }
        }
        Value::Number(number) => {
            if let Some(digits) = number.as_u64() {
                return Some(format!("+{digits}"));
            }
            // Some JSON encoders write large integers as floats (1.4155552671E10).
            let float = number.as_f64()?;
            let is_whole_positive = float.is_finite() && float > 0.0 && float.fract() == 0.0;
            (is_whole_positive && float < 1e16).then(|| format!("+{float:.0}"))
        }
        _ => None,
    }
}

/// `phoneNumber` is an object in new docs but the literal "Object" (or null) in old ones;
/// only the object carries a number.
fn caller_number(phone_number: Option<&Value>) -> Option<String> {
    let Some(Value::Object(phone)) = phone_number else {
        return None;
    };
    phone
        .get("sipPhoneNumber")
        .and_then(normalise_phone_number)
        .or_else(|| {
            phone
                .get("outboundPhoneNumber")
                .and_then(normalise_phone_number)
        })
}

/// `phoneNumber.active` when the API sent a phone-number object with the flag;
/// a flag sent as text (`"false"`) is read too, anything else is not known.
fn caller_active(phone_number: Option<&Value>) -> Option<bool> {
    let Some(Value::Object(phone)) = phone_number else {
        return None;
    };
    match phone.get("active")? {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn upload_errors(errors: Option<&Value>) -> BTreeSet<String> {
    match errors {
        Some(Value::Array(rows)) => rows
            .iter()
            .filter_map(|row| match row {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                // Keep odd entries visible rather than dropping an error the user should see.
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(single)) if !single.is_empty() => BTreeSet::from([single.clone()]),
        _ => BTreeSet::new(),
    }
}

fn agent(value: &Value) -> Option<Agent> {
    let Value::Object(fields) = value else {
        return None;
    };
    Some(Agent {
        id: text_field(fields, "agentId"),
        // The full agent object (GET /v1/agents) says `agentName`; accept it too.
        name: text_field(fields, "name").or_else(|| text_field(fields, "agentName")),
        status: text_field(fields, "status"),
    })
}

fn text_field(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields.get(key).and_then(opaque_text)
}

/// Text as-is, numbers and booleans as their JSON text; null, arrays and objects are not text.
fn opaque_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn unsigned(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_shape(detail: impl Into<String>) -> FetchError {
    FetchError::WrongShape {
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests;
