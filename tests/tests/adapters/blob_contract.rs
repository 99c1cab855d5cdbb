//! What every blob store must do.

use shared::store::{BlobKey, BlobStore};

fn key(name: &str) -> BlobKey {
    BlobKey::parse(&format!("datasets/{}/{name}", uuid::Uuid::new_v4())).unwrap()
}

pub async fn blobs_round_trip_byte_for_byte(store: &dyn BlobStore) {
    let key = key("data.bin");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    store.put(&key, bytes.clone(), "application/octet-stream").await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(bytes));
}

pub async fn a_put_replaces_and_a_delete_removes(store: &dyn BlobStore) {
    let key = key("data.csv");
    store.put(&key, b"first".to_vec(), "text/csv").await.unwrap();
    store.put(&key, b"second".to_vec(), "text/csv").await.unwrap();
    assert_eq!(store.get(&key).await.unwrap().as_deref(), Some(&b"second"[..]));
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
}

pub async fn missing_blobs_are_none_and_deleting_them_is_fine(store: &dyn BlobStore) {
    let key = key("never-written");
    assert_eq!(store.get(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}
