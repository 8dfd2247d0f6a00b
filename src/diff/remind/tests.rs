use super::*;
use crate::observe::{CampaignStatus, Snapshot};
use chrono::TimeZone;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

fn state(status: CampaignStatus, errors: &[&str]) -> CampaignState {
    let snapshot = Snapshot {
        upload_errors: errors.iter().map(|e| e.to_string()).collect(),
        ..crate::fixtures::snapshot("camp_1", "Q4", status)
    };
    CampaignState {
        seq: 3,
        ..crate::fixtures::stored(snapshot, t(0))
    }
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn reminds_every_interval_while_the_state_holds_and_stops_when_it_clears() {
    let paused = state(CampaignStatus::Paused, &[]);
    let started = advance(
        None,
        Some(Condition::Status(CampaignStatus::Paused)),
        &paused,
        HOUR,
        t(0),
    );
    assert!(!started.remind_now);
    let mut reminder = started.reminder.clone();
    let mut sent_at = vec![];
    // a poll every 10 minutes for 3.5 hours
    for minute in (10..=210).step_by(10) {
        let step = advance(reminder.as_ref(), None, &paused, HOUR, t(minute));
        if step.remind_now {
            sent_at.push(minute);
            let event = reminder_event(
                "camp_1",
                "pauses",
                step.reminder.as_ref().unwrap(),
                &paused,
                t(minute),
            );
            assert_eq!(event.kind, EventType::Reminder);
            assert!(
                event
                    .summary
                    .contains(&format!("still paused after {}h", minute / 60)),
                "{}",
                event.summary
            );
        }
        reminder = step.reminder;
    }
    assert_eq!(sent_at, [60, 120, 180]);
    let live = state(CampaignStatus::Live, &[]);
    let cleared = advance(reminder.as_ref(), None, &live, HOUR, t(240));
    assert_eq!(
        cleared,
        Step {
            reminder: None,
            remind_now: false
        }
    );
}

#[test]
fn after_downtime_one_reminder_not_a_burst_and_ids_are_stable() {
    let paused = state(CampaignStatus::Paused, &[]);
    let reminder = Reminder {
        condition: Condition::Status(CampaignStatus::Paused),
        since: t(0),
        last_at: t(0),
        sent: 0,
    };
    let late = advance(Some(&reminder), None, &paused, HOUR, t(600));
    assert!(late.remind_now);
    let next = late.reminder.unwrap();
    assert_eq!((next.sent, next.last_at), (1, t(600)));
    assert!(!advance(Some(&next), None, &paused, HOUR, t(630)).remind_now);
    let a = reminder_event("camp_1", "r", &next, &paused, t(600));
    let b = reminder_event("camp_1", "r", &next, &paused, t(601));
    assert_eq!(a.id, b.id, "a retry after a crash resends the same id");
    assert_ne!(
        a.id,
        reminder_event("camp_1", "other", &next, &paused, t(600)).id
    );

    // The pause's hints come along, and leave the id alone.
    let mut explained = paused.clone();
    explained.hints = vec![crate::event::Hint {
        code: "caller_number_inactive".into(),
        text: "The caller number is marked inactive by the API".into(),
    }];
    let hinted = reminder_event("camp_1", "r", &next, &explained, t(600));
    assert_eq!(hinted.hints, explained.hints);
    assert_eq!(hinted.id, a.id);
    assert!(a.hints.is_empty());
}

#[test]
fn upload_error_reminders_keep_their_clock_when_more_errors_arrive() {
    let errors = state(CampaignStatus::Live, &["Row 2"]);
    let first = advance(None, Some(Condition::UploadErrors), &errors, HOUR, t(0)).reminder;
    let more = state(CampaignStatus::Live, &["Row 2", "Row 3"]);
    let again = advance(
        first.as_ref(),
        Some(Condition::UploadErrors),
        &more,
        HOUR,
        t(30),
    );
    assert_eq!(again.reminder, first);
    let clear = state(CampaignStatus::Live, &[]);
    assert_eq!(
        advance(again.reminder.as_ref(), None, &clear, HOUR, t(70)).reminder,
        None
    );
    // a 404 ends every reminder
    let mut gone = state(CampaignStatus::Paused, &[]);
    gone.not_found = true;
    assert!(!Condition::Status(CampaignStatus::Paused).holds(&gone));
}
