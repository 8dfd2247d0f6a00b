//! The board's pages: campaigns (with the accounts roll-up), one campaign
//! with its timeline, events and silences.

use super::*;

pub(super) async fn campaigns_page(State(state): State<HttpState>, uri: Uri) -> Response {
    let params: CampaignParams = match params(&uri) {
        Ok(params) => params,
        Err(response) => return *response,
    };
    let result = async {
        let query = params.query()?;
        let now = Utc::now();
        let status = status_view(&state, now).await?;
        let list = campaign_list(&state, &query, now).await?;
        Ok::<_, ApiError>((query, status, list))
    }
    .await;
    let (query, status, list) = match result {
        Ok(parts) => parts,
        Err(error) => return failed(error),
    };
    let pages = list.total.div_ceil(u64::from(list.per_page)).max(1);
    let pairs = [
        ("account", query.account.clone()),
        ("status", query.status.clone()),
        ("q", query.text.clone()),
        ("problems", query.problems.then(|| "true".to_string())),
        ("per_page", params.per_page.map(|n| n.to_string())),
    ];
    let mut listed = serde_json::to_value(&list).unwrap_or_default();
    if let Some(rows) = listed.get_mut("campaigns").and_then(|v| v.as_array_mut()) {
        for row in rows {
            let id = row.get("id").and_then(|v| v.as_str()).unwrap_or_default();
            let account = row
                .get("account")
                .and_then(|v| v.as_str())
                .unwrap_or(DEFAULT_ACCOUNT);
            row["page"] = json!(campaign_page_path(account, id));
        }
    }
    let labels: Vec<&str> = STATUS_LABELS.to_vec();
    let glance = render(
        "glance.html",
        json!({
            "status": status,
            "labels": labels,
            "problems": problems(&status),
            "rollup": account_rollup(&status),
        }),
    );
    let glance = match glance {
        Ok(html) => html,
        Err(response) => return *response,
    };
    let body = render(
        "campaigns.html",
        json!({
            "glance": glance,
            "labels": labels,
            "list": listed,
            "pages": pages,
            "accounts": state.accounts.as_ref(),
            "filter": {"account": query.account, "status": query.status, "q": query.text, "problems": query.problems},
            "previous": (list.page > 1).then(|| page_link("/", &pairs, list.page - 1)),
            "next": (u64::from(list.page) < pages).then(|| page_link("/", &pairs, list.page + 1)),
        }),
    );
    page("Campaigns", "campaigns", body, StatusCode::OK)
}

/// Each event as the templates read it: its deliveries rendered, its campaign's page.
pub(super) fn event_values(
    events: &[EventView],
    controls: &Controls,
) -> Result<Vec<serde_json::Value>, Box<Response>> {
    events
        .iter()
        .map(|event| {
            let mut value = serde_json::to_value(event).unwrap_or_default();
            value["what"] = json!(crate::route::quiet::what_happened(&event.event));
            value["delivered"] = json!(render(
                "deliveries.html",
                json!({"e": event, "controls": controls})
            )?);
            if let Some(campaign) = &event.event.campaign {
                let account = event.event.account().unwrap_or(DEFAULT_ACCOUNT);
                value["page"] = json!(campaign_page_path(account, &campaign.id));
            }
            Ok(value)
        })
        .collect()
}

/// "live → paused 2026-11-26 23:10, paused → live 23:40", oldest first.
pub(super) fn timeline(events: &[EventView]) -> String {
    let mut steps = Vec::new();
    let mut last_day = None;
    for view in events.iter().rev() {
        let event = &view.event;
        if event.kind != EventType::StatusChanged {
            continue;
        }
        let Some(campaign) = &event.campaign else {
            continue;
        };
        let day = event.occurred_at.date_naive();
        let at = if last_day == Some(day) {
            event.occurred_at.format("%H:%M").to_string()
        } else {
            event.occurred_at.format("%Y-%m-%d %H:%M").to_string()
        };
        last_day = Some(day);
        let from = campaign
            .previous_status
            .as_ref()
            .map_or("?".to_string(), |s| s.to_string());
        steps.push(format!("{from} → {} {at}", campaign.status));
    }
    steps.join(", ")
}

