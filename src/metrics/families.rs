//! The registry and every metric family in it, each with its name, help and unit.

use super::*;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CycleLabels {
    pub(super) result: CycleResult,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct AccountCycleLabels {
    pub(super) account: String,
    pub(super) result: CycleResult,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct AccountLabels {
    pub(super) account: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ApiRequestLabels {
    pub(super) account: String,
    pub(super) endpoint: ApiEndpoint,
    /// "2xx", "4xx", "5xx", or "error" when no HTTP answer came (connect, timeout).
    pub(super) status_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EndpointLabels {
    pub(super) account: String,
    pub(super) endpoint: ApiEndpoint,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StatusLabels {
    pub(super) account: String,
    pub(super) status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EventLabels {
    /// Empty for the whole watcher's events (its store, its channels).
    pub(super) account: String,
    pub(super) r#type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct NotificationLabels {
    pub(super) channel: String,
    pub(super) result: NotificationResult,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PasswordCheckLabels {
    /// "match" or "mismatch".
    pub(super) result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RefusedConnectionLabels {
    /// "per_client": its address had its share open; "full": every slot was taken.
    pub(super) reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BuildLabels {
    pub(super) version: &'static str,
}

pub(super) type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub(super) fn cycle_duration_histogram() -> Histogram {
    // 50 ms .. ~7 min: a cycle is a handful of requests, or thousands under a rate budget.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

pub(super) fn api_latency_histogram() -> Histogram {
    // 5 ms .. ~20 s, beyond the default 10 s request timeout.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

pub(super) struct Families {
    pub(super) registry: Registry,
    pub(super) cycles: Family<CycleLabels, Counter>,
    pub(super) cycle_duration: Histogram,
    pub(super) api_requests: Family<ApiRequestLabels, Counter>,
    pub(super) api_latency: HistogramFamily<EndpointLabels>,
    pub(super) campaigns: Family<StatusLabels, Gauge>,
    pub(super) events: Family<EventLabels, Counter>,
    pub(super) notifications: Family<NotificationLabels, Counter>,
    pub(super) outbox_pending: Gauge,
    pub(super) outbox_dead: Gauge,
    pub(super) last_success: Gauge<f64, AtomicU64>,
    pub(super) leader: Gauge,
    pub(super) password_checks: Family<PasswordCheckLabels, Counter>,
    pub(super) logins_held_back: Counter,
    pub(super) connections_refused: Family<RefusedConnectionLabels, Counter>,
    pub(super) store_pruned: Family<TableLabels, Counter>,
    pub(super) store_size: Gauge,
    pub(super) oldest_event_age: Gauge,
    pub(super) prune_failures: Counter,
    pub(super) prune_failing_rounds: Gauge,
    pub(super) late_ticks: Counter,
    pub(super) missed_ticks: Counter,
    pub(super) account_cycles: Family<AccountCycleLabels, Counter>,
    pub(super) account_api_healthy: Family<AccountLabels, Gauge>,
    pub(super) account_last_success: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    pub(super) sweep_cycles: Family<AccountLabels, Gauge>,
    pub(super) reload_successful: Gauge,
    pub(super) reload_success_at: Gauge<f64, AtomicU64>,
    pub(super) schedule_period: Gauge<f64, AtomicU64>,
    pub(super) silences_in_force: Gauge,
    pub(super) outbox_held: Gauge,
    pub(super) resident_memory: Gauge,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TableLabels {
    /// A state-store table (events, outbox, silences, ...): a fixed, short list.
    pub(super) table: String,
}

impl Families {
    /// Every family registered in a fresh registry (and `leader` = 1: this
    /// version runs one replica, which always polls and sends).
    pub(super) fn new() -> Self {
        let mut registry = Registry::default();
        let cycles = Family::<CycleLabels, Counter>::default();
        registry.register(
            "campaign_watcher_cycles",
            "Watch cycles, by result",
            cycles.clone(),
        );
        let cycle_duration = cycle_duration_histogram();
        registry.register_with_unit(
            "campaign_watcher_cycle_duration",
            "Time one watch cycle took, fetch to commit",
            Unit::Seconds,
            cycle_duration.clone(),
        );
        let api_requests = Family::<ApiRequestLabels, Counter>::default();
        registry.register(
            "campaign_watcher_api_requests",
            "HTTP requests to the SigmaMind API (retries included), by endpoint and status class",
            api_requests.clone(),
        );
        let api_latency: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(api_latency_histogram);
        registry.register_with_unit(
            "campaign_watcher_api_request_duration",
            "Latency of one SigmaMind API request, by endpoint",
            Unit::Seconds,
            api_latency.clone(),
        );
        let campaigns = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "campaign_watcher_campaigns",
            "Watched campaigns by their last known status",
            campaigns.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "campaign_watcher_events",
            "Events committed, by type",
            events.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "campaign_watcher_notifications",
            "Delivery attempts by channel and result (sent, retry, dead)",
            notifications.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "campaign_watcher_outbox_pending",
            "Outbox deliveries waiting to be sent or retried",
            outbox_pending.clone(),
        );
        let outbox_dead = Gauge::default();
        registry.register(
            "campaign_watcher_outbox_dead",
            "Outbox deliveries given up on (kept and listed by status)",
            outbox_dead.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "campaign_watcher_last_successful_cycle_timestamp",
            "Unix time of the start of the last cycle that read the API",
            Unit::Seconds,
            last_success.clone(),
        );
        let leader = Gauge::default();
        leader.set(1);
        registry.register(
            "campaign_watcher_leader",
            "1 when this process polls and sends, 0 on a standby",
            leader.clone(),
        );
        let password_checks = Family::<PasswordCheckLabels, Counter>::default();
        registry.register(
            "campaign_watcher_http_password_checks",
            "bcrypt checks of a board or Basic password, by result (accepted ones are then remembered, not checked again)",
            password_checks.clone(),
        );
        let logins_held_back = Counter::default();
        registry.register(
            "campaign_watcher_http_logins_held_back",
            "Logins refused unchecked because their address failed too often",
            logins_held_back.clone(),
        );
        let connections_refused = Family::<RefusedConnectionLabels, Counter>::default();
        registry.register(
            "campaign_watcher_http_connections_refused",
            "Connections not served in full: their client address had http.max_connections_per_client open (per_client: probes only, or closed), or every slot was taken (full: closed)",
            connections_refused.clone(),
        );
        let store_pruned = Family::<TableLabels, Counter>::default();
        registry.register(
            "campaign_watcher_store_pruned_rows",
            "State-store rows removed by the retention, by table",
            store_pruned.clone(),
        );
        let store_size = Gauge::default();
        registry.register_with_unit(
            "campaign_watcher_store_size",
            "Size of the state store (the SQLite database's pages, or pg_database_size)",
            Unit::Bytes,
            store_size.clone(),
        );
        let oldest_event_age = Gauge::default();
        registry.register_with_unit(
            "campaign_watcher_store_oldest_event_age",
            "Age of the oldest event kept in the history (0 when it is empty)",
            Unit::Seconds,
            oldest_event_age.clone(),
        );
        let prune_failures = Counter::default();
        registry.register(
            "campaign_watcher_store_prune_failures",
            "Retention rounds that failed (the store could not be pruned)",
            prune_failures.clone(),
        );
        let prune_failing_rounds = Gauge::default();
        registry.register(
            "campaign_watcher_store_prune_consecutive_failures",
            "Retention rounds that failed in a row, up to now (0 once one succeeds)",
            prune_failing_rounds.clone(),
        );
        let late_ticks = Counter::default();
        registry.register(
            "campaign_watcher_schedule_late_ticks",
            "Interval ticks that came a period or more late (the process was stopped or its runtime starved); a cycle started at once",
            late_ticks.clone(),
        );
        let missed_ticks = Counter::default();
        registry.register(
            "campaign_watcher_schedule_missed_ticks",
            "Interval ticks that fell in a stall and were skipped, not replayed",
            missed_ticks.clone(),
        );
        let account_cycles = Family::<AccountCycleLabels, Counter>::default();
        registry.register(
            "campaign_watcher_account_cycles",
            "Watch cycles of each account, by result (success: its API was read)",
            account_cycles.clone(),
        );
        let account_api_healthy = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "campaign_watcher_account_api_healthy",
            "1 while an account's API is healthy, 0 once it is unhealthy (watcher.api_unhealthy sent)",
            account_api_healthy.clone(),
        );
        let account_last_success = Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "campaign_watcher_account_last_successful_cycle_timestamp",
            "Unix time of the start of the last cycle that read an account's API",
            Unit::Seconds,
            account_last_success.clone(),
        );
        let sweep_cycles = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "campaign_watcher_sweep_cycles",
            "Cycles the last sweep took to read every campaign of an account while the live lane was read every cycle (absent while every campaign is listed each cycle)",
            sweep_cycles.clone(),
        );
        let reload_successful = Gauge::default();
        reload_successful.set(1);
        registry.register(
            "campaign_watcher_config_last_reload_successful",
            "1 when the last configuration (re)load succeeded, 0 when a reload was rejected and the previous configuration keeps running",
            reload_successful.clone(),
        );
        let reload_success_at = Gauge::<f64, AtomicU64>::default();
        reload_success_at.set(timestamp_seconds(Utc::now()));
        registry.register_with_unit(
            "campaign_watcher_config_last_reload_success_timestamp",
            "Unix time of the last successful configuration load (the start, or a reload)",
            Unit::Seconds,
            reload_success_at.clone(),
        );
        let schedule_period = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "campaign_watcher_schedule_period",
            "The longest gap between two cycles the schedule allows (the interval, or a cron schedule's longest gap)",
            Unit::Seconds,
            schedule_period.clone(),
        );
        let silences_in_force = Gauge::default();
        registry.register(
            "campaign_watcher_silences_in_force",
            "Silences in force now (counted at scrape time)",
            silences_in_force.clone(),
        );
        let outbox_held = Gauge::default();
        registry.register(
            "campaign_watcher_outbox_held_for_quiet_hours",
            "Pending outbox deliveries held for their channel's quiet hours (counted at scrape time)",
            outbox_held.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory of this process (read at scrape time)",
            Unit::Bytes,
            resident_memory.clone(),
        );
        registry.register(
            "campaign_watcher_build",
            "Build information",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Families {
            registry,
            cycles,
            cycle_duration,
            api_requests,
            api_latency,
            campaigns,
            events,
            notifications,
            outbox_pending,
            outbox_dead,
            last_success,
            leader,
            password_checks,
            logins_held_back,
            connections_refused,
            store_pruned,
            store_size,
            oldest_event_age,
            prune_failures,
            prune_failing_rounds,
            late_ticks,
            missed_ticks,
            account_cycles,
            account_api_healthy,
            account_last_success,
            sweep_cycles,
            reload_successful,
            reload_success_at,
            schedule_period,
            silences_in_force,
            outbox_held,
            resident_memory,
        }
    }
}
