//! JSON values to and from DynamoDB attribute values, so item bodies are native maps
//! (readable in the console, usable in expressions) rather than opaque strings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

use store::StoreError;

pub fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

pub fn from_attr(attr: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match attr {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::Object(from_map(map)?),
        other => return Err(StoreError::Corrupt(format!("unexpected attribute type {other:?}"))),
    })
}

pub fn from_map(map: &HashMap<String, AttributeValue>) -> Result<Map<String, Value>, StoreError> {
    map.iter().map(|(k, v)| Ok((k.clone(), from_attr(v)?))).collect()
}

fn parse_number(text: &str) -> Result<Number, StoreError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Number::from(u));
    }
    text.parse::<f64>().ok().and_then(Number::from_f64).ok_or_else(|| StoreError::Corrupt(format!("`{text}` is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_survives_the_round_trip() {
        let value = json!({"s": "x", "n": -3, "f": 1.5, "b": true, "z": null, "l": [1, "a", {"k": []}], "m": {}});
        assert_eq!(from_attr(&to_attr(&value)).unwrap(), value);
    }
}
