//! The threat detector (SR-21, SR-40): reads every audit record as it is written and
//! counts the ones that make up an attack, per source, in fixed windows of the settings'
//! thresholds:
//!
//! | pattern | what counts | per |
//! |---|---|---|
//! | `failed-sign-ins` | refused sign-ins, refused code exchanges and refreshes, a reused refresh token | address |
//! | `token-attacks` | tokens refused for what an attacker does to them (bad signature, foreign issuer or client, wrong algorithm, forged headers, malformed) | address |
//! | `enumeration` | 403s and 404s: ids walked | address and principal |
//! | `exports` | exports of datasets, forecasts and the audit trail | principal |
//!
//! The record that brings a count to its threshold writes a finding (`FINDINGS` / `<time>#<id>`),
//! emits the `ThreatFindings` metric, and, when the settings say so and the source is an
//! address, blocks it ([`crate::blocklist`]) for `block_minutes`. In AWS it runs on the audit
//! table's stream; locally, in process, as each record is written ([`AuditObserver`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditDraft, AuditOutcome, AuditRecord, format_time};
use crate::blocklist::{self, BlockedIp, BlocklistCache};
use crate::domain::settings::Threshold;
use crate::http::RequestMeta;
use crate::store::rate::{RateLimit, Verdict};
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// Token refusals that only tampering or probing produce (not an expired or revoked one).
const TOKEN_ATTACK_REASONS: [&str; 12] = [
    "malformed",
    "oversized",
    "algorithm-not-allowed",
    "forbidden-header",
    "unknown-key",
    "bad-signature",
    "issued-in-future",
    "wrong-issuer",
    "wrong-client",
    "not-access-token",
    "missing-claim",
    "ambiguous-credentials",
];
/// Routes whose failure is a failed sign-in: the local identity provider's and the token
/// backend's.
const SIGN_IN_ACTIONS: [&str; 5] = ["idp-sign-in", "idp-token", "idp-refresh", "auth-token", "auth-refresh"];
const EXPORT_ACTIONS: [&str; 3] = ["export-dataset", "export-forecast", "export-audit"];

/// A kind of attack the detector counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    FailedSignIns,
    TokenAttacks,
    Enumeration,
    Exports,
}

impl Pattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::FailedSignIns => "failed-sign-ins",
            Pattern::TokenAttacks => "token-attacks",
            Pattern::Enumeration => "enumeration",
            Pattern::Exports => "exports",
        }
    }

    fn counter(self) -> &'static str {
        match self {
            Pattern::FailedSignIns => "detect-sign-ins",
            Pattern::TokenAttacks => "detect-tokens",
            Pattern::Enumeration => "detect-enumeration",
            Pattern::Exports => "detect-exports",
        }
    }
}

/// Who an event is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Source {
    Address(String),
    Principal(String),
}

impl Source {
    fn counted_as(&self) -> String {
        match self {
            Source::Address(ip) => format!("ip:{ip}"),
            Source::Principal(subject) => format!("principal:{subject}"),
        }
    }
}

/// What the detector found, as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: String,
    pub time: String,
    pub pattern: Pattern,
    pub source: Source,
    /// The threshold reached: this many events within the window.
    pub count: u32,
    pub window_minutes: u32,
    /// The request whose record reached it.
    pub request_id: String,
    /// Until when the address is blocked, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_until: Option<String>,
}

/// The partition findings are kept in: few (one per source, pattern and window at most).
pub const FINDINGS_PARTITION: &str = "FINDINGS";

/// A finding's key: its time counted down from the year 2286, so the newest sorts first.
pub fn finding_key(finding: &Finding) -> Key {
    let millis = OffsetDateTime::parse(&finding.time, &time::format_description::well_known::Rfc3339)
        .map_or(0, |at| at.unix_timestamp_nanos() / 1_000_000);
    Key::new(FINDINGS_PARTITION, format!("{:013}#{}", 9_999_999_999_999_i128 - millis, finding.id))
}

