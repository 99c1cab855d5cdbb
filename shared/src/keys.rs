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
