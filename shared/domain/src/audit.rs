//! Audit records as stored: one for every request, allowed or denied, successful or not.
//!
//! A record names who (subject id, never a name or email), what (route and Cedar
//! action), which resource, the decision and the policies behind it, the outcome, when,
//! and from where. It never holds tokens, secrets or PII values.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Role;

/// What the policy engine said, if it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditDecision {
    Allow,
    Deny,
    /// The request ended before a decision (no principal, unknown route, bad id).
    NotEvaluated,
}

/// How the request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    Success,
    /// The caller's fault: denied, invalid, not found, conflict (4xx).
    Failure,
    /// Ours (5xx).
    Error,
}

impl AuditOutcome {
    pub fn from_status(status: u16) -> Self {
        match status {
            0..=399 => AuditOutcome::Success,
            400..=499 => AuditOutcome::Failure,
            _ => AuditOutcome::Error,
        }
    }
}

/// One audit record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Time-ordered unique id (UUIDv7).
    pub id: String,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub request_id: String,
    /// Subject id of the caller, when authenticated.
    pub actor: Option<String>,
    pub actor_role: Option<Role>,
    /// The route, by its function name (`create-dataset`).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The user the request was about, when it was about one (user administration, a
    /// share to them, their own profile or session): what finds the records about a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub decision: AuditDecision,
    /// Policies that determined the decision.
    pub policies: Vec<String>,
    pub outcome: AuditOutcome,
    pub status: u16,
    /// Stable reason code for failures (`not-found`, `expired`, …).
    pub reason: Option<String>,
    /// What a change changed, where an auditor needs it (settings: `field old -> new`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the record may go (Unix seconds): its time plus the audit retention in force
    /// when it was written. DynamoDB's TTL removes it after that; the embedded store's
    /// purge does. `None`: kept (the deployment's own key records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Integrity tag: `<key version>.<base64url HMAC-SHA256>` over the record's
    /// pseudonymised form (see the API's `audit_tags`), set by the store layer that writes
    /// the record, never by a handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl AuditRecord {
    /// Where the record sorts: time, then id (unique, so a position in any of its indexes).
    pub fn position(&self) -> String {
        format!("{}#{}", self.time, self.id)
    }

    /// The record's time in Unix seconds, if it reads.
    pub fn unix_time(&self) -> Option<i64> {
        OffsetDateTime::parse(&self.time, &Rfc3339).ok().map(OffsetDateTime::unix_timestamp)
    }
}

/// Characters of base64url after the `~` of a pseudonym (132 bits of an HMAC).
pub const PSEUDONYM_CHARS: usize = 22;

/// Whether `value` has the form of a pseudonym: `~` and [`PSEUDONYM_CHARS`] base64url
/// characters (no user id, address or user agent the API writes has that form).
pub fn is_pseudonym(value: &str) -> bool {
    value.len() == PSEUDONYM_CHARS + 1
        && value.starts_with('~')
        && value[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why an erasure's replacement of a stored record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an erasure of the stored record: {0}")]
pub struct NotAnErasure(pub &'static str);

/// Checks that `erased` is `stored` with only its identity replaced (GDPR erasure): the
/// actor, subject, source IP and user agent each unchanged or a pseudonym, the resource id
/// unchanged or with the stored subject replaced by the new one, everything else (the tag
/// included) exactly as stored. Both stores apply it before they rewrite a record, so no
/// other change to the append-only log can be made through erasure.
pub fn check_erasure(stored: &AuditRecord, erased: &AuditRecord) -> Result<(), NotAnErasure> {
    let identity_ok = |before: &Option<String>, after: &Option<String>| match (before, after) {
        (Some(before), Some(after)) => before == after || is_pseudonym(after),
        (None, None) => true,
        _ => false,
    };
    for (name, before, after) in [
        ("actor", &stored.actor, &erased.actor),
        ("subject", &stored.subject, &erased.subject),
        ("source_ip", &stored.source_ip, &erased.source_ip),
        ("user_agent", &stored.user_agent, &erased.user_agent),
    ] {
        if !identity_ok(before, after) {
            return Err(NotAnErasure(name));
        }
    }
    let resource_ok = match (&stored.resource_id, &erased.resource_id, &stored.subject, &erased.subject) {
        (before, after, _, _) if before == after => true,
        (Some(before), Some(after), Some(old), Some(new)) => !old.is_empty() && *after == before.replace(old.as_str(), new),
        _ => false,
    };
    if !resource_ok {
        return Err(NotAnErasure("resource_id"));
    }
    let mut rest = erased.clone();
    (rest.actor, rest.subject, rest.source_ip, rest.user_agent, rest.resource_id) =
        (stored.actor.clone(), stored.subject.clone(), stored.source_ip.clone(), stored.user_agent.clone(), stored.resource_id.clone());
    if rest != *stored {
        return Err(NotAnErasure("a field erasure does not change"));
    }
    if erased == stored {
        return Err(NotAnErasure("nothing replaced"));
    }
    Ok(())
}

/// What an audit search asks for: records from `from` to `to` (both included) that match
/// every filter given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub actor: Option<String>,
    /// The user the records are about ([`AuditRecord::subject`]).
    pub subject: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub source_ip: Option<String>,
}

impl AuditQuery {
    /// Every record of the `days` days up to `now`.
    pub fn last_days(now: OffsetDateTime, days: i64) -> Self {
        Self {
            from: now - time::Duration::days(days),
            to: now,
            actor: None,
            subject: None,
            action: None,
            resource_type: None,
            resource_id: None,
            outcome: None,
            source_ip: None,
        }
    }

    /// Whether any filter beyond the time range is set.
    pub fn has_filters(&self) -> bool {
        self.actor.is_some()
            || self.subject.is_some()
            || self.action.is_some()
            || self.resource_type.is_some()
            || self.resource_id.is_some()
            || self.outcome.is_some()
            || self.source_ip.is_some()
    }

    /// Whether `record` is one this query asks for.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        fn holds(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|wanted| actual == Some(wanted))
        }
        let time = record.time.as_str();
        time >= self.oldest_time().as_str()
            && time <= self.newest_time().as_str()
            && holds(&self.actor, record.actor.as_deref())
            && holds(&self.subject, record.subject.as_deref())
            && holds(&self.action, Some(&record.action))
            && holds(&self.resource_type, Some(&record.resource_type))
            && holds(&self.resource_id, record.resource_id.as_deref())
            && holds(&self.source_ip, record.source_ip.as_deref())
            && self.outcome.is_none_or(|outcome| record.outcome == outcome)
    }

    /// `from` as records store times.
    pub fn oldest_time(&self) -> String {
        format_time(self.from)
    }

    /// `to` as records store times.
    pub fn newest_time(&self) -> String {
        format_time(self.to)
    }
}

