//! The user directory on a Cognito user pool: the pool signs users in, and this adapter is
//! the admin side of it (`AdminCreateUser`, the role groups, `AdminDisableUser` /
//! `AdminEnableUser`, `AdminDeleteUser`, `AdminUserGlobalSignOut`, `ListUsers`).
//!
//! The pool uses e-mail as the user name attribute (`UsernameAttributes: [email]` in
//! `template.yaml`), so each user's Cognito user name is their `sub`, which is our user id;
//! the admin calls take it directly, and an e-mail address is accepted as an alias. Roles
//! are the groups `admin`, `analyst` and `viewer`, one per user. Every change is made by
//! the time a call returns: nothing is staged.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{AttributeType, DeliveryMediumType, UserStatusType};

use domain::Role;
use domain::ids::UserId;
use domain::user::{AccountStatus, DisplayName, Email, Invitation, User};
use identity::directory::{AccountChange, DirectoryError, FollowUp, Staged, UserDirectory, UserPage};

/// `ListUsers` returns at most 60 users a call.
const MAX_PAGE: usize = 60;
const ROLES: [Role; 3] = [Role::Admin, Role::Analyst, Role::Viewer];

/// A user pool as the directory.
#[derive(Debug, Clone)]
pub struct CognitoDirectory {
    client: Client,
    pool_id: String,
}

impl CognitoDirectory {
    pub fn new(client: Client, pool_id: String) -> Self {
        Self { client, pool_id }
    }

    /// The user the pool knows as `username` (a `sub` or an e-mail alias).
    async fn fetch(&self, username: &str) -> Result<Option<User>, DirectoryError> {
        let found = self.client.admin_get_user().user_pool_id(&self.pool_id).username(username).send().await;
        let output = match found {
            Ok(output) => output,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(unavailable(error)),
        };
        let groups = self.groups(output.username()).await?;
        let mfa_enabled = !output.user_mfa_setting_list().is_empty();
        let created = output.user_create_date().map(|d| d.secs());
        read_user(output.user_attributes(), &groups, output.enabled(), output.user_status(), mfa_enabled, created).map(Some)
    }

    async fn groups(&self, username: &str) -> Result<Vec<String>, DirectoryError> {
        let output =
            self.client.admin_list_groups_for_user().user_pool_id(&self.pool_id).username(username).send().await.map_err(unavailable)?;
        Ok(output.groups().iter().filter_map(|g| g.group_name().map(str::to_owned)).collect())
    }

    /// Fails with `NotFound` when the pool has no such user.
    /// Makes an account change, part by part.
    async fn make(&self, id: &UserId, change: &AccountChange) -> Result<(), DirectoryError> {
        if let Some(role) = change.role {
            self.put_in_group(id, role).await?;
        }
        if let Some(enabled) = change.enabled {
            self.enable(id, enabled).await?;
        }
        if change.sign_out {
            self.client
                .admin_user_global_sign_out()
                .user_pool_id(&self.pool_id)
                .username(id.as_str())
                .send()
                .await
                .map_err(change_error)?;
        }
        Ok(())
    }

    /// Puts the user in `role`'s group, then out of the others (never in none meanwhile).
    async fn put_in_group(&self, id: &UserId, role: Role) -> Result<(), DirectoryError> {
        let current = self.groups(id.as_str()).await?;
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(id.as_str())
            .group_name(role.as_str())
            .send()
            .await
            .map_err(change_error)?;
        for other in ROLES.iter().filter(|r| **r != role && current.iter().any(|g| g == r.as_str())) {
            self.client
                .admin_remove_user_from_group()
                .user_pool_id(&self.pool_id)
                .username(id.as_str())
                .group_name(other.as_str())
                .send()
                .await
                .map_err(change_error)?;
        }
        Ok(())
    }

    async fn enable(&self, id: &UserId, enabled: bool) -> Result<(), DirectoryError> {
        if enabled {
            self.client.admin_enable_user().user_pool_id(&self.pool_id).username(id.as_str()).send().await.map_err(change_error)?;
        } else {
            self.client.admin_disable_user().user_pool_id(&self.pool_id).username(id.as_str()).send().await.map_err(change_error)?;
        }
        Ok(())
    }

    async fn require(&self, id: &UserId) -> Result<User, DirectoryError> {
        self.fetch(id.as_str()).await?.ok_or(DirectoryError::NotFound)
    }
}

/// A user from the pool's attributes and groups.
fn read_user(
    attributes: &[AttributeType],
    groups: &[String],
    enabled: bool,
    status: Option<&UserStatusType>,
    mfa_enabled: bool,
    created_secs: Option<i64>,
) -> Result<User, DirectoryError> {
    let attribute = |name: &str| attributes.iter().find(|a| a.name() == name).and_then(|a| a.value());
    let corrupt = |what: &str| DirectoryError::Corrupt(format!("the pool's user has {what}"));
    let id = UserId::parse(attribute("sub").ok_or_else(|| corrupt("no sub"))?).map_err(|_| corrupt("a sub that is not a user id"))?;
    let email = Email::parse(attribute("email").ok_or_else(|| corrupt("no e-mail"))?).map_err(|_| corrupt("an unusable e-mail"))?;
    // A name set outside this API may break our rules; it is shown as absent, not refused.
    let name = attribute("name").and_then(|n| DisplayName::parse(n).ok());
    let created_at = created_secs
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    let status = match status {
        Some(UserStatusType::ForceChangePassword | UserStatusType::ResetRequired) => AccountStatus::Invited,
        _ => AccountStatus::Active,
    };
    Ok(User { id, email, name, role: Role::from_groups(groups), enabled, status, mfa_enabled, created_at })
}

fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(ProvideErrorMetadata::code) == Some("UserNotFoundException")
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> DirectoryError {
    DirectoryError::Unavailable(DisplayErrorContext(error).to_string())
}

/// A change's error: `NotFound` for an unknown user, otherwise the directory is unavailable.
fn change_error<E: std::error::Error + ProvideErrorMetadata + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> DirectoryError {
    if is_not_found(&error) { DirectoryError::NotFound } else { unavailable(error) }
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, DirectoryError> {
    AttributeType::builder().name(name).value(value).build().map_err(|e| DirectoryError::Corrupt(e.to_string()))
}

#[async_trait::async_trait]
impl UserDirectory for CognitoDirectory {
    async fn invite(&self, invitation: &Invitation) -> Result<Staged<User>, DirectoryError> {
        let mut attributes = vec![attribute("email", invitation.email.as_str())?, attribute("email_verified", "true")?];
        if let Some(name) = &invitation.name {
            attributes.push(attribute("name", name.as_str())?);
        }
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(invitation.email.as_str())
            .set_user_attributes(Some(attributes))
            // Cognito mails the temporary password; the invitee must replace it.
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await;
        let created = match created {
            Ok(output) => output,
            Err(error) if error.as_service_error().and_then(ProvideErrorMetadata::code) == Some("UsernameExistsException") => {
                return Err(DirectoryError::EmailTaken);
            }
            Err(error) => return Err(unavailable(error)),
        };
        let user = created.user().ok_or_else(|| DirectoryError::Corrupt("AdminCreateUser returned no user".into()))?;
        let username = user.username().unwrap_or_default().to_owned();
        let added = self
            .client
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(&username)
            .group_name(invitation.role.as_str())
            .send()
            .await;
        if let Err(error) = added {
            // No account without its role: undo the creation, and say what failed.
            if let Err(undo) = self.client.admin_delete_user().user_pool_id(&self.pool_id).username(&username).send().await {
                tracing::error!(cause = %DisplayErrorContext(undo), "an invited user without a group could not be removed");
            }
            return Err(unavailable(error));
        }
        let created_secs = user.user_create_date().map(|d| d.secs());
        let groups = [invitation.role.as_str().to_owned()];
        let user = read_user(user.attributes(), &groups, user.enabled(), user.user_status(), false, created_secs)?;
        let undo = FollowUp::Delete(user.id.clone());
        Ok(Staged::applied(user, undo))
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        // Only a user whose sub is `id`: an e-mail-shaped id must not resolve as an alias.
        Ok(self.fetch(id.as_str()).await?.filter(|user| user.id == *id))
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, DirectoryError> {
        Ok(self.fetch(email.as_str()).await?.filter(|user| user.email == *email))
    }

    async fn list(&self, after: Option<&str>, limit: usize) -> Result<UserPage, DirectoryError> {
        let limit = i32::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1);
        let output = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(limit)
            .set_pagination_token(after.map(str::to_owned))
            .send()
            .await
            .map_err(unavailable)?;
        // ListUsers has neither groups nor MFA settings: each user is read whole.
        let usernames: Vec<&str> = output.users().iter().filter_map(|u| u.username()).collect();
        let users = futures::future::try_join_all(usernames.iter().map(|name| self.fetch(name))).await?;
        Ok(UserPage { users: users.into_iter().flatten().collect(), next: output.pagination_token().map(str::to_owned) })
    }

    async fn change(&self, id: &UserId, change: &AccountChange) -> Result<Staged<()>, DirectoryError> {
        let user = self.require(id).await?;
        // What puts back what this changes, should the caller's commit fail.
        let undo = AccountChange {
            role: change.role.filter(|role| *role != user.role).map(|_| user.role),
            enabled: change.enabled.filter(|enabled| *enabled != user.enabled).map(|_| user.enabled),
            sign_out: false,
        };
        if let Err(error) = self.make(id, change).await {
            // Halfway: put back what was done (putting back the rest is harmless).
            if let Err(undo_error) = self.make(id, &undo).await {
                tracing::error!(cause = %undo_error, "a half-made account change could not be undone");
            }
            return Err(error);
        }
        Ok(if undo.is_empty() { Staged::done(()) } else { Staged::applied((), FollowUp::Change(id.clone(), undo)) })
    }

    /// Disables the account now and deletes it once the caller has committed: a deletion
    /// can't be undone, so it waits for the API's side; until then the account can't sign
    /// in, and if the deletion never comes it stays disabled (repeating it finishes it).
    async fn delete(&self, id: &UserId) -> Result<Staged<()>, DirectoryError> {
        let disabled = self.set_enabled(id, false).await?;
        Ok(Staged { then: vec![FollowUp::Delete(id.clone())], ..disabled })
    }

    async fn apply(&self, follow_up: &FollowUp) -> Result<(), DirectoryError> {
        match follow_up {
            FollowUp::Delete(id) => {
                let deleted = self.client.admin_delete_user().user_pool_id(&self.pool_id).username(id.as_str()).send().await;
                match deleted {
                    // Gone already (a repeated follow-up) is what was wanted.
                    Err(error) if !is_not_found(&error) => Err(unavailable(error)),
                    _ => Ok(()),
                }
            }
            FollowUp::Change(id, change) => self.make(id, change).await,
        }
    }
}
