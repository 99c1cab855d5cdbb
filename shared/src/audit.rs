//! The audit record of a request, filled in as the request proceeds (SR-17). The record
//! types themselves are the domain's ([`domain::audit`]); where they are stored is the
//! store's ([`store::audit`]).

use time::OffsetDateTime;

pub use domain::audit::{AuditDecision, AuditOutcome, AuditRecord, days_spanning, format_time};
pub use store::audit::{AUDIT_SHARDS, day_partitions};

use crate::auth::{Principal, Role};
use crate::http::RequestMeta;

/// A record being filled in as the request proceeds.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    /// The user the request is about, if any ([`AuditRecord::subject`]).
    pub subject: Option<String>,
    pub actor: Option<(String, Role)>,
    pub decision: AuditDecision,
    pub policies: Vec<String>,
    pub reason: Option<String>,
    /// What the request changed, for an auditor ([`AuditRecord::detail`]).
    pub detail: Option<String>,
}

impl AuditDraft {
    pub fn new(action: &'static str, resource_type: &'static str) -> Self {
        Self {
            action,
            resource_type,
            resource_id: None,
            subject: None,
            actor: None,
            decision: AuditDecision::NotEvaluated,
            policies: Vec::new(),
            reason: None,
            detail: None,
        }
    }

    pub fn set_actor(&mut self, principal: &Principal) {
        self.actor = Some((principal.subject.clone(), principal.role));
    }

    /// The finished record for a request that ended with `status`.
    pub fn finish(&self, meta: &RequestMeta, status: u16) -> AuditRecord {
        let now = OffsetDateTime::now_utc();
        AuditRecord {
            id: uuid::Uuid::now_v7().to_string(),
            time: format_time(now),
            request_id: meta.request_id.clone(),
            actor: self.actor.as_ref().map(|(subject, _)| subject.clone()),
            actor_role: self.actor.as_ref().map(|(_, role)| *role),
            action: self.action.to_owned(),
            resource_type: self.resource_type.to_owned(),
            resource_id: self.resource_id.clone(),
            subject: self.subject.clone(),
            decision: self.decision,
            policies: self.policies.clone(),
            outcome: AuditOutcome::from_status(status),
            status,
            reason: self.reason.clone(),
            detail: self.detail.clone(),
            source_ip: meta.source_ip.clone(),
            user_agent: meta.user_agent.clone(),
            expires_at: None,
            tag: None,
        }
    }
}