/// The columns of an audit export in CSV, one per field.
const CSV_COLUMNS: [&str; 18] = [
    "id",
    "time",
    "request_id",
    "actor",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "subject",
    "decision",
    "policies",
    "outcome",
    "status",
    "reason",
    "detail",
    "source_ip",
    "user_agent",
    "tag",
];

/// The header line of an audit export in CSV.
pub fn csv_header() -> String {
    CSV_COLUMNS.join(",") + "\n"
}

/// A field's name in the API (`kebab-case` enums) as text.
fn wire_name(value: &impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One record as a CSV line, in [`csv_header`]'s order (policies joined with `;`), each
/// cell neutralised so that no spreadsheet runs it as a formula: a user agent, for one, is
/// whatever the caller sent.
pub fn csv_line(record: &AuditRecord) -> Result<String, csv::Error> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let cells = [
        record.id.clone(),
        record.time.clone(),
        record.request_id.clone(),
        text(&record.actor),
        record.actor_role.map(|role| wire_name(&role)).unwrap_or_default(),
        record.action.clone(),
        record.resource_type.clone(),
        text(&record.resource_id),
        text(&record.subject),
        wire_name(&record.decision),
        record.policies.join(";"),
        wire_name(&record.outcome),
        record.status.to_string(),
        text(&record.reason),
        text(&record.detail),
        text(&record.source_ip),
        text(&record.user_agent),
        text(&record.tag),
    ];
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_record(cells.iter().map(|cell| crate::formula::neutralise(cell).into_owned()))?;
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// RFC 3339, UTC, millisecond precision: sorts as text in time order.
pub fn format_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let truncated = at.replace_nanosecond(at.millisecond() as u32 * 1_000_000).unwrap_or(at);
    let text = truncated.format(&Rfc3339).unwrap_or_default();
    // `time` drops trailing zero fractions; pad so every timestamp has the same width.
    match text.find('.') {
        Some(_) => {
            let (head, tail) = text.split_at(text.len() - 1);
            let (secs, frac) = head.split_once('.').unwrap_or((head, ""));
            format!("{secs}.{frac:0<3}{tail}")
        }
        None => format!("{}.000Z", text.trim_end_matches('Z')),
    }
}

