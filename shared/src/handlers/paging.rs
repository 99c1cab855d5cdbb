//! Page size and cursor query parameters, shared by every list route.
//!
//! A cursor is the sort key of the last entry served, sealed with an HMAC over the list it
//! came from (the caller, the partitions and the kind of entry; see [`crate::cursor`]). A
//! cursor edited, made up, or taken from another caller's or another list's page is
//! refused with a 400, so a position can only come from the server.

use std::collections::HashMap;

use lambda_http::Request;

use super::{Ctx, store_error};
use crate::cursor::{self, CursorKey, ListScope};
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
    /// The cursor as given, opened once the list it must belong to is known.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Reads `limit` and `cursor`.
    pub fn from_query(req: &Request) -> Result<Self, ApiError> {
        Self::from_query_with(req, MAX_CURSOR_CHARS)
    }

    /// Same, for a list whose positions are longer (a directory's continuation tokens).
    pub fn from_query_with(req: &Request, max_cursor_chars: usize) -> Result<Self, ApiError> {
        let limit = parse_limit(query_param(req, "limit")?)?;
        let cursor = query_param(req, "cursor")?;
        if cursor.as_ref().is_some_and(|c| c.len() > max_cursor_chars) {
            return Err(bad_cursor());
        }
        Ok(Self { limit, cursor })
    }
}

fn bad_cursor() -> ApiError {
    ApiError::validation("cursor", "cursor is not valid; start again without it")
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
/// `prefix` + an id, possibly spread over shards (`partitions`), read by `caller`; entries
/// whose item is gone are skipped.
pub async fn load_page<Id>(
    ctx: &Ctx<'_>,
    caller: &str,
    list: (&[String], &str),
    wanted: &PageRequest,
    parse: impl Fn(&str) -> Option<Id>,
    item_key: impl Fn(&Id) -> Key,
) -> Result<(Vec<(Id, JsonItem)>, Option<String>), ApiError> {
    let (partitions, prefix) = list;
    let scope = ListScope { caller, partitions, prefix };
    let after = match &wanted.cursor {
        Some(cursor) => {
            let sort_key = open_cursor(ctx, &scope, cursor).await?;
            // Sealed by us for this list, so this holds; checked all the same.
            if sort_key.strip_prefix(prefix).and_then(&parse).is_none() {
                return Err(bad_cursor());
            }
            Some(sort_key)
        }
        None => None,
    };
    let page = query_shards(ctx.state.store.as_ref(), partitions, prefix, after.as_deref(), wanted.limit).await.map_err(store_error)?;
    let ids: Vec<Id> = page.items.iter().filter_map(|entry| entry.sk.strip_prefix(prefix)).filter_map(&parse).collect();
    let keys: Vec<Key> = ids.iter().map(&item_key).collect();
    let mut found: HashMap<String, JsonItem> =
        ctx.state.store.get_many_json(&keys).await.map_err(store_error)?.into_iter().map(|item| (item.key.pk.clone(), item)).collect();
    let items = ids.into_iter().zip(keys).filter_map(|(id, key)| found.remove(&key.pk).map(|item| (id, item))).collect();
    let next = match page.next {
        Some(sort_key) => Some(seal_cursor(ctx, &scope, &sort_key).await?),
        None => None,
    };
    Ok((items, next))
}

/// The position a cursor the caller sent seals for `scope`; anything else is a 400.
pub async fn open_cursor(ctx: &Ctx<'_>, scope: &ListScope<'_>, cursor: &str) -> Result<String, ApiError> {
    cursor_key(ctx).await?.open(scope, cursor).ok_or_else(bad_cursor)
}

/// A cursor for `position` in the list `scope` names.
pub async fn seal_cursor(ctx: &Ctx<'_>, scope: &ListScope<'_>, position: &str) -> Result<String, ApiError> {
    Ok(cursor_key(ctx).await?.seal(scope, position))
}

/// The deployment's cursor key; fetched only by a list that has a cursor to open or seal.
async fn cursor_key<'s>(ctx: &Ctx<'s>) -> Result<&'s CursorKey, ApiError> {
    let created = || cursor::creation_record(&ctx.meta, ctx.audit.actor.clone());
    ctx.state.cursor_keys.get(ctx.state.store.as_ref(), created).await.map_err(store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_a_hundred_are_rejected() {
        assert_eq!(parse_limit(None).unwrap(), 25);
        assert_eq!(parse_limit(Some("100".into())).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert!(parse_limit(Some(bad.into())).is_err(), "{bad}");
        }
    }
}