/// The patterns a record counts towards, and against whom.
pub fn classify(record: &AuditRecord) -> Vec<(Pattern, Source)> {
    let mut counted = Vec::new();
    let address = record.source_ip.clone().map(Source::Address);
    let principal = record.actor.clone().map(Source::Principal);
    let failed = record.outcome == AuditOutcome::Failure;
    let reason = record.reason.as_deref().unwrap_or_default();
    if failed && SIGN_IN_ACTIONS.contains(&record.action.as_str()) {
        counted.extend(address.clone().map(|a| (Pattern::FailedSignIns, a)));
    }
    if record.status == 401 && TOKEN_ATTACK_REASONS.contains(&reason) {
        counted.extend(address.clone().map(|a| (Pattern::TokenAttacks, a)));
    }
    // A blocked address's refusals are the block working, not more probing.
    if matches!(record.status, 403 | 404) && reason != "ip-blocked" && !SIGN_IN_ACTIONS.contains(&record.action.as_str()) {
        counted.extend(address.map(|a| (Pattern::Enumeration, a)));
        counted.extend(principal.clone().map(|p| (Pattern::Enumeration, p)));
    }
    if record.outcome == AuditOutcome::Success && EXPORT_ACTIONS.contains(&record.action.as_str()) {
        counted.extend(principal.map(|p| (Pattern::Exports, p)));
    }
    counted
}

/// Sees each audit record once it is stored.
#[async_trait::async_trait]
pub trait AuditObserver: Send + Sync + std::fmt::Debug {
    /// `store` is the store the record went into, for what the observer writes in turn.
    async fn observe(&self, store: &dyn ItemStore, record: &AuditRecord);
}

/// The detector, with the block list cache of the process it runs in (so a block it makes
/// applies here at once).
#[derive(Debug, Clone)]
pub struct Detector {
    blocklist: Arc<BlocklistCache>,
}

impl Detector {
    pub fn new(blocklist: Arc<BlocklistCache>) -> Self {
        Self { blocklist }
    }

    /// Counts `record` and acts on every threshold it reaches; the findings it wrote.
    pub async fn process(&self, store: &dyn ItemStore, record: &AuditRecord) -> Result<Vec<Finding>, StoreError> {
        let counted = classify(record);
        if counted.is_empty() {
            return Ok(Vec::new());
        }
        let (_, settings) = crate::runtime_settings::read(store).await?;
        let detection = settings.detection;
        let now = OffsetDateTime::now_utc();
        let mut findings = Vec::new();
        for (pattern, source) in counted {
            let threshold = match pattern {
                Pattern::FailedSignIns => detection.failed_sign_ins,
                Pattern::TokenAttacks => detection.token_attacks,
                Pattern::Enumeration => detection.enumeration,
                Pattern::Exports => detection.exports,
            };
            let limit = limit(pattern, threshold);
            // The event that brings the count to the threshold acts, once per window.
            if limit.hit(store, &source.counted_as(), now.unix_timestamp()).await? != (Verdict::Allowed { remaining: 0 }) {
                continue;
            }
            let block = match (&source, detection.block) {
                (Source::Address(ip), true) => Some((ip.clone(), now + time::Duration::minutes(i64::from(detection.block_minutes)))),
                _ => None,
            };
            let finding = Finding {
                id: uuid::Uuid::now_v7().to_string(),
                time: format_time(now),
                pattern,
                source: source.clone(),
                count: threshold.count,
                window_minutes: threshold.window_minutes,
                request_id: record.request_id.clone(),
                blocked_until: block.as_ref().map(|(_, until)| format_time(*until)),
            };
            self.record(store, &finding, block, now).await?;
            crate::telemetry::metric("ThreatFindings", 1.0, "Count", &[("Pattern", pattern.as_str())]);
            tracing::warn!(pattern = pattern.as_str(), source = ?finding.source, blocked_until = ?finding.blocked_until, "threat finding");
            findings.push(finding);
        }
        Ok(findings)
    }

