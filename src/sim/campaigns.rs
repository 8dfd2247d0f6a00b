//! Deterministic generation of API-shaped campaigns for the simulator.
//!
//! Each campaign's shape is chosen from its index with co-prime moduli, so any
//! run of a few dozen consecutive campaigns covers every documented variation
//! (see "Shape variations a client must tolerate") in many combinations, and a
//! given index always yields the same JSON.

use serde_json::{json, Map, Value};

const STATUSES: [&str; 4] = ["live", "scheduled", "paused", "completed"];
const AGENT_STATUSES: [&str; 3] = ["Live", "Testing", "active"];
const PROVIDERS: [&str; 3] = ["twilio", "telnyx", "byo"];
const ROW_ERRORS: [&str; 4] = [
    "Row 12: invalid phone number",
    "Row 40: missing column 'first_name'",
    "Row 7: duplicate contact",
    "Row 93: phone number is not E.164",
];
const NAME_WORDS: [&str; 8] = [
    "Outreach",
    "Renewals",
    "Win-back",
    "Onboarding",
    "Survey",
    "Reminder",
    "Upsell",
    "Follow-up",
];

/// `count` campaigns, indices `0..count`.
pub fn generate(count: usize) -> Vec<Value> {
    (0..count).map(generated_campaign).collect()
}

/// The campaign at `index`; ids are unique per index.
pub fn generated_campaign(index: usize) -> Value {
    let token = id_token(index);
    let id = match index % 10 {
        3 => format!("camp-{token}"),
        7 => token.clone(),
        _ => format!("camp_{token}"),
    };
    let status = STATUSES[index % STATUSES.len()];
    let mut campaign = Map::new();
    campaign.insert("campaignId".into(), json!(id));
    if index % 17 != 16 {
        let word = NAME_WORDS[index % NAME_WORDS.len()];
        campaign.insert("campaignName".into(), json!(format!("{word} #{index}")));
    }
    campaign.insert("campaignStatus".into(), json!(status));
    if status == "scheduled" {
        // Both published formats: full date-time with millis, and the create page's date only.
        let day = 1 + index % 28;
        let date = if index % 3 == 0 {
            format!("2027-03-{day:02}")
        } else {
            format!("2027-03-{day:02}T09:30:00.000Z")
        };
        campaign.insert("scheduledDate".into(), json!(date));
    } else if index % 2 == 0 {
        campaign.insert("scheduledDate".into(), Value::Null);
    }
    campaign.insert("concurrentCalls".into(), json!(1 + index % 5));
    campaign.insert("agent".into(), agent(index));
    match index % 5 {
        0 | 1 => {
            campaign.insert("phoneNumber".into(), phone_number(index));
        }
        2 => {
            campaign.insert("phoneNumber".into(), json!("Object"));
        }
        3 => {
            campaign.insert("phoneNumber".into(), Value::Null);
        }
        _ => {}
    }
    match index % 6 {
        0 | 4 => {
            campaign.insert("errors".into(), json!([]));
        }
        1 => {
            campaign.insert("errors".into(), Value::Null);
        }
        2 => {}
        3 => {
            campaign.insert(
                "errors".into(),
                json!([ROW_ERRORS[index % 4], ROW_ERRORS[(index + 1) % 4]]),
            );
        }
        _ => {
            campaign.insert("errors".into(), json!([ROW_ERRORS[index % 4]]));
        }
    }
    campaign.insert("scheduled".into(), json!(status == "scheduled"));
    // Fields no version documents: a tolerant client must ignore them.
    if index % 4 == 1 {
        campaign.insert("dynamicVariables".into(), json!({"region": "EMEA"}));
    }
    if index % 9 == 2 {
        campaign.insert(
            "recordingUrl".into(),
            json!(format!("https://rec.example/{index}")),
        );
    }
    campaign.insert("createdAt".into(), json!("2026-01-15T08:00:00.000Z"));
    Value::Object(campaign)
}

fn agent(index: usize) -> Value {
    let agent_token = format!("Ag{:06}", index % 97);
    let agent_id = if index % 2 == 0 {
        format!("agent_{agent_token}")
    } else {
        agent_token
    };
    let status = AGENT_STATUSES[index % AGENT_STATUSES.len()];
    if index % 11 == 5 {
        // Parts of the embedded agent may be missing.
        return json!({"agentId": agent_id});
    }
    json!({"name": format!("Caller Bot {}", index % 97), "agentId": agent_id, "status": status})
}

