//! Adapter contract tests: one suite per port, run against the embedded adapter and the
//! AWS adapter on its local stand-in (DynamoDB Local, the moto S3 server).
//!
//! `scripts/test.sh` starts the stand-ins and exports their URLs. Without them these
//! tests fail (never skip), saying how to run them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a failed step fails the test loudly")]

#[path = "../support/audit_backdoor.rs"]
mod audit_backdoor;
mod audit_integrity;
#[path = "../support/audit_walk.rs"]
mod audit_walk;
mod blob_contract;
mod directory_contract;
mod kms;
mod racing_counters;
mod services;
mod store_contract;
mod waf;

/// Instantiates every case of a contract suite for one adapter, so a failure names both.
macro_rules! contract_suite {
    ($suite:ident, $adapter:ident, $make:path, [$($case:ident),* $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    let subject = $make().await;
                    crate::$suite::$case(subject.as_ref()).await;
                }
            )*
        }
    };
}

macro_rules! store_suite {
    ($adapter:ident, $make:path) => {
        contract_suite!(
            store_contract,
            $adapter,
            $make,
            [
                a_create_refuses_an_existing_key,
                a_versioned_write_needs_the_version_it_read,
                a_failed_condition_rolls_back_the_whole_commit,
                a_duplicate_audit_record_rolls_back_the_writes,
                deletes_honour_their_condition,
                queries_page_in_order_within_a_prefix,
                pages_are_not_cut_short_by_the_response_size_limit,
                get_many_returns_only_what_exists_across_batches,
                audit_records_come_back_in_order_and_page,
                commits_over_the_transaction_limit_are_refused_whole,
                bodies_round_trip_exactly,
                instances_share_one_cursor_key,
                counters_count_from_one_and_expire,
                concurrent_increments_each_see_their_own_value,
                a_rate_limit_lets_exactly_its_maximum_through_each_window,
                a_scan_visits_every_item_once_and_no_counter,
                audit_searches_filter_newest_first_and_page_without_repeats,
            ]
        );
    };
}

macro_rules! blob_suite {
    ($adapter:ident, $make:path) => {
        contract_suite!(
            blob_contract,
            $adapter,
            $make,
            [blobs_round_trip_byte_for_byte, a_put_replaces_and_a_delete_removes, missing_blobs_are_none_and_deleting_them_is_fine,]
        );
    };
}

/// The directory suite: each case gets a directory and the store its writes commit to.
macro_rules! directory_suite {
    ($adapter:ident, $make:path) => {
        mod $adapter {
            directory_suite!(@cases $make, [
                invited_users_are_found_by_id_and_by_email_in_any_case,
                a_second_invitation_for_an_address_is_refused,
                role_and_enabled_changes_show,
                a_change_whose_commit_fails_leaves_the_account_as_it_was,
                deleted_users_are_gone_and_their_address_is_free,
                unknown_users_are_not_found,
                lists_page_through_every_user,
            ]);
        }
    };
    (@cases $make:path, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test]
            async fn $case() {
                let subject = $make().await;
                crate::directory_contract::$case(subject.directory()).await;
            }
        )*
    };
}

store_suite!(sqlite, crate::services::sqlite_store);
store_suite!(dynamodb, crate::services::dynamo_store);
blob_suite!(folder, crate::services::folder_blobs);
blob_suite!(sealed_folder, crate::services::sealed_folder_blobs);
directory_suite!(embedded_on_sqlite, crate::services::embedded_directory_on_sqlite);
directory_suite!(embedded_on_dynamodb, crate::services::embedded_directory_on_dynamodb);
directory_suite!(cognito_on_moto, crate::services::cognito_directory_on_moto);
blob_suite!(s3, crate::services::s3_blobs);

#[tokio::test]
async fn s3_puts_ask_for_kms_encryption_with_the_bucket_key() {
    services::s3_puts_are_kms_encrypted().await;
}

#[tokio::test]
async fn the_client_secret_comes_from_secrets_manager_and_is_cached() {
    services::client_secret_comes_from_secrets_manager().await;
}

#[tokio::test]
async fn tampering_with_the_embedded_audit_table_is_named_record_by_record() {
    audit_integrity::one_changed_one_deleted_one_inserted_are_named_and_nothing_else(audit_integrity::on_sqlite().await).await;
}

#[tokio::test]
async fn tampering_with_the_dynamodb_audit_table_is_named_record_by_record() {
    audit_integrity::one_changed_one_deleted_one_inserted_are_named_and_nothing_else(audit_integrity::on_dynamodb().await).await;
}
