//! The settings an admin may change while the system runs: how long each kind of data is
//! kept, when the detector flags and blocks, and whether admins must sign in with MFA.
//! Every value has a default and a range; a change outside it is refused, naming the field.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// How long each kind of data is kept (SR-20, SR-29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Audit records, in the table (their signed digests are kept longer, under lock).
    pub audit_days: u32,
    /// Deleted datasets and forecasts, before they and their files are purged.
    pub deleted_days: u32,
    /// Detector findings.
    pub findings_days: u32,
}

/// A count of events from one source within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub count: u32,
    pub window_minutes: u32,
}

/// When the detector flags a source, and what it does then (SR-21, SR-40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// Failed sign-ins (and refused session calls) from one address.
    pub failed_sign_ins: Threshold,
    /// Refused tokens (bad signature, wrong issuer or audience, expired…) from one address.
    pub token_attacks: Threshold,
    /// 403s and 404s from one address or one principal: someone walking ids.
    pub enumeration: Threshold,
    /// Exports by one principal.
    pub exports: Threshold,
    /// Whether a finding over its threshold blocks the address.
    pub block: bool,
    pub block_minutes: u32,
}

/// Every setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub retention: Retention,
    pub detection: Detection,
    /// Admins sign in with a second factor.
    pub mfa_required_for_admins: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let threshold = |count, window_minutes| Threshold { count, window_minutes };
        Self {
            retention: Retention { audit_days: 90, deleted_days: 30, findings_days: 365 },
            detection: Detection {
                failed_sign_ins: threshold(10, 5),
                token_attacks: threshold(10, 5),
                enumeration: threshold(30, 5),
                exports: threshold(50, 60),
                block: true,
                block_minutes: 60,
            },
            mfa_required_for_admins: false,
        }
    }
}