/// The UTC days (`YYYY-MM-DD`) from `from` to `to`, both included, oldest first: the days
/// whose audit partitions hold the records of that span. Empty when `to` is before `from`.
pub fn days_spanning(from: OffsetDateTime, to: OffsetDateTime) -> Vec<String> {
    let (mut day, last) = (from.to_offset(time::UtcOffset::UTC).date(), to.to_offset(time::UtcOffset::UTC).date());
    let mut days = Vec::new();
    while day <= last {
        days.push(day.to_string());
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_span_covers_every_utc_day_it_touches() {
        let days = |from, to| days_spanning(from, to);
        assert_eq!(days(datetime!(2026-11-23 23:59:59.9 UTC), datetime!(2026-11-24 00:00:00.1 UTC)), ["2026-11-23", "2026-11-24"]);
        assert_eq!(days(datetime!(2026-02-28 12:00 UTC), datetime!(2026-03-01 00:00 UTC)), ["2026-02-28", "2026-03-01"]);
        assert_eq!(days(datetime!(2026-12-31 23:00 UTC), datetime!(2027-01-01 01:00 UTC)), ["2026-12-31", "2027-01-01"]);
        assert_eq!(days(datetime!(2026-11-23 08:00 UTC), datetime!(2026-11-23 09:00 UTC)), ["2026-11-23"]);
        // Offsets are read in UTC: 01:00 at +02:00 is the previous UTC day.
        assert_eq!(days(datetime!(2026-11-24 01:00 +2), datetime!(2026-11-24 01:30 +2)), ["2026-11-23"]);
        assert!(days(datetime!(2026-11-24 00:00 UTC), datetime!(2026-11-23 00:00 UTC)).is_empty());
    }

    #[test]
    fn timestamps_have_a_fixed_width_and_sort_as_text() {
        let a = format_time(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        let b = format_time(time::macros::datetime!(2026-01-02 03:04:05.1 UTC));
        let c = format_time(time::macros::datetime!(2026-01-02 03:04:05.123456 UTC));
        assert_eq!(a, "2026-01-02T03:04:05.000Z");
        assert_eq!(b, "2026-01-02T03:04:05.100Z");
        assert_eq!(c, "2026-01-02T03:04:05.123Z");
        assert!(a < b && b < c);
    }

    fn record() -> AuditRecord {
        AuditRecord {
            id: "0193a0b0-0000-7000-8000-000000000000".into(),
            time: "2026-12-02T10:00:00.000Z".into(),
            request_id: "r".into(),
            actor: Some("admin-1".into()),
            actor_role: Some(Role::Admin),
            action: "share-dataset".into(),
            resource_type: "dataset-share".into(),
            resource_id: Some("d1:ada".into()),
            subject: Some("ada".into()),
            decision: AuditDecision::Allow,
            policies: vec!["admin-datasets".into()],
            outcome: AuditOutcome::Success,
            status: 204,
            reason: None,
            detail: None,
            source_ip: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            expires_at: Some(1_800_000_000),
            tag: Some("1.abc".into()),
        }
    }

    const PSEUDONYM: &str = "~AAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn an_erasure_replaces_identity_by_pseudonyms_and_nothing_else() {
        let stored = record();
        let mut erased = stored.clone();
        erased.subject = Some(PSEUDONYM.into());
        erased.resource_id = Some(format!("d1:{PSEUDONYM}"));
        assert_eq!(check_erasure(&stored, &erased), Ok(()));
        erased.actor = Some("~BBBBBBBBBBBBBBBBBBBBBB".into());
        erased.source_ip = Some("~CCCCCCCCCCCCCCCCCCCCCC".into());
        assert_eq!(check_erasure(&stored, &erased), Ok(()));

        let refused = |change: fn(&mut AuditRecord)| {
            let mut erased = stored.clone();
            erased.subject = Some(PSEUDONYM.into());
            erased.resource_id = Some(format!("d1:{PSEUDONYM}"));
            change(&mut erased);
            check_erasure(&stored, &erased).unwrap_err().0
        };
        assert_eq!(refused(|r| r.actor = Some("mallory".into())), "actor");
        assert_eq!(refused(|r| r.actor = None), "actor");
        assert_eq!(refused(|r| r.user_agent = Some("~short".into())), "user_agent");
        assert_eq!(refused(|r| r.resource_id = Some("d2:~AAAAAAAAAAAAAAAAAAAAAA".into())), "resource_id");
        assert_eq!(refused(|r| r.status = 200), "a field erasure does not change");
        assert_eq!(refused(|r| r.tag = Some("1.forged".into())), "a field erasure does not change");
        assert_eq!(refused(|r| r.expires_at = None), "a field erasure does not change");
        assert_eq!(check_erasure(&stored, &stored).unwrap_err().0, "nothing replaced");
    }

    #[test]
    fn pseudonyms_have_one_form() {
        assert!(is_pseudonym(PSEUDONYM));
        assert!(is_pseudonym("~abc-_0123456789ABCDEFGH"[..23].as_ref()));
        for not in ["AAAAAAAAAAAAAAAAAAAAAAA", "~AAAAAAAAAAAAAAAAAAAAA", "~AAAAAAAAAAAAAAAAAAAAAAA", "~AAAAAAAAAAAAAAAAAAAAA=", ""] {
            assert!(!is_pseudonym(not), "{not}");
        }
    }

    #[test]
    fn outcome_follows_status_class() {
        assert_eq!(AuditOutcome::from_status(201), AuditOutcome::Success);
        assert_eq!(AuditOutcome::from_status(404), AuditOutcome::Failure);
        assert_eq!(AuditOutcome::from_status(503), AuditOutcome::Error);
    }
}
