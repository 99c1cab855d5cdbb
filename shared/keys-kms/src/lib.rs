//! The key provider on AWS KMS: `GenerateDataKey` and `Decrypt` under one KMS key per
//! purpose, with the encryption context passed along, so KMS itself refuses to unwrap a
//! data key for another context (and CloudTrail records the context of every use).

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use crypto::envelope::{DATA_KEY_BYTES, EncryptionContext, WrappedKey};
use crypto::keys::{KeyError, KeyProvider, Purpose};
use zeroize::Zeroizing;

/// KMS keys by purpose: key ids, ARNs or aliases.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: Client,
    keys: HashMap<Purpose, String>,
    /// Key ARNs replaced as a purpose's key (after a suspected compromise, say) that still
    /// unwrap what they wrapped until every record is re-sealed under the new one.
    retired: Vec<String>,
}

impl KmsKeys {
    pub fn new(client: Client, keys: HashMap<Purpose, String>) -> Self {
        Self { client, keys, retired: Vec::new() }
    }

    /// The same, with `retired` key ARNs still accepted for unwrapping.
    pub fn with_retired(self, retired: Vec<String>) -> Self {
        Self { retired, ..self }
    }

    fn key(&self, purpose: Purpose) -> Result<&str, KeyError> {
        self.keys
            .get(&purpose)
            .map(String::as_str)
            .ok_or_else(|| KeyError::UnknownMasterKey(format!("no KMS key for {}", purpose.as_str())))
    }
}

fn context_map(purpose: Purpose, context: &EncryptionContext) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = context.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    map.insert("key-purpose".into(), purpose.as_str().into());
    map
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> KeyError {
    KeyError::Unavailable(DisplayErrorContext(error).to_string())
}

#[async_trait::async_trait]
impl KeyProvider for KmsKeys {
    async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(self.key(purpose)?)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(purpose, context)))
            .send()
            .await
            .map_err(unavailable)?;
        let plaintext = Zeroizing::new(output.plaintext().map(|b| b.as_ref().to_vec()).unwrap_or_default());
        let blob = output.ciphertext_blob().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        let master_key = output.key_id().unwrap_or_default().to_owned();
        if plaintext.len() != DATA_KEY_BYTES || blob.is_empty() || master_key.is_empty() {
            return Err(KeyError::Unavailable("GenerateDataKey answered without a 256-bit key".into()));
        }
        Ok((plaintext, WrappedKey { master_key, blob }))
    }

    async fn unwrap(&self, purpose: Purpose, wrapped: &WrappedKey, context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        // Named, so a ciphertext under any other key (another purpose's) is refused: the
        // purpose's key, or a retired key the wrapped key says it is under.
        let key_id = if self.retired.contains(&wrapped.master_key) { wrapped.master_key.as_str() } else { self.key(purpose)? };
        let decrypted = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(wrapped.blob.clone()))
            .set_encryption_context(Some(context_map(purpose, context)))
            .send()
            .await;
        let output = match decrypted {
            Ok(output) => output,
            Err(error) => {
                let code = error.as_service_error().and_then(ProvideErrorMetadata::code).unwrap_or_default();
                return Err(match code {
                    "InvalidCiphertextException" | "IncorrectKeyException" | "AccessDeniedException" => KeyError::Refused,
                    _ => unavailable(error),
                });
            }
        };
        let plaintext = Zeroizing::new(output.plaintext().map(|b| b.as_ref().to_vec()).unwrap_or_default());
        if plaintext.len() != DATA_KEY_BYTES {
            return Err(KeyError::Refused);
        }
        Ok(plaintext)
    }

    async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
        // The configured id may be an alias; data keys name the key's ARN.
        let described = self.client.describe_key().key_id(self.key(purpose)?).send().await.map_err(unavailable)?;
        described
            .key_metadata()
            .and_then(|metadata| metadata.arn())
            .map(str::to_owned)
            .ok_or_else(|| KeyError::Unavailable("DescribeKey answered without the key's ARN".into()))
    }
}

/// The digest signer on an asymmetric KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`): the private
/// key never leaves KMS, and only the role of the function that writes digests may `Sign`.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    /// The key's ARN: what `Sign` names in its answer, and the only id whose public key
    /// this signer hands out.
    key_arn: String,
    public_key: std::sync::Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

impl KmsSigner {
    pub fn new(client: Client, key_arn: String) -> Self {
        Self { client, key_arn, public_key: std::sync::Arc::default() }
    }
}

#[async_trait::async_trait]
impl crypto::signing::Signer for KmsSigner {
    fn key_id(&self) -> &str {
        &self.key_arn
    }

    async fn sign(&self, message: &[u8]) -> Result<crypto::signing::Signature, KeyError> {
        let output = self
            .client
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(message))
            .message_type(aws_sdk_kms::types::MessageType::Raw)
            .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(unavailable)?;
        let der = output.signature.ok_or_else(|| KeyError::Unavailable("KMS returned no signature".into()))?.into_inner();
        Ok(crypto::signing::Signature { key_id: output.key_id.unwrap_or_else(|| self.key_arn.clone()), der })
    }

    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, KeyError> {
        if key_id != self.key_arn {
            return Err(KeyError::UnknownMasterKey(key_id.to_owned()));
        }
        let key = self
            .public_key
            .get_or_try_init(|| async {
                let output = self.client.get_public_key().key_id(&self.key_arn).send().await.map_err(unavailable)?;
                output.public_key.map(Blob::into_inner).ok_or_else(|| KeyError::Unavailable("KMS returned no public key".into()))
            })
            .await?;
        Ok(key.clone())
    }
}