/// A change: every field optional, nested as in [`Settings`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    pub retention: Option<RetentionChange>,
    pub detection: Option<DetectionChange>,
    pub mfa_required_for_admins: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionChange {
    pub audit_days: Option<u32>,
    pub deleted_days: Option<u32>,
    pub findings_days: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdChange {
    pub count: Option<u32>,
    pub window_minutes: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionChange {
    pub failed_sign_ins: Option<ThresholdChange>,
    pub token_attacks: Option<ThresholdChange>,
    pub enumeration: Option<ThresholdChange>,
    pub exports: Option<ThresholdChange>,
    pub block: Option<bool>,
    pub block_minutes: Option<u32>,
}

/// A value within its range, or the field named.
fn within(field: &'static str, value: u32, range: std::ops::RangeInclusive<u32>) -> Result<u32, Invalid> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new(field, format!("`{field}` must be from {} to {}", range.start(), range.end())))
    }
}

/// A threshold's fields, as requests name them.
type ThresholdFields = (&'static str, &'static str);

fn threshold(
    fields: ThresholdFields,
    current: Threshold,
    change: Option<&ThresholdChange>,
    changed: &mut Vec<String>,
) -> Result<Threshold, Invalid> {
    let Some(change) = change else { return Ok(current) };
    let (count_field, window_field) = fields;
    let mut next = current;
    if let Some(count) = change.count {
        next.count = within(count_field, count, 1..=10_000)?;
    }
    if let Some(window) = change.window_minutes {
        next.window_minutes = within(window_field, window, 1..=1_440)?;
    }
    if next.count != current.count {
        changed.push(format!("{count_field} {} -> {}", current.count, next.count));
    }
    if next.window_minutes != current.window_minutes {
        changed.push(format!("{window_field} {} -> {}", current.window_minutes, next.window_minutes));
    }
    Ok(next)
}

impl Settings {
    /// The settings with `change` applied, and what changed (`field old -> new`, in field
    /// order); refused whole, naming the field, if any value is out of its range.
    pub fn apply(&self, change: &SettingsChange) -> Result<(Settings, Vec<String>), Invalid> {
        let mut next = *self;
        let mut changed = Vec::new();
        let mut number =
            |field: &'static str, current: u32, value: Option<u32>, range: std::ops::RangeInclusive<u32>| -> Result<u32, Invalid> {
                let Some(value) = value else { return Ok(current) };
                let value = within(field, value, range)?;
                if value != current {
                    changed.push(format!("{field} {current} -> {value}"));
                }
                Ok(value)
            };
        if let Some(retention) = &change.retention {
            // The audit trail is kept at least 30 days and at most ten years.
            next.retention.audit_days = number("retention.audit_days", self.retention.audit_days, retention.audit_days, 30..=3_650)?;
            next.retention.deleted_days = number("retention.deleted_days", self.retention.deleted_days, retention.deleted_days, 1..=365)?;
            next.retention.findings_days =
                number("retention.findings_days", self.retention.findings_days, retention.findings_days, 30..=3_650)?;
        }
        if let Some(detection) = &change.detection {
            next.detection.block_minutes =
                number("detection.block_minutes", self.detection.block_minutes, detection.block_minutes, 1..=10_080)?;
            let current = self.detection;
            next.detection.failed_sign_ins = threshold(
                ("detection.failed_sign_ins.count", "detection.failed_sign_ins.window_minutes"),
                current.failed_sign_ins,
                detection.failed_sign_ins.as_ref(),
                &mut changed,
            )?;
            next.detection.token_attacks = threshold(
                ("detection.token_attacks.count", "detection.token_attacks.window_minutes"),
                current.token_attacks,
                detection.token_attacks.as_ref(),
                &mut changed,
            )?;
            next.detection.enumeration = threshold(
                ("detection.enumeration.count", "detection.enumeration.window_minutes"),
                current.enumeration,
                detection.enumeration.as_ref(),
                &mut changed,
            )?;
            next.detection.exports = threshold(
                ("detection.exports.count", "detection.exports.window_minutes"),
                current.exports,
                detection.exports.as_ref(),
                &mut changed,
            )?;
            if let Some(block) = detection.block.filter(|b| *b != current.block) {
                changed.push(format!("detection.block {} -> {block}", current.block));
                next.detection.block = block;
            }
        }
        if let Some(mfa) = change.mfa_required_for_admins.filter(|m| *m != self.mfa_required_for_admins) {
            changed.push(format!("mfa_required_for_admins {} -> {mfa}", self.mfa_required_for_admins));
            next.mfa_required_for_admins = mfa;
        }
        Ok((next, changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(json: &str) -> SettingsChange {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_change_applies_what_it_names_and_says_what_moved() {
        let (next, changed) = Settings::default()
            .apply(&change(r#"{"retention":{"audit_days":180},"detection":{"enumeration":{"count":40},"block":false}}"#))
            .unwrap();
        assert_eq!(next.retention.audit_days, 180);
        assert_eq!(next.retention.deleted_days, 30, "untouched");
        assert_eq!(next.detection.enumeration, Threshold { count: 40, window_minutes: 5 });
        assert!(!next.detection.block);
        assert_eq!(changed, ["retention.audit_days 90 -> 180", "detection.enumeration.count 30 -> 40", "detection.block true -> false"]);
        let (same, none) = next.apply(&change(r#"{"retention":{"audit_days":180}}"#)).unwrap();
        assert_eq!((same, none.len()), (next, 0), "the same value is no change");
    }

    #[test]
    fn values_out_of_range_are_refused_by_field_and_nothing_applies() {
        for (json, field) in [
            (r#"{"retention":{"audit_days":29}}"#, "retention.audit_days"),
            (r#"{"retention":{"audit_days":3651}}"#, "retention.audit_days"),
            (r#"{"retention":{"deleted_days":0}}"#, "retention.deleted_days"),
            (r#"{"detection":{"token_attacks":{"window_minutes":0}}}"#, "detection.token_attacks.window_minutes"),
            (r#"{"detection":{"exports":{"count":10001}}}"#, "detection.exports.count"),
            (r#"{"detection":{"block_minutes":0}}"#, "detection.block_minutes"),
        ] {
            let error = Settings::default().apply(&change(json)).unwrap_err();
            assert_eq!(error.field, field, "{json}");
        }
        // Unknown fields and wrong types don't parse at all.
        assert!(serde_json::from_str::<SettingsChange>(r#"{"retention":{"audit_dayz":90}}"#).is_err());
        assert!(serde_json::from_str::<SettingsChange>(r#"{"mfa_required_for_admins":"yes"}"#).is_err());
        assert!(serde_json::from_str::<SettingsChange>(r#"{"retention":{"audit_days":-1}}"#).is_err());
    }
}
