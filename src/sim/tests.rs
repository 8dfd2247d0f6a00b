use std::time::Instant;

use super::*;
use crate::config::SigmaMindSettings;
use crate::fetch::wire;
use crate::fetch::{FetchError, SigmaMindClient};
use crate::observe::{CampaignStatus, FetchFailure, Observation};
use crate::setting::secret::Secret;

const KEY: &str = "sk_test_correct_horse";

async fn sim(campaigns: usize, api_key: Option<&str>) -> SimServer {
    start(
        "127.0.0.1:0".parse().unwrap(),
        SimOptions {
            campaigns,
            api_key: api_key.map(String::from),
        },
    )
    .await
    .unwrap()
}

fn settings(server: &SimServer) -> SigmaMindSettings {
    SigmaMindSettings {
        base_url: server.base_url(),
        timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        max_in_flight: 4,
        max_requests_per_second: 0.0,
        max_retries: 2,
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_secs(3),
        max_response_bytes: 1024 * 1024,
        ..SigmaMindSettings::default()
    }
}

fn client(server: &SimServer) -> SigmaMindClient {
    SigmaMindClient::new(&settings(server), Secret::new(KEY)).unwrap()
}

fn fault(kind: FaultKind, times: Option<u32>) -> Fault {
    Fault {
        kind,
        times,
        campaign: None,
    }
}

fn failure(observation: Observation) -> FetchFailure {
    match observation {
        Observation::Failed(failure) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn get_found_and_not_found() {
    let server = sim(10, Some(KEY)).await;
    let client = client(&server);
    let id = server.control.ids()[0].clone();
    match client.observe(&id).await {
        Observation::Found(snapshot) => assert_eq!(snapshot.id, id),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.observe("camp_nope").await, Observation::NotFound);
    assert!(server.control.remove(&id));
    assert_eq!(client.observe(&id).await, Observation::NotFound);
    let listed = client.list(100, None).await.unwrap();
    assert_eq!(listed.len(), 9);
    assert!(listed.iter().all(|(listed_id, _)| *listed_id != id));
    assert_eq!(client.requests_sent(), 4);
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_key_is_rejected_once_and_never_retried() {
    let server = sim(3, Some(KEY)).await;
    let client = SigmaMindClient::new(&settings(&server), Secret::new("sk_wrong_key")).unwrap();
    let id = server.control.ids()[0].clone();
    let rejected = failure(client.observe(&id).await);
    assert!(rejected.auth_rejected);
    assert!(rejected.reason.contains("401"), "{}", rejected.reason);
    assert!(!rejected.reason.contains("sk_wrong_key"));
    assert_eq!(server.control.requests(), 1);
    let listing = client.list(10, None).await.unwrap_err();
    assert!(listing.is_auth_rejected());
    assert_eq!(server.control.requests(), 2);
    server.stop().await;
}

#[tokio::test]
async fn listing_250_campaigns_takes_three_pages() {
    let server = sim(250, Some(KEY)).await;
    let client = client(&server);
    let listed = client.list(100, None).await.unwrap();
    assert_eq!(listed.len(), 250);
    assert_eq!(server.control.requests(), 3);
    assert_eq!(client.requests_sent(), 3);
    let ids: Vec<String> = listed.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, server.control.ids());
    server.stop().await;
}

#[tokio::test]
async fn the_status_filter_is_passed_through() {
    let server = sim(250, None).await;
    let client = client(&server);
    let paused = client.list(40, Some("paused")).await.unwrap();
    let expected = campaigns::generate(250)
        .iter()
        .filter(|c| c["campaignStatus"] == "paused")
        .count();
    assert_eq!(paused.len(), expected);
    assert!(paused.iter().all(|(_, observation)| matches!(
        observation,
        Observation::Found(snapshot) if snapshot.status == CampaignStatus::Paused
    )));
    server.stop().await;
}

#[tokio::test]
async fn every_generated_shape_normalises() {
    let server = sim(120, None).await;
    let client = client(&server);
    let listed = client.list(50, None).await.unwrap();
    assert_eq!(listed.len(), 120);
    for ((id, observation), raw) in listed.iter().zip(server.control.all_raw()) {
        let Observation::Found(snapshot) = observation else {
            panic!("{id}: {observation:?}");
        };
        assert_eq!(&snapshot.id, id);
        if let Some(number) = &snapshot.caller_number {
            assert!(number.starts_with('+'), "{id}: {number}");
        }
        assert_eq!(
            snapshot.caller_number.is_some(),
            raw["phoneNumber"].is_object(),
            "{id}"
        );
        let raw_errors = raw["errors"].as_array().map_or(0, Vec::len);
        assert_eq!(snapshot.upload_errors.len(), raw_errors, "{id}");
        assert_eq!(Some(snapshot.clone()), wire::normalise_campaign(&raw).ok());
    }
    // A single GET of a few odd ones agrees with the listing.
    for (id, observation) in listed.iter().take(8) {
        assert_eq!(&client.observe(id).await, observation);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_503_then_success_is_retried() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(
        FaultKind::Status {
            status: 503,
            retry_after: None,
        },
        Some(1),
    ));
    let id = server.control.ids()[1].clone();
    assert!(matches!(client.observe(&id).await, Observation::Found(_)));
    assert_eq!(server.control.requests(), 2);
    assert_eq!(client.requests_sent(), 2);
    server.stop().await;
}

#[tokio::test]
async fn persistent_500s_fail_after_the_retries_and_fail_the_listing() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(
        FaultKind::Status {
            status: 500,
            retry_after: None,
        },
        None,
    ));
    let error = client.list(10, None).await.unwrap_err();
    assert!(
        matches!(error, FetchError::HttpStatus { status: 500, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("Simulated failure"), "{error}");
    assert_eq!(server.control.requests(), 3);
    server.control.clear_faults();
    server.control.inject(fault(
        FaultKind::Status {
            status: 400,
            retry_after: None,
        },
        None,
    ));
    let bad_request = failure(client.observe("x").await);
    assert!(bad_request.reason.contains("400"));
    assert_eq!(server.control.requests(), 4);
    server.stop().await;
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(
        FaultKind::Status {
            status: 429,
            retry_after: Some("1".into()),
        },
        Some(1),
    ));
    let id = server.control.ids()[0].clone();
    let started = Instant::now();
    assert!(matches!(client.observe(&id).await, Observation::Found(_)));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.control.requests(), 2);
    server.stop().await;
}

