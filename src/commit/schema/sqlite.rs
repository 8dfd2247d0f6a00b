//! The schema on SQLite. Pending scripts run in one `BEGIN IMMEDIATE`
//! transaction: two processes opening the same file at once cannot both migrate.

use sqlx::{Row, SqlitePool};

use super::{MigrateError, LATEST};

/// Append only: never edit a script once released, add a new one instead.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema. Timestamps are unix milliseconds (UTC) throughout, so
    // ordering and "is it due" comparisons are plain integer comparisons.
    r#"
    CREATE TABLE campaign_state (
        key         TEXT PRIMARY KEY NOT NULL,
        state_json  TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        changed_at  INTEGER NOT NULL
    );
    CREATE TABLE watcher_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        health_json  TEXT NOT NULL
    );
    CREATE TABLE events (
        id            TEXT PRIMARY KEY NOT NULL,
        type          TEXT NOT NULL,
        campaign_id   TEXT,
        occurred_at   INTEGER NOT NULL,
        payload_json  TEXT NOT NULL
    );
    CREATE INDEX events_occurred_at ON events (occurred_at);
    CREATE TABLE outbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id         TEXT NOT NULL REFERENCES events (id),
        channel          TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        created_at       INTEGER NOT NULL,
        next_attempt_at  INTEGER NOT NULL,
        sent_at          INTEGER,
        dead_at          INTEGER,
        last_error       TEXT,
        UNIQUE (event_id, channel)
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    "#,
    // 2: service status (`status` command): when each campaign was last read,
    // and how the last cycle went. Kept apart from campaign_state so that diff's
    // state (and its sequence numbers) is not rewritten on every quiet cycle.
    r#"
    CREATE TABLE campaign_seen (
        key           TEXT PRIMARY KEY NOT NULL,
        last_seen_at  INTEGER NOT NULL
    );
    CREATE TABLE last_cycle (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        started_at   INTEGER NOT NULL,
        finished_at  INTEGER NOT NULL,
        result       TEXT NOT NULL,
        detail       TEXT NOT NULL
    );
    CREATE INDEX events_campaign ON events (campaign_id, occurred_at);
    "#,
    // 3: alerting controls. A silenced event is kept in history with the silence
    // that stopped it (and gets no outbox rows); a row held by quiet hours keeps
    // `held_until` (its release) and, once sent, the id of the digest it went out
    // in; reminders keep their timestamps per (campaign, rule).
    r#"
    ALTER TABLE events ADD COLUMN silence_id INTEGER;
    ALTER TABLE outbox ADD COLUMN held_until INTEGER;
    ALTER TABLE outbox ADD COLUMN digest_id TEXT;
    CREATE INDEX outbox_channel_sent ON outbox (channel, sent_at);
    CREATE TABLE silences (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign    TEXT NOT NULL,
        event_type  TEXT,
        reason      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE TABLE reminders (
        campaign_id  TEXT NOT NULL,
        rule         TEXT NOT NULL,
        state_json   TEXT NOT NULL,
        PRIMARY KEY (campaign_id, rule)
    );
    "#,
    // 4: the board's read model. The status label (live, paused, ..., "not
    // found", "unreadable"), the name and the upload-error count beside the
    // state's JSON, so that the board and the API filter, count and page
    // campaigns in SQL; filled from the JSON for the rows already there.
    r#"
    ALTER TABLE campaign_state ADD COLUMN status_label TEXT NOT NULL DEFAULT '';
    ALTER TABLE campaign_state ADD COLUMN name TEXT NOT NULL DEFAULT '';
    ALTER TABLE campaign_state ADD COLUMN upload_errors INTEGER NOT NULL DEFAULT 0;
    UPDATE campaign_state SET
        status_label = CASE
            WHEN json_extract(state_json, '$.not_found') THEN 'not found'
            WHEN json_extract(state_json, '$.reads.unreadable_since') IS NOT NULL THEN 'unreadable'
            ELSE COALESCE(json_extract(state_json, '$.snapshot.status'), '') END,
        name = COALESCE(json_extract(state_json, '$.snapshot.name'), ''),
        upload_errors = COALESCE(json_array_length(state_json, '$.snapshot.upload_errors'), 0);
    CREATE INDEX campaign_state_changed ON campaign_state (changed_at, key);
    CREATE INDEX campaign_state_status ON campaign_state (status_label, changed_at);
    CREATE INDEX events_type ON events (type, occurred_at);
    CREATE INDEX events_silence ON events (silence_id);
    "#,
    // 5: who made each silence (the OS user for `silence add`, or --author).
    r#"
    ALTER TABLE silences ADD COLUMN author TEXT NOT NULL DEFAULT '';
    "#,
    // 6: the audit log of operators' actions (silence.create, silence.end,
    // outbox.replay): who, when, through what, on which campaign (a silence's
    // matcher or a replayed event's campaign id) and what changed. Indexed by
    // time for the retention that prunes it with the events.
    r#"
    CREATE TABLE audit (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         INTEGER NOT NULL,
        actor      TEXT NOT NULL,
        via        TEXT NOT NULL,
        action     TEXT NOT NULL,
        campaign   TEXT,
        target_id  INTEGER,
        detail     TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    "#,
    // 7: several SigmaMind accounts: a campaign is (account, campaign id). Every
    // row written before is the single account's, `default`, so ids, keys
    // and pending outbox rows stay exactly as they were. SQLite cannot change
    // a primary key in place: the keyed tables are rebuilt (same transaction).
    // A silence with no account matches every account.
    r#"
    CREATE TABLE campaign_state_by_account (
        account        TEXT NOT NULL DEFAULT 'default',
        key            TEXT NOT NULL,
        state_json     TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        changed_at     INTEGER NOT NULL,
        status_label   TEXT NOT NULL DEFAULT '',
        name           TEXT NOT NULL DEFAULT '',
        upload_errors  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, key)
    );
    INSERT INTO campaign_state_by_account
        (account, key, state_json, seq, changed_at, status_label, name, upload_errors)
        SELECT 'default', key, state_json, seq, changed_at, status_label, name, upload_errors
        FROM campaign_state;
    DROP TABLE campaign_state;
    ALTER TABLE campaign_state_by_account RENAME TO campaign_state;
    CREATE INDEX campaign_state_changed ON campaign_state (changed_at, key);
    CREATE INDEX campaign_state_status ON campaign_state (status_label, changed_at);

    CREATE TABLE campaign_seen_by_account (
        account       TEXT NOT NULL DEFAULT 'default',
        key           TEXT NOT NULL,
        last_seen_at  INTEGER NOT NULL,
        PRIMARY KEY (account, key)
    );
    INSERT INTO campaign_seen_by_account (account, key, last_seen_at)
        SELECT 'default', key, last_seen_at FROM campaign_seen;
    DROP TABLE campaign_seen;
    ALTER TABLE campaign_seen_by_account RENAME TO campaign_seen;

    CREATE TABLE reminders_by_account (
        account      TEXT NOT NULL DEFAULT 'default',
        campaign_id  TEXT NOT NULL,
        rule         TEXT NOT NULL,
        state_json   TEXT NOT NULL,
        PRIMARY KEY (account, campaign_id, rule)
    );
    INSERT INTO reminders_by_account (account, campaign_id, rule, state_json)
        SELECT 'default', campaign_id, rule, state_json FROM reminders;
    DROP TABLE reminders;
    ALTER TABLE reminders_by_account RENAME TO reminders;

    ALTER TABLE events ADD COLUMN account TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX events_account ON events (account, campaign_id, occurred_at);
    ALTER TABLE silences ADD COLUMN account TEXT;
    CREATE TABLE account_health (
        account      TEXT PRIMARY KEY NOT NULL,
        health_json  TEXT NOT NULL
    );
    "#,
    // 8: the retention's clock, apart from the last read `status` shows: set by
    // a cycle that read the account completely and did not find the campaign;
    // NULL while its reads only fail (rows from before: NULL, set again by the
    // next complete cycle that misses them).
    r#"
    ALTER TABLE campaign_seen ADD COLUMN missing_since INTEGER;
    "#,
    // 9: each account's last cycle (`last_cycle` stays the watcher's latest, of
    // whichever account finished last).
    r#"
    CREATE TABLE account_cycle (
        account         TEXT PRIMARY KEY NOT NULL,
        started_at      INTEGER NOT NULL,
        finished_at     INTEGER NOT NULL,
        result          TEXT NOT NULL,
        detail          TEXT NOT NULL,
        campaigns_read  INTEGER NOT NULL
    );
    "#,
    // 10: the account an audit record concerns (a silence's account matcher,
    // or a replayed event's account; NULL: every account, or not known), so
    // one account's actions are not shown on another's campaign with the same
    // id. Older records take it from their silence or outbox row while those
    // are kept; the rest stay NULL.
    r#"
    ALTER TABLE audit ADD COLUMN account TEXT;
    UPDATE audit SET account = (SELECT s.account FROM silences s WHERE s.id = audit.target_id)
        WHERE action IN ('silence.create', 'silence.end');
    UPDATE audit SET account = (SELECT e.account FROM outbox o JOIN events e ON e.id = o.event_id
                                WHERE o.id = audit.target_id)
        WHERE action = 'outbox.replay' AND target_id IS NOT NULL;
    "#,
    // 11: incidents, one row per episode of a condition (a pause, upload
    // errors, not found, unreadable, the API unhealthy), written in the
    // transaction that commits its start; its end goes to every channel in
    // `channels_told` (a JSON array of names). The acknowledgement and storm
    // columns are filled by later features and stay NULL until then. Episodes
    // open at the upgrade get their row at their first end, from history.
    r#"
    CREATE TABLE incidents (
        id                 TEXT PRIMARY KEY NOT NULL,
        account            TEXT,
        subject            TEXT NOT NULL,
        condition          TEXT NOT NULL,
        started_at         INTEGER NOT NULL,
        start_event_id     TEXT NOT NULL,
        channels_told      TEXT NOT NULL DEFAULT '[]',
        ended_at           INTEGER,
        acknowledged_by    TEXT,
        acknowledged_at    INTEGER,
        acknowledged_note  TEXT,
        storm_id           TEXT
    );
    CREATE INDEX incidents_open ON incidents (account, subject, condition) WHERE ended_at IS NULL;
    CREATE INDEX incidents_ended ON incidents (ended_at);
    "#,
];

