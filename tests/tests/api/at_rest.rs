//! Nothing personal is stored in clear: values written through the API with marker strings
//! are searched for in every file of the local server's data folder (the SQLite database
//! with its journal, blobs, keys), byte for byte.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::auth::Role;

use crate::helpers::spawn_app;

/// Every file below `dir` that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_users_address_and_name_are_nowhere_in_the_data_folder() {
    let app = spawn_app().await;
    let admin = app.token("at-rest-admin", Role::Admin).await;
    let invited = app
        .call(Method::POST, "/v1/users", Some(&admin), Some(json!({"email": "zq.marker7731@example.com", "name": "Quillon Markerby"})))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    // Read back through the API: sealed at rest, served in clear to who may see it.
    let shown = app.call(Method::GET, &format!("/v1/users/{}", invited.body["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!((shown.body["email"].as_str(), shown.body["name"].as_str()), (Some("zq.marker7731@example.com"), Some("Quillon Markerby")));
    let email = shared::domain::user::Email::parse("ZQ.Marker7731@example.com").unwrap();
    use shared::identity::directory::UserDirectory;
    assert!(app.server.idp.directory.find_by_email(&email).await.unwrap().is_some(), "found by the keyed index");
    for marker in ["zq.marker7731", "Quillon", "Markerby"] {
        let holding = files_holding(app.dir.path(), marker.as_bytes());
        assert!(holding.is_empty(), "`{marker}` in clear in {holding:?}");
    }
}