/// `/accounts/{account}/campaign?id=`: the page of any id, `.` and `..` included.
pub(super) async fn campaign_page_by_query(
    State(state): State<HttpState>,
    viewer: Viewer,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<
        axum::extract::Query<crate::http::api::campaigns::IdParam>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let (Ok(Path(account)), Ok(axum::extract::Query(param))) = (path, query) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "give the campaign as ?id=ID",
        );
    };
    campaign_page_of(state, viewer, account, param.id).await
}

pub(super) async fn campaign_page(
    State(state): State<HttpState>,
    viewer: Viewer,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let Ok(Path((account, id))) = path else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "the campaign path is not valid UTF-8",
        );
    };
    campaign_page_of(state, viewer, account, id).await
}

pub(super) async fn campaign_page_of(
    state: HttpState,
    viewer: Viewer,
    account: String,
    id: String,
) -> Response {
    let answer = match campaign_answer(&state, &account, &id, Utc::now()).await {
        Ok(answer) => answer,
        Err(error) => return failed(error),
    };
    let controls = Controls::of(
        &viewer,
        &campaign_page_path(&answer.campaign.account, &answer.campaign.id),
    );
    let events = match event_values(&answer.events, &controls) {
        Ok(events) => events,
        Err(response) => return *response,
    };
    let audit = match campaign_audit(
        &state,
        &answer.campaign.account,
        &answer.campaign.id,
        &answer.campaign.name,
    )
    .await
    {
        Ok(audit) => audit,
        Err(error) => return failed(error),
    };
    let mut value = serde_json::to_value(&answer).unwrap_or_default();
    value["events"] = json!(events);
    let body = render(
        "campaign.html",
        json!({"answer": value, "timeline": timeline(&answer.events), "audit": audit}),
    );
    page(&answer.campaign.name, "campaigns", body, StatusCode::OK)
}

pub(super) async fn events_page(
    State(state): State<HttpState>,
    viewer: Viewer,
    uri: Uri,
) -> Response {
    let params: EventParams = match params(&uri) {
        Ok(params) => params,
        Err(response) => return *response,
    };
    let result = async {
        let query = params.query()?;
        let list = event_list(&state, &query, Utc::now()).await?;
        let channels = state.store.channels_seen().await?;
        Ok::<_, ApiError>((query, list, channels))
    }
    .await;
    let (query, list, channels) = match result {
        Ok(parts) => parts,
        Err(error) => return failed(error),
    };
    let back = uri.path_and_query().map_or("/events", |p| p.as_str());
    let events = match event_values(&list.events, &Controls::of(&viewer, back)) {
        Ok(events) => events,
        Err(response) => return *response,
    };
    let pairs = [
        ("type", query.kind.clone()),
        ("campaign", query.campaign.clone()),
        ("channel", query.channel.clone()),
        ("since", params.since.clone()),
        ("per_page", params.per_page.map(|n| n.to_string())),
    ];
    let types: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    let body = render(
        "events.html",
        json!({
            "list": {"events": events},
            "types": types,
            "channels": channels,
            "filter": {"type": query.kind, "channel": query.channel},
            "previous": (list.page > 1).then(|| page_link("/events", &pairs, list.page - 1)),
            "next": list.next_page.map(|next| page_link("/events", &pairs, next)),
        }),
    );
    page("Events", "events", body, StatusCode::OK)
}

pub(super) async fn silences_page(State(state): State<HttpState>, viewer: Viewer) -> Response {
    let list = match silence_list(&state, Which::All, Utc::now()).await {
        Ok(list) => list,
        Err(error) => return failed(error),
    };
    let body = render(
        "silences.html",
        json!({
            "list": list,
            "types": actions::event_types(),
            "accounts": state.accounts.as_ref(),
            "controls": Controls::of(&viewer, "/silences"),
        }),
    );
    page("Silences", "silences", body, StatusCode::OK)
}

/// How many audit records a campaign's page looks through (newest first).
pub(super) const CAMPAIGN_AUDIT_SCAN: u32 = 1000;

/// The audit records about one campaign, newest first: silences whose
/// matcher matches it, replays of its events.
pub(super) async fn campaign_audit(
    state: &HttpState,
    account: &str,
    id: &str,
    name: &str,
) -> Result<Vec<crate::commit::AuditRecord>, ApiError> {
    Ok(state
        .store
        .audit_log(DateTime::<Utc>::MIN_UTC, CAMPAIGN_AUDIT_SCAN)
        .await?
        .into_iter()
        .filter(|record| record.concerns(account, id, name))
        .collect())
}
