//! Where datasets and forecasts live in the item store: the partition and sort keys of
//! their records and list entries, and their blob paths. `docs/partitions.md` gives the
//! write rate each layout holds.

/// Where dataset items live in the item store.
pub mod dataset {
    use domain::ids::DatasetId;
    use store::{Key, shard_of};

    /// Sort-key prefix of index entries; the rest is the dataset id.
    pub const ENTRY_PREFIX: &str = "DATASET#";
    /// Shards of the catalogue every dataset is entered in (admins list from it), so that
    /// creating datasets never funnels into one partition (`docs/partitions.md`).
    pub const CATALOGUE_SHARDS: u32 = 8;

    /// Every partition of the catalogue.
    pub fn catalogue_partitions() -> Vec<String> {
        (0..CATALOGUE_SHARDS).map(|shard| format!("DATASETS#{shard:02}")).collect()
    }

    pub fn record(id: &DatasetId) -> Key {
        record_key(id.as_str())
    }

    /// The record of the dataset a list entry or purge entry names by its id.
    pub fn record_key(id: &str) -> Key {
        Key::new(format!("DATASET#{id}"), "META")
    }

    /// One entry per dataset, for admin listing, in the shard its id hashes to.
    pub fn catalogue_entry(id: &DatasetId) -> Key {
        let shard = shard_of(id.as_str(), CATALOGUE_SHARDS);
        Key::new(format!("DATASETS#{shard:02}"), format!("{ENTRY_PREFIX}{id}"))
    }

    /// Partition of the datasets `user` owns or has been given.
    pub fn access_partition(user: &str) -> String {
        format!("ACCESS#{user}")
    }

    pub fn access_entry(user: &str, id: &DatasetId) -> Key {
        Key::new(access_partition(user), format!("{ENTRY_PREFIX}{id}"))
    }

    pub fn blob(id: &DatasetId) -> String {
        format!("datasets/{id}/data.csv")
    }
}

/// Where forecast items live in the item store. Besides its record, a forecast has an
/// entry in three lists: everyone's (admins), its owner's, and its dataset's.
pub mod forecast {
    use domain::ids::{DatasetId, ForecastId};
    use store::{Key, shard_of};

    /// Sort-key prefix of list entries; the rest is the forecast id (time-ordered).
    pub const ENTRY_PREFIX: &str = "FORECAST#";
    /// Shards of the catalogue every forecast is entered in (admins list from it).
    pub const CATALOGUE_SHARDS: u32 = 8;

    /// Every partition of the catalogue.
    pub fn catalogue_partitions() -> Vec<String> {
        (0..CATALOGUE_SHARDS).map(|shard| format!("FORECASTS#{shard:02}")).collect()
    }

    pub fn record(id: &ForecastId) -> Key {
        record_key(id.as_str())
    }

    /// The record of the forecast a list entry or purge entry names by its id.
    pub fn record_key(id: &str) -> Key {
        Key::new(format!("FORECAST#{id}"), "META")
    }

    /// Partition of the forecasts `user` ran.
    pub fn owner_partition(user: &str) -> String {
        format!("FORECASTS_BY#{user}")
    }

    /// Partition of the forecasts run on a dataset.
    pub fn dataset_partition(dataset: &DatasetId) -> String {
        format!("FORECASTS_OF#{dataset}")
    }

    /// The list entries of a forecast, in every list it appears in.
    pub fn entries(id: &ForecastId, owner: &str, dataset: &DatasetId) -> [Key; 3] {
        let sort_key = format!("{ENTRY_PREFIX}{id}");
        let shard = shard_of(id.as_str(), CATALOGUE_SHARDS);
        [
            Key::new(format!("FORECASTS#{shard:02}"), sort_key.clone()),
            Key::new(owner_partition(owner), sort_key.clone()),
            Key::new(dataset_partition(dataset), sort_key),
        ]
    }

    pub fn blob(id: &ForecastId) -> String {
        format!("forecasts/{id}/result.json")
    }
}

/// Deleted datasets and forecasts waiting for their purge (SR-29): one entry each, written
/// with the deletion, in time order, so the purge reads only what is due.
pub mod purge {
    use store::{Key, shard_of};

    /// Deletions are bounded by the users' request rates: a few shards hold them.
    pub const SHARDS: u32 = 4;

    /// What a purge entry is of.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        Dataset,
        Forecast,
    }

    impl Kind {
        fn as_str(self) -> &'static str {
            match self {
                Kind::Dataset => "dataset",
                Kind::Forecast => "forecast",
            }
        }
    }

    pub fn partitions() -> Vec<String> {
        (0..SHARDS).map(|shard| format!("PURGE#{shard:02}")).collect()
    }

    /// The entry of `id`, deleted at `deleted_at` (as records store times).
    pub fn entry(kind: Kind, id: &str, deleted_at: &str) -> Key {
        Key::new(format!("PURGE#{:02}", shard_of(id, SHARDS)), format!("{deleted_at}#{}#{id}", kind.as_str()))
    }

    /// An entry's deletion time, kind and id.
    pub fn parse(sort_key: &str) -> Option<(&str, Kind, &str)> {
        let mut parts = sort_key.splitn(3, '#');
        let (deleted_at, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
        let kind = match kind {
            "dataset" => Kind::Dataset,
            "forecast" => Kind::Forecast,
            _ => return None,
        };
        Some((deleted_at, kind, id))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn entries_sort_by_deletion_time_and_read_back() {
            let key = entry(Kind::Forecast, "0193a0b0-0000-7000-8000-000000000000", "2026-12-02T10:00:00.000Z");
            assert!(partitions().contains(&key.pk));
            assert_eq!(parse(&key.sk), Some(("2026-12-02T10:00:00.000Z", Kind::Forecast, "0193a0b0-0000-7000-8000-000000000000")));
            assert!(entry(Kind::Dataset, "a", "2026-12-01T10:00:00.000Z").sk < entry(Kind::Dataset, "a", "2026-12-02T10:00:00.000Z").sk);
            assert_eq!(parse("2026-12-02T10:00:00.000Z#report#x"), None);
        }
    }
}
