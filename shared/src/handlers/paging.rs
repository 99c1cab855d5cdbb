//! Page size and cursor query parameters, shared by every list route.
//!
//! A cursor is the sort key of the last entry served, base64url-encoded. It is checked to
//! name an entry of the listed kind; since the partition comes from the caller's identity
//! (or a resource they were authorized for), a forged cursor can only skip ahead in a list
//! the caller may read anyway.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::Request;

use super::{Ctx, store_error};
use crate::error::ApiError;
use crate::http::request::query_param;
use crate::store::{JsonItem, Key, query_shards};

const DEFAULT_PAGE_SIZE: usize = 25;
const MAX_PAGE_SIZE: usize = 100;
const MAX_CURSOR_CHARS: usize = 200;

/// Which page the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// Sort key to continue after.
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` and `cursor`; a cursor must name an entry `prefix` + an id `is_id` accepts.
    pub fn from_query(req: &Request, prefix: &str, is_id: fn(&str) -> bool) -> Result<Self, ApiError> {
        let limit = parse_limit(query_param(req, "limit")?)?;
        let after = query_param(req, "cursor")?.map(|c| decode_cursor(&c, prefix, is_id)).transpose()?;
        Ok(Self { limit, after })
    }
}

fn parse_limit(raw: Option<String>) -> Result<usize, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_PAGE_SIZE) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        _ => Err(ApiError::validation("limit", format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"))),
    }
}

/// One page of a list: the items its entries point to, in list order, with their ids, and
/// the cursor for the next page. A list is a partition of entries whose sort keys are
/// `prefix` + an id, possibly spread over shards (`partitions`); entries whose item is
/// gone are skipped.
pub async fn load_page<Id>(
    ctx: &Ctx<'_>,
    partitions: &[String],
    prefix: &str,
    wanted: &PageRequest,
    parse: impl Fn(&str) -> Option<Id>,
    item_key: impl Fn(&Id) -> Key,
) -> Result<(Vec<(Id, JsonItem)>, Option<String>), ApiError> {
    let page =
        query_shards(ctx.state.store.as_ref(), partitions, prefix, wanted.after.as_deref(), wanted.limit).await.map_err(store_error)?;
    let ids: Vec<Id> = page.items.iter().filter_map(|entry| entry.sk.strip_prefix(prefix)).filter_map(&parse).collect();
    let keys: Vec<Key> = ids.iter().map(&item_key).collect();
    let mut found: HashMap<String, JsonItem> =
        ctx.state.store.get_many_json(&keys).await.map_err(store_error)?.into_iter().map(|item| (item.key.pk.clone(), item)).collect();
    let items = ids.into_iter().zip(keys).filter_map(|(id, key)| found.remove(&key.pk).map(|item| (id, item))).collect();
    Ok((items, page.next.as_deref().map(encode_cursor)))
}

/// The cursor for a page that ended at `sort_key`.
pub fn encode_cursor(sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sort_key)
}

fn decode_cursor(cursor: &str, prefix: &str, is_id: fn(&str) -> bool) -> Result<String, ApiError> {
    let bad = || ApiError::validation("cursor", "cursor is not valid; start again without it");
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = text.strip_prefix(prefix).ok_or_else(bad)?;
    if !is_id(id) {
        return Err(bad());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::DatasetId;

    fn is_dataset(id: &str) -> bool {
        DatasetId::parse(id).is_ok()
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_rejected() {
        let sort_key = format!("DATASET#{}", DatasetId::new());
        assert_eq!(decode_cursor(&encode_cursor(&sort_key), "DATASET#", is_dataset).unwrap(), sort_key);
        for bad in ["", "!!!", &encode_cursor("ACCESS#x"), &encode_cursor("DATASET#not-a-uuid"), &"A".repeat(300)] {
            assert_eq!(decode_cursor(bad, "DATASET#", is_dataset).unwrap_err().status(), 400, "{bad}");
        }
        // A cursor from another kind of list is refused too.
        assert!(decode_cursor(&encode_cursor(&sort_key), "FORECAST#", is_dataset).is_err());
    }

    #[test]
    fn limits_outside_one_to_a_hundred_are_rejected() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(parse_limit(Some("100".into())).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert!(parse_limit(Some(bad.into())).is_err(), "{bad}");
        }
    }
}