#[tokio::test]
async fn a_retry_after_beyond_retry_max_gives_up_at_once() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(
        FaultKind::Status {
            status: 503,
            retry_after: Some("120".into()),
        },
        None,
    ));
    let given_up = failure(client.observe("anything").await);
    assert!(given_up.reason.contains("retry_max"), "{}", given_up.reason);
    assert_eq!(server.control.requests(), 1);
    server.stop().await;
}

#[tokio::test]
async fn bad_answers_fail_with_a_reason_naming_the_problem() {
    let server = sim(3, None).await;
    let client = client(&server);
    let id = server.control.ids()[0].clone();
    let cases = [
        (FaultKind::NotJson, "not JSON", 1),
        (FaultKind::Html, "HTML", 3),
        (FaultKind::WrongShape, "campaignStatus", 1),
    ];
    for (kind, needle, attempts) in cases {
        let before = server.control.requests();
        server.control.inject(Fault {
            kind: kind.clone(),
            times: None,
            campaign: Some(id.clone()),
        });
        let failed = failure(client.observe(&id).await);
        assert!(
            failed.reason.contains(needle),
            "{kind:?}: {}",
            failed.reason
        );
        assert!(!failed.auth_rejected);
        assert_eq!(server.control.requests() - before, attempts, "{kind:?}");
        server.control.clear_faults();
    }
    // A fault aimed at one campaign leaves the others alone.
    server.control.inject(Fault {
        kind: FaultKind::NotJson,
        times: None,
        campaign: Some(id.clone()),
    });
    let other = server.control.ids()[1].clone();
    assert!(matches!(
        client.observe(&other).await,
        Observation::Found(_)
    ));
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_shape_list_fails_the_listing() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(FaultKind::WrongShape, Some(1)));
    let error = client.list(10, None).await.unwrap_err();
    assert!(error.to_string().contains("\"data\""), "{error}");
    server.stop().await;
}