    /// Writes the finding, and the block with it when there is one, with their audit record.
    async fn record(
        &self,
        store: &dyn ItemStore,
        finding: &Finding,
        block: Option<(String, OffsetDateTime)>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_value(finding).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let finding_put = WriteOp::Put { item: Item { key: finding_key(finding), version: 1, body }, condition: Condition::Absent };
        let meta = RequestMeta { request_id: format!("detector-{}", finding.id), ..RequestMeta::default() };
        let detail = format!("{} {} in {} min", finding.pattern.as_str(), finding.count, finding.window_minutes);
        let Some((ip, until)) = block else {
            let mut draft = AuditDraft::new("detector-finding", "finding");
            draft.resource_id = Some(finding.id.clone());
            draft.detail = Some(detail);
            return store.commit(vec![finding_put], &draft.finish(&meta, 201)).await;
        };
        // The block list is one record: a concurrent change makes this retry on the new one.
        for _ in 0..5 {
            let (version, list) = blocklist::read(store).await?;
            let entry = BlockedIp {
                ip: ip.clone(),
                until: format_time(until),
                reason: finding.pattern.as_str().to_owned(),
                by: "detector".into(),
                created_at: format_time(now),
                finding: Some(finding.id.clone()),
            };
            let mut writes = vec![finding_put.clone()];
            match list.with(entry, now) {
                Some(next) => writes.push(blocklist::write(version, &next)?),
                None => tracing::error!(ip, "block list full: the finding is kept, the address not blocked"),
            }
            let mut draft = AuditDraft::new("detector-block-ip", "blocked-ip");
            draft.resource_id = Some(ip.clone());
            draft.detail = Some(format!("{detail}; blocked until {}", format_time(until)));
            match store.commit(writes, &draft.finish(&meta, 201)).await {
                Ok(()) => {
                    self.blocklist.forget();
                    return Ok(());
                }
                Err(StoreError::ConditionFailed) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Unavailable("the block list kept changing".into()))
    }
}

fn limit(pattern: Pattern, threshold: Threshold) -> RateLimit {
    RateLimit { name: pattern.counter(), max: u64::from(threshold.count), window_seconds: i64::from(threshold.window_minutes) * 60 }
}

#[async_trait::async_trait]
impl AuditObserver for Detector {
    async fn observe(&self, store: &dyn ItemStore, record: &AuditRecord) {
        if let Err(error) = self.process(store, record).await {
            // Detection never fails the request it watches; the stream would retry in AWS.
            tracing::error!(%error, "threat detection failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &'static str, status: u16, reason: Option<&str>) -> AuditRecord {
        let meta = RequestMeta { request_id: "r".into(), source_ip: Some("203.0.113.9".into()), ..RequestMeta::default() };
        let mut draft = AuditDraft::new(action, "dataset");
        draft.actor = Some(("ada".into(), crate::auth::Role::Analyst));
        draft.reason = reason.map(str::to_owned);
        draft.finish(&meta, status)
    }

    #[test]
    fn records_count_towards_the_patterns_they_belong_to() {
        let ip = || Source::Address("203.0.113.9".into());
        let ada = || Source::Principal("ada".into());
        assert_eq!(classify(&record("idp-sign-in", 401, Some("wrong-password"))), [(Pattern::FailedSignIns, ip())]);
        assert_eq!(classify(&record("get-dataset", 401, Some("bad-signature"))), [(Pattern::TokenAttacks, ip())]);
        assert_eq!(classify(&record("get-dataset", 404, Some("not-found"))), [(Pattern::Enumeration, ip()), (Pattern::Enumeration, ada())]);
        assert_eq!(classify(&record("export-dataset", 200, None)), [(Pattern::Exports, ada())]);
        // What is not an attack.
        assert!(classify(&record("get-dataset", 401, Some("expired"))).is_empty(), "an expired token is routine");
        assert!(classify(&record("get-dataset", 200, None)).is_empty());
        assert!(classify(&record("idp-sign-in", 302, None)).is_empty(), "a sign-in that worked");
        assert!(classify(&record("get-dataset", 403, Some("ip-blocked"))).is_empty(), "the block at work");
        assert!(classify(&record("export-dataset", 404, Some("not-found"))).iter().all(|(p, _)| *p == Pattern::Enumeration));
    }
}
