use super::*;

#[test]
fn the_payload_carries_the_account_and_old_payloads_are_defaults() {
    let mut event = Event::about_the_watcher(
        EventType::ApiUnhealthy,
        event_id(&["watcher", "api_unhealthy", "1"]),
        Utc::now(),
        "the API cannot be read".into(),
    );
    event.account = default_account();
    let single = event.clone();
    event.assign_account(DEFAULT_ACCOUNT);
    assert_eq!(
        event.id, single.id,
        "default's ids are those of single-account releases"
    );
    assert_eq!(event.named_account(), None);
    let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(json["account"], "default");
    // Stored before accounts existed: the default account's.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("account");
    let old: Event = serde_json::from_value(old).unwrap();
    assert_eq!(old.account(), Some(DEFAULT_ACCOUNT));
    // The whole watcher's events belong to no account.
    let mut watcher = json.clone();
    watcher["account"] = serde_json::Value::Null;
    assert_eq!(
        serde_json::from_value::<Event>(watcher).unwrap().account(),
        None
    );
    let mut acme = single.clone();
    acme.assign_account("acme");
    assert_eq!(acme.named_account(), Some("acme"));
    assert_eq!(acme.id, account_event_id("acme", &single.id));
    assert_ne!(acme.id, single.id);
}

#[test]
fn account_event_ids_keep_the_default_accounts_and_separate_the_others() {
    let id = event_id(&["camp_1", "campaign.status_changed", "live", "paused", "3"]);
    assert_eq!(account_event_id(DEFAULT_ACCOUNT, &id), id);
    let acme = account_event_id("acme", &id);
    assert_ne!(acme, id);
    assert_eq!(acme, account_event_id("acme", &id), "deterministic");
    assert_ne!(acme, account_event_id("globex", &id));
    assert!(acme.starts_with("evt_") && acme.len() == id.len());
}

#[test]
fn event_ids_are_deterministic_and_distinct() {
    let a = event_id(&["camp_1", "campaign.status_changed", "live", "paused", "3"]);
    assert_eq!(
        a,
        event_id(&["camp_1", "campaign.status_changed", "live", "paused", "3"])
    );
    assert_ne!(
        a,
        event_id(&["camp_1", "campaign.status_changed", "live", "paused", "4"])
    );
    // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
    assert_ne!(event_id(&["ab", "c"]), event_id(&["a", "bc"]));
    assert!(a.starts_with("evt_") && a.len() == 28);
}

#[test]
fn event_types_round_trip_through_their_names() {
    for kind in EventType::ALL {
        assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
    }
    assert_eq!(EventType::parse("campaign.nope"), None);
}

/// The names serde's derive knows for `EventType`: every variant, by construction.
/// A deserializer that only records what `deserialize_enum` is handed.
fn every_variant_name() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    #[derive(Debug)]
    struct Variants(&'static [&'static str]);
    impl fmt::Display for Variants {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Variants {}
    impl de::Error for Variants {
        fn custom<T: fmt::Display>(message: T) -> Self {
            panic!("EventType deserialised without naming its variants: {message}")
        }
    }

    struct RecordVariants;
    impl<'de> serde::Deserializer<'de> for RecordVariants {
        type Error = Variants;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Variants> {
            panic!("EventType is no longer deserialised as an enum")
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Variants> {
            Err(Variants(variants))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }

    match EventType::deserialize(RecordVariants) {
        Err(Variants(names)) => names,
        Ok(kind) => panic!("deserialised {kind} from nothing"),
    }
}

/// `parse` (and so every rule, silence and `--event`) only knows what `ALL`
/// lists, and forgetting a new variant there still compiles.
#[test]
fn all_lists_every_variant_once() {
    let listed: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    let mut unique = listed.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "ALL repeats a type: {listed:?}");
    for name in every_variant_name() {
        assert!(
            listed.contains(name),
            "EventType::ALL leaves out {name}, so EventType::parse({name:?}) finds nothing"
        );
    }
    assert_eq!(listed.len(), every_variant_name().len());
}

#[test]
fn board_links_encode_each_segment_and_point_the_watchers_events_at_the_board() {
    let mut event = Event::about_the_watcher(
        EventType::StatusChanged,
        "evt_1".into(),
        Utc::now(),
        String::new(),
    );
    event.campaign = Some(CampaignInfo {
        id: "camp_a/../../admin?x=1".into(),
        name: "A".into(),
        status: CampaignStatus::Paused,
        previous_status: Some(CampaignStatus::Live),
        agent: None,
        caller_number: None,
    });
    event.account = Some("acme".into());
    assert_eq!(
        Links::on_board("https://w.example.com/", &event).board,
        "https://w.example.com/accounts/acme/campaigns/camp_a%2F%2E%2E%2F%2E%2E%2Fadmin%3Fx%3D1"
    );
    event.campaign = None;
    assert_eq!(
        Links::on_board("https://w.example.com", &event).board,
        "https://w.example.com/"
    );
}
