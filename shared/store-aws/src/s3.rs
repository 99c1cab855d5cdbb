//! Blobs in S3, every put encrypted with the bucket's KMS key (SSE-KMS, bucket key on),
//! so encryption does not depend on the bucket default alone (SR-24).

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use store::{BlobError, BlobKey, BlobStore};

#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    kms_key_id: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: String, kms_key_id: String) -> Self {
        Self { client, bucket, kms_key_id }
    }
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> BlobError {
    BlobError::Unavailable(DisplayErrorContext(error).to_string())
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_id)
            .bucket_key_enabled(true)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        match self.client.get_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(output) => {
                let data = output.body.collect().await.map_err(|e| BlobError::Unavailable(e.to_string()))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(error) if matches!(error.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => Ok(None),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.client.delete_object().bucket(&self.bucket).key(key.as_str()).send().await.map_err(unavailable)?;
        Ok(())
    }
}
