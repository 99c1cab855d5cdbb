//! Audit records as the audit table's stream delivers them (DynamoDB's JSON, `NewImage` of
//! an `INSERT`), for the detector function.

use serde_json::{Map, Value};

use domain::audit::AuditRecord;
use store::StoreError;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stream image: {what}"))
}

/// A value in DynamoDB's JSON (`{"S": "…"}`, `{"M": {…}}`, …) as plain JSON.
fn plain(typed: &Value) -> Result<Value, StoreError> {
    let Some((kind, value)) = typed.as_object().and_then(|o| o.iter().next()) else { return Err(corrupt("not a typed value")) };
    Ok(match (kind.as_str(), value) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => serde_json::from_str::<Value>(n).map_err(|_| corrupt("a number that isn't"))?,
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("L", Value::Array(items)) => Value::Array(items.iter().map(plain).collect::<Result<_, _>>()?),
        ("M", Value::Object(map)) => {
            Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), plain(v)?))).collect::<Result<Map<_, _>, StoreError>>()?)
        }
        (other, _) => return Err(corrupt(&format!("unexpected type {other}"))),
    })
}

/// The audit record in a stream record's `NewImage`.
pub fn audit_record_from_image(image: &Value) -> Result<AuditRecord, StoreError> {
    let record = image.get("record").ok_or_else(|| corrupt("no record attribute"))?;
    serde_json::from_value(plain(record)?).map_err(|e| StoreError::Corrupt(format!("stream image: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_image_reads_back_as_the_record_written() {
        let image = serde_json::json!({
            "pk": {"S": "AUDIT#2026-12-02#07"},
            "record": {"M": {
                "id": {"S": "0193a0b0-0000-7000-8000-000000000000"}, "time": {"S": "2026-12-02T10:00:00.000Z"},
                "request_id": {"S": "r-1"}, "actor": {"NULL": true}, "actor_role": {"NULL": true},
                "action": {"S": "get-dataset"}, "resource_type": {"S": "dataset"}, "resource_id": {"NULL": true},
                "decision": {"S": "not-evaluated"}, "policies": {"L": [{"S": "p"}]}, "outcome": {"S": "failure"},
                "status": {"N": "401"}, "reason": {"S": "bad-signature"}, "source_ip": {"S": "203.0.113.9"},
                "user_agent": {"NULL": true}, "expires_at": {"N": "1772000000"}
            }}
        });
        let record = audit_record_from_image(&image).unwrap();
        assert_eq!((record.status, record.reason.as_deref(), record.policies.len()), (401, Some("bad-signature"), 1));
        assert_eq!(record.expires_at, Some(1_772_000_000));
        assert!(audit_record_from_image(&serde_json::json!({"record": {"X": 1}})).is_err());
        assert!(audit_record_from_image(&serde_json::json!({})).is_err());
    }
}