#[tokio::test]
async fn a_delay_past_the_timeout_is_a_timeout() {
    let server = sim(3, None).await;
    let slow_settings = SigmaMindSettings {
        timeout: Duration::from_millis(300),
        max_retries: 1,
        ..settings(&server)
    };
    let client = SigmaMindClient::new(&slow_settings, Secret::new(KEY)).unwrap();
    server
        .control
        // Far past the timeout: only a timeout ends the request in the test.
        .inject(fault(FaultKind::Delay { millis: 600_000 }, None));
    let timed_out = failure(client.observe(&server.control.ids()[0]).await);
    assert!(
        timed_out.reason.contains("did not answer within 300ms"),
        "{}",
        timed_out.reason
    );
    assert_eq!(client.requests_sent(), 2);
    server.control.clear_faults();
    server
        .control
        .inject(fault(FaultKind::Delay { millis: 50 }, Some(1)));
    assert!(matches!(
        client.observe(&server.control.ids()[0]).await,
        Observation::Found(_)
    ));
    server.stop().await;
}

#[tokio::test]
async fn a_huge_body_exceeds_the_cap() {
    let server = sim(3, None).await;
    let client = client(&server);
    server.control.inject(fault(FaultKind::Huge, Some(1)));
    let too_large = failure(client.observe(&server.control.ids()[0]).await);
    assert!(
        too_large
            .reason
            .contains("larger than the 1048576-byte limit"),
        "{}",
        too_large.reason
    );
    assert_eq!(server.control.requests(), 1);
    server.stop().await;
}