/// Whether the file has a `schema_version` table at all (a new file has none).
async fn version_table_present(
    executor: impl sqlx::SqliteExecutor<'_>,
) -> Result<bool, sqlx::Error> {
    // Reading sqlite_master first keeps a version check from creating anything.
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version') AS present",
    )
    .fetch_one(executor)
    .await?;
    let present: i64 = row.try_get("present")?;
    Ok(present > 0)
}

/// Whether the file holds no table at all (a new store).
async fn is_empty(executor: impl sqlx::SqliteExecutor<'_>) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT COUNT(*) AS tables FROM sqlite_master")
        .fetch_one(executor)
        .await?;
    Ok(row.try_get::<i64, _>("tables")? == 0)
}

/// Apply every pending migration, or refuse a newer file without touching it.
pub(crate) async fn migrate(pool: &SqlitePool) -> Result<(), MigrateError> {
    // Only a file with no table yet can take incremental auto-vacuum without
    // rewriting it: pruned pages can then be given back in small steps
    // (docs/retention.md). The VACUUM of the empty file writes the setting into
    // its header. Not a connect option: on a file that has it, setting it again
    // writes the header, and a file refused below (newer schema) must stay
    // byte for byte as it was.
    let mut conn = pool.acquire().await?;
    if is_empty(&mut *conn).await? {
        sqlx::raw_sql("PRAGMA auto_vacuum = INCREMENTAL; VACUUM")
            .execute(&mut *conn)
            .await?;
    }
    drop(conn);
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads
    // and then writes can fail with SQLITE_BUSY without waiting for busy_timeout.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let found = if version_table_present(&mut *tx).await? {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_version")
            .fetch_one(&mut *tx)
            .await?;
        row.try_get::<i64, _>("version")?
    } else {
        0
    };
    if found > LATEST {
        tx.rollback().await?;
        return Err(MigrateError::Newer { found });
    }
    if found == LATEST {
        tx.rollback().await?;
        return Ok(());
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version     INTEGER PRIMARY KEY NOT NULL,
            applied_at  INTEGER NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let now = chrono::Utc::now().timestamp_millis();
    for (index, script) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let version = index as i64 + 1;
        let tag = |source| MigrateError::Sql {
            version: Some(version),
            source,
        };
        sqlx::raw_sql(script).execute(&mut *tx).await.map_err(tag)?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(tag)?;
    }
    tx.commit().await?;
    Ok(())
}
