//! The AWS adapters the functions run on: items in DynamoDB, audit records in their own
//! append-only table, blobs in S3 under SSE-KMS.

mod attr;
mod dynamodb;
mod s3;
pub mod stream;

pub use dynamodb::DynamoStore;
pub use s3::S3BlobStore;