#[tokio::test]
async fn api_conventions_and_admin_routes() {
    let server = sim(25, Some(KEY)).await;
    let http = reqwest::Client::new();
    let base = server.base_url();
    let get_json = |path: String, key: Option<&'static str>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (status, retry_after, response.json::<Value>().await.unwrap())
        }
    };
    let (status, _, page) = get_json("/v1/campaigns".into(), Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 10);
    assert_eq!(
        (
            &page["page"],
            &page["size"],
            &page["totalCount"],
            &page["totalPages"],
            &page["hasNext"],
            &page["hasPrevious"]
        ),
        (
            &json!(0),
            &json!(10),
            &json!(25),
            &json!(3),
            &json!(true),
            &json!(false)
        )
    );
    let (status, _, last) = get_json("/v1/campaigns?page=2&size=10".into(), Some(KEY)).await;
    assert_eq!(
        (
            status,
            last["data"].as_array().unwrap().len(),
            &last["hasNext"]
        ),
        (200, 5, &json!(false))
    );
    let (status, _, error) = get_json("/v1/campaigns?size=0".into(), Some(KEY)).await;
    assert_eq!(status, 400);
    for key in ["error", "message", "path", "status", "timestamp"] {
        assert!(error.get(key).is_some(), "{key} in {error}");
    }
    let (status, _, error) = get_json("/v1/campaigns".into(), None).await;
    assert_eq!((status, &error["status"]), (401, &json!(401)));
    let (status, _, error) = get_json("/v1/campaigns/camp_missing".into(), Some(KEY)).await;
    assert_eq!(
        (status, &error["path"]),
        (404, &json!("/v1/campaigns/camp_missing"))
    );

    let fault_body = json!({"kind":"status","status":503,"retry_after":"2","times":1});
    let injected = http
        .post(format!("{base}/admin/faults"))
        .json(&fault_body)
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status().as_u16(), 200);
    let id = server.control.ids()[0].clone();
    let (status, retry_after, _) = get_json(format!("/v1/campaigns/{id}"), Some(KEY)).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("2")));
    let (status, _, campaign) = get_json(format!("/v1/campaigns/{id}"), Some(KEY)).await;
    assert_eq!((status, &campaign["campaignId"]), (200, &json!(id)));

    let patched = http
        .patch(format!("{base}/admin/campaigns/{id}"))
        .json(&json!({"campaignStatus": "paused", "campaignId": "hijack"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    assert_eq!(server.control.raw(&id).unwrap()["campaignStatus"], "paused");
    let unknown = http
        .patch(format!("{base}/admin/campaigns/nope"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let created = http
        .post(format!("{base}/admin/campaigns"))
        .json(&json!({"campaignId": "camp_new", "campaignStatus": "live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(
        server.control.ids().last().map(String::as_str),
        Some("camp_new")
    );
    let deleted = http
        .delete(format!("{base}/admin/campaigns/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let (all_status, _, all) = get_json("/admin/campaigns".into(), None).await;
    assert_eq!((all_status, all.as_array().unwrap().len()), (200, 25));
    let many = json!({"kind":"not_json"});
    http.post(format!("{base}/admin/faults"))
        .json(&many)
        .send()
        .await
        .unwrap();
    let cleared = http
        .delete(format!("{base}/admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status().as_u16(), 204);
    let (_, _, stats) = get_json("/admin/stats".into(), None).await;
    assert_eq!(stats["requests"], json!(7));
    server.stop().await;
}

#[tokio::test]
async fn the_request_budget_and_in_flight_cap_apply_to_every_attempt() {
    let server = sim(3, None).await;
    let paced = SigmaMindSettings {
        max_requests_per_second: 20.0,
        ..settings(&server)
    };
    let client = SigmaMindClient::new(&paced, Secret::new(KEY)).unwrap();
    let id = server.control.ids()[0].clone();
    let started = Instant::now();
    for _ in 0..5 {
        assert!(matches!(client.observe(&id).await, Observation::Found(_)));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );

    let single_lane = SigmaMindSettings {
        max_in_flight: 1,
        ..settings(&server)
    };
    let client = SigmaMindClient::new(&single_lane, Secret::new(KEY)).unwrap();
    server
        .control
        .inject(fault(FaultKind::Delay { millis: 200 }, Some(2)));
    let started = Instant::now();
    let (first, second) = tokio::join!(client.observe(&id), client.observe(&id));
    assert!(matches!(
        (first, second),
        (Observation::Found(_), Observation::Found(_))
    ));
    assert!(
        started.elapsed() >= Duration::from_millis(390),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[test]
fn faults_deserialize_from_their_documented_json() {
    let parsed: Fault =
        serde_json::from_value(json!({"kind":"status","status":503,"retry_after":"2","times":1}))
            .unwrap();
    assert!(
        matches!(parsed.kind, FaultKind::Status { status: 503, retry_after: Some(ref r) } if r == "2")
    );
    assert_eq!(parsed.times, Some(1));
    let parsed: Fault =
        serde_json::from_value(json!({"kind":"delay","millis":5,"campaign":"camp_x"})).unwrap();
    assert!(matches!(parsed.kind, FaultKind::Delay { millis: 5 }));
    assert_eq!(parsed.campaign.as_deref(), Some("camp_x"));
    for kind in ["html", "not_json", "wrong_shape", "huge"] {
        let parsed: Result<Fault, _> = serde_json::from_value(json!({ "kind": kind }));
        assert!(parsed.is_ok(), "{kind}");
    }
}

#[tokio::test]
/// How fast is `cargo bench --bench cycle`'s business (100,000 by listing).
async fn a_hundred_thousand_campaigns_page_to_the_end() {
    let server = sim(100_000, None).await;
    let client = client(&server);
    let listed = client.list(100, Some("completed")).await.unwrap();
    assert_eq!(listed.len(), 25_000);
    assert_eq!(server.control.requests(), 250);
    let http = reqwest::Client::new();
    let last: Value = http
        .get(format!(
            "{}/v1/campaigns?page=999&size=100",
            server.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["data"].as_array().unwrap().len(), 100);
    assert_eq!(last["hasNext"], json!(false));
    server.stop().await;
}