fn phone_number(index: usize) -> Value {
    let digits = 15_550_000_000u64 + index as u64;
    let mut phone = Map::new();
    if index % 7 != 0 {
        // The mid docs write numbers as bare integers without `+`.
        let sip = if index % 3 == 0 {
            json!(digits)
        } else {
            json!(format!("+{digits}"))
        };
        phone.insert("sipPhoneNumber".into(), sip);
    }
    phone.insert(
        "outboundPhoneNumber".into(),
        if index % 2 == 0 {
            json!(digits + 1)
        } else {
            json!(format!("+{}", digits + 1))
        },
    );
    if index % 4 != 3 {
        phone.insert("provider".into(), json!(PROVIDERS[index % PROVIDERS.len()]));
    }
    phone.insert("inboundAgentId".into(), Value::Null);
    // `active` is what a probable-cause hint reads: sometimes false, sometimes left out.
    match index % 13 {
        12 => {
            phone.insert("active".into(), json!(false));
        }
        6 => {}
        _ => {
            phone.insert("active".into(), json!(true));
        }
    }
    if index % 3 == 2 {
        phone.insert("terminationSipURI".into(), json!("sip.example.net"));
    }
    phone.insert("friendlyName".into(), json!(format!("Line {index}")));
    Value::Object(phone)
}

/// 16 opaque-looking characters, unique per index: 10 scrambled, then the index in base 62.
fn id_token(index: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut scrambled = splitmix64(index as u64);
    let mut token = String::with_capacity(16);
    for _ in 0..10 {
        token.push(ALPHABET[(scrambled % 62) as usize] as char);
        scrambled /= 62;
    }
    let mut unique = index as u64;
    for _ in 0..6 {
        token.push(ALPHABET[(unique % 62) as usize] as char);
        unique /= 62;
    }
    token
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generation_is_deterministic_and_ids_unique() {
        assert_eq!(generate(50), generate(50));
        let ids: HashSet<String> = generate(20_000)
            .iter()
            .filter_map(|c| c["campaignId"].as_str().map(String::from))
            .collect();
        assert_eq!(ids.len(), 20_000);
    }

    #[test]
    fn sixty_campaigns_cover_every_variation() {
        let campaigns = generate(60);
        let has = |predicate: &dyn Fn(&Value) -> bool| campaigns.iter().any(predicate);
        assert!(has(&|c| c["campaignId"]
            .as_str()
            .is_some_and(|id| id.starts_with("camp_"))));
        assert!(has(&|c| c["campaignId"]
            .as_str()
            .is_some_and(|id| id.starts_with("camp-"))));
        assert!(has(&|c| c["campaignId"]
            .as_str()
            .is_some_and(|id| !id.starts_with("camp"))));
        for status in STATUSES {
            assert!(has(&|c| c["campaignStatus"] == status));
        }
        assert!(has(&|c| c["phoneNumber"].is_object()));
        assert!(has(&|c| c["phoneNumber"] == "Object"));
        assert!(has(&|c| c.get("phoneNumber").is_some_and(Value::is_null)));
        assert!(has(&|c| c.get("phoneNumber").is_none()));
        assert!(has(&|c| c["phoneNumber"]["sipPhoneNumber"].is_u64()));
        assert!(has(
            &|c| c["phoneNumber"].is_object() && c["phoneNumber"].get("sipPhoneNumber").is_none()
        ));
        assert!(has(&|c| c["phoneNumber"]["active"] == true));
        assert!(has(&|c| c["phoneNumber"]["active"] == false));
        assert!(has(
            &|c| c["phoneNumber"].is_object() && c["phoneNumber"].get("active").is_none()
        ));
        assert!(has(&|c| c["errors"].as_array().is_some_and(Vec::is_empty)));
        assert!(has(&|c| c.get("errors").is_some_and(Value::is_null)));
        assert!(has(&|c| c.get("errors").is_none()));
        assert!(has(&|c| c["errors"]
            .as_array()
            .is_some_and(|rows| rows.len() == 2)));
        assert!(has(&|c| c.get("scheduledDate").is_some_and(Value::is_null)));
        assert!(has(&|c| c.get("scheduledDate").is_none()));
        for status in AGENT_STATUSES {
            assert!(has(&|c| c["agent"]["status"] == status));
        }
        assert!(has(&|c| c.get("campaignName").is_none()));
        assert!(has(&|c| c.get("recordingUrl").is_some()));
        // scheduledDate is a string only on scheduled campaigns.
        assert!(campaigns
            .iter()
            .all(|c| c["scheduledDate"].is_string() == (c["campaignStatus"] == "scheduled")));
    }
}
