//! `/v1/users`: user administration. Admins invite, read, change the role or state of,
//! delete and sign out users; analysts read them (whom to share with); viewers nothing.
//!
//! Each change goes to the user directory (Cognito, or the embedded directory) and to the
//! user's security record (what every request is checked against, SR-09) with the admin
//! roster (SR-16) and the audit record, in one commit. The embedded directory's writes are
//! part of that commit; Cognito's change is made first and undone if the commit fails
//! (see [`DirectoryChange`]).

use lambda_http::Request;
use serde::{Deserialize, Serialize};

use super::paging::PageRequest;
use super::{Ctx, path_param, store_error};
use crate::auth::roster::{self, AdminRoster, StandingChangeError};
use crate::auth::standing::{self, SecurityRecord};
use crate::auth::{Principal, Role};
use crate::authz::{Action, Resource};
use crate::cursor::ListScope;
use crate::domain::ids::UserId;
use crate::domain::user::{AccountStatus, DisplayName, Email, Invitation, User};
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::json_body;
use crate::identity::directory::{AccountChange, DirectoryError, FollowUp, Staged, UserDirectory};
use crate::store::WriteOp;

const COLLECTION: Resource<'static> = Resource::Collection("users");
/// Cognito's pagination tokens run to hundreds of characters; sealed, a little more.
const MAX_CURSOR_CHARS: usize = 2048;
/// Bodies of these routes are a few fields.
const MAX_BODY_BYTES: usize = 4 * 1024;

/// A user as the API shows them.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: Role,
    /// A disabled user can't sign in, and their tokens are refused.
    pub enabled: bool,
    pub status: AccountStatus,
    /// Whether an authenticator app is set up.
    pub mfa_enabled: bool,
    pub created_at: String,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            name: user.name.map(|n| n.as_str().to_owned()),
            role: user.role,
            enabled: user.enabled,
            status: user.status,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
        }
    }
}

/// One page of users.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserPageView {
    pub items: Vec<UserView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Who to invite. Without a role, the invitee is a viewer (SR-10: least privilege).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    pub email: String,
    pub name: Option<String>,
    pub role: Option<Role>,
}

/// A change to a user: a new role, or enabling or disabling the account (or both).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    pub enabled: Option<bool>,
}

/// The directory this function was given: every user route has one.
pub(crate) fn directory<'s>(ctx: &Ctx<'s>) -> Result<&'s dyn UserDirectory, ApiError> {
    ctx.state.directory.as_deref().ok_or_else(|| ApiError::internal("this function has no user directory"))
}

pub(crate) fn directory_error(error: DirectoryError) -> ApiError {
    match error {
        DirectoryError::EmailTaken => ApiError::Conflict("an account with this e-mail address exists".into()),
        DirectoryError::NotFound => ApiError::NotFound,
        DirectoryError::Corrupt(cause) => ApiError::Internal { cause },
        DirectoryError::Unavailable(cause) => ApiError::Unavailable { cause },
    }
}

fn standing_error(error: StandingChangeError) -> ApiError {
    match error {
        StandingChangeError::LastAdmin(last) => ApiError::Conflict(last.to_string()),
        StandingChangeError::Store(error) => store_error(error),
    }
}

/// The user a path names, after the caller may do `action` to them.
pub(crate) async fn target(ctx: &mut Ctx<'_>, req: &Request, action: Action) -> Result<(Principal, UserId), ApiError> {
    let principal = ctx.authenticate(req).await?;
    let id = UserId::parse(&path_param(req, "userId")?)?;
    ctx.audit.resource_id = Some(id.as_str().to_owned());
    ctx.audit.subject = Some(id.as_str().to_owned());
    ctx.authorize(&principal, action, &Resource::User(id.as_str()))?;
    Ok((principal, id))
}

async fn existing(directory: &dyn UserDirectory, id: &UserId) -> Result<User, ApiError> {
    directory.get(id).await.map_err(directory_error)?.ok_or(ApiError::NotFound)
}

/// A change to the directory being assembled: the writes it stages, how to undo what it
/// already did remotely, and what it leaves for after the commit.
struct DirectoryChange<'d> {
    directory: &'d dyn UserDirectory,
    writes: Vec<WriteOp>,
    undo: Vec<FollowUp>,
    then: Vec<FollowUp>,
}

impl<'d> DirectoryChange<'d> {
    fn new(directory: &'d dyn UserDirectory) -> Self {
        Self { directory, writes: Vec::new(), undo: Vec::new(), then: Vec::new() }
    }

    /// Takes in one step's result; a failed step undoes the steps before it.
    async fn step<T>(&mut self, step: Result<Staged<T>, DirectoryError>) -> Result<T, ApiError> {
        match step {
            Ok(staged) => {
                self.writes.extend(staged.writes);
                // Undone last step first.
                self.undo.splice(0..0, staged.undo.into_iter().rev());
                self.then.extend(staged.then);
                Ok(staged.value)
            }
            Err(error) => {
                self.roll_back().await;
                Err(directory_error(error))
            }
        }
    }

    async fn roll_back(&self) {
        for follow_up in &self.undo {
            if let Err(error) = self.directory.apply(follow_up).await {
                // The directory and the API now disagree until an admin repeats the change.
                tracing::error!(cause = %error, ?follow_up, "a directory change could not be undone");
            }
        }
    }

    /// Commits `writes` with the directory's own and the audit record; undoes the remote
    /// change if that fails, and makes the follow-ups if it succeeds.
    async fn commit(self, ctx: &mut Ctx<'_>, mut writes: Vec<WriteOp>, status: u16) -> Result<(), ApiError> {
        writes.extend(self.writes.iter().cloned());
        if let Err(error) = ctx.commit(writes, status).await {
            self.roll_back().await;
            return Err(error);
        }
        for follow_up in &self.then {
            if let Err(error) = self.directory.apply(follow_up).await {
                // Committed but not finished (the account stays disabled): a second audit
                // record says so, and the client is told to repeat the request.
                ctx.reopen_audit("directory-follow-up-failed");
                return Err(directory_error(error));
            }
        }
        Ok(())
    }
}

/// Users, oldest account first where the directory keeps an order.
#[utoipa::path(get, path = "/v1/users", operation_id = "listUsers", tag = "users",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` from the previous page"),
    ),
    responses(
        (status = 200, description = "A page of users", body = UserPageView),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn list(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::ListUsers, &COLLECTION)?;
    let wanted = PageRequest::from_query_with(req, MAX_CURSOR_CHARS)?;
    let directory = directory(ctx)?;
    let partitions = ["users".to_owned()];
    let scope = ListScope { caller: &principal.subject, partitions: &partitions, prefix: "" };
    let after = match &wanted.cursor {
        Some(cursor) => Some(super::paging::open_cursor(ctx, &scope, cursor).await?),
        None => None,
    };
    let page = directory.list(after.as_deref(), wanted.limit).await.map_err(directory_error)?;
    let next_cursor = match page.next {
        Some(next) => Some(super::paging::seal_cursor(ctx, &scope, &next).await?),
        None => None,
    };
    Reply::ok(&UserPageView { items: page.users.into_iter().map(UserView::from).collect(), next_cursor })
}

/// Invites a user: an account that signs in with a temporary password sent by e-mail and
/// chooses its own at first sign-in.
#[utoipa::path(post, path = "/v1/users", operation_id = "inviteUser", tag = "users",
    request_body = InviteUser,
    responses(
        (status = 201, description = "Invited", body = UserView, headers(("Location" = String, description = "The user"))),
        (status = 400, description = "Not an e-mail address or a name", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
        (status = 409, description = "An account with this e-mail address exists", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn invite(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::InviteUser, &COLLECTION)?;
    let body: InviteUser = json_body(req, MAX_BODY_BYTES)?;
    let invitation = Invitation {
        email: Email::parse(&body.email)?,
        name: body.name.as_deref().map(DisplayName::parse).transpose()?,
        role: body.role.unwrap_or(Role::Viewer),
    };
    let directory = directory(ctx)?;
    // Everything that can fail before the commit is read first: once the account exists
    // at a remote directory, a failure has to take it back.
    let roster = AdminRoster::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    let mut change = DirectoryChange::new(directory);
    let user = change.step(directory.invite(&invitation).await).await?;
    ctx.audit.resource_id = Some(user.id.as_str().to_owned());
    ctx.audit.subject = Some(user.id.as_str().to_owned());
    let record = SecurityRecord::new(invitation.role);
    let writes = match roster::standing_writes(&roster, user.id.as_str(), None, Some(&record)) {
        Ok(writes) => writes,
        Err(error) => {
            change.roll_back().await;
            return Err(standing_error(error));
        }
    };
    change.commit(ctx, writes, 201).await?;
    let location = format!("/v1/users/{}", user.id.as_str());
    Reply::created(&UserView::from(user), location)
}

/// One user.
#[utoipa::path(get, path = "/v1/users/{userId}", operation_id = "getUser", tag = "users",
    params(("userId" = String, Path, description = "The user's id (the token's `sub`)")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Not a user id", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::UserNotFound,
        responses::TooManyRequests,
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::ReadUser).await?;
    Reply::ok(&UserView::from(existing(directory(ctx)?, &id).await?))
}

/// Changes a user's role or enables or disables them. Either revokes the tokens they hold
/// (a new role takes effect at once; the user signs in again to get tokens that carry it).
/// The last enabled admin can't be demoted or disabled.
#[utoipa::path(patch, path = "/v1/users/{userId}", operation_id = "updateUser", tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 400, description = "Nothing to change, not a role, or not a user id", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
        (status = 409, description = "The last enabled admin, or a concurrent change", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::UserNotFound,
        responses::TooManyRequests,
    ))]
pub async fn update(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::UpdateUser).await?;
    let body: UpdateUser = json_body(req, MAX_BODY_BYTES)?;
    if body.role.is_none() && body.enabled.is_none() {
        return Err(ApiError::validation("role", "say what changes: `role`, `enabled` or both"));
    }
    let directory = directory(ctx)?;
    let mut user = existing(directory, &id).await?;
    let before = read_standing(ctx, &user).await?;
    let mut after = before.1.clone();
    after.role = body.role.unwrap_or(after.role);
    after.enabled = body.enabled.unwrap_or(after.enabled);
    if after.role != before.1.role || after.enabled != before.1.enabled {
        after = after.revoked_at(time::OffsetDateTime::now_utc().unix_timestamp());
    }
    let roster = AdminRoster::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    let writes = roster::standing_writes(&roster, id.as_str(), Some(&before), Some(&after)).map_err(standing_error)?;
    // The directory follows the record: changed where either differs from what is asked.
    let role = body.role.filter(|role| *role != before.1.role || *role != user.role);
    let account = AccountChange {
        role,
        enabled: body.enabled.filter(|enabled| *enabled != before.1.enabled || *enabled != user.enabled),
        // Refresh tokens carry the old groups: they go too.
        sign_out: role.is_some(),
    };
    let mut change = DirectoryChange::new(directory);
    if !account.is_empty() {
        change.step(directory.change(&id, &account).await).await?;
    }
    change.commit(ctx, writes, 200).await?;
    ctx.state.standing.forget(id.as_str());
    (user.role, user.enabled) = (after.role, after.enabled);
    Reply::ok(&UserView::from(user))
}

/// Deletes a user's account. What they own stays (an admin can reassign or delete it).
/// The last enabled admin can't be deleted.
#[utoipa::path(delete, path = "/v1/users/{userId}", operation_id = "deleteUser", tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The last enabled admin, or a concurrent change", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Not a user id", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::UserNotFound,
        responses::TooManyRequests,
    ))]
pub async fn delete(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::DeleteUser).await?;
    let directory = directory(ctx)?;
    let user = existing(directory, &id).await?;
    // A deletion that failed after its commit left no record: repeating it finishes it.
    let before = standing::read(ctx.state.store.as_ref(), id.as_str()).await.map_err(store_error)?;
    remove_account(ctx, directory, &user.id, true, before.as_ref(), 204).await?;
    Ok(Reply::no_content())
}

/// Removes an account: its security record (and its place in the admin roster) in one
/// commit with the request's audit record, and the directory's account when
/// `in_directory` (undone if the commit fails). `standing` is the record as read, if any.
pub(crate) async fn remove_account(
    ctx: &mut Ctx<'_>,
    directory: &dyn UserDirectory,
    id: &UserId,
    in_directory: bool,
    standing: Option<&(u64, SecurityRecord)>,
    status: u16,
) -> Result<(), ApiError> {
    let roster = AdminRoster::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    let writes = roster::standing_writes(&roster, id.as_str(), standing, None).map_err(standing_error)?;
    let mut change = DirectoryChange::new(directory);
    if in_directory {
        change.step(directory.delete(id).await).await?;
    }
    change.commit(ctx, writes, status).await?;
    ctx.state.standing.forget(id.as_str());
    Ok(())
}

/// Signs a user out everywhere: every refresh token and every access token they hold stops
/// working within seconds.
#[utoipa::path(post, path = "/v1/users/{userId}/sign-out", operation_id = "signOutUser", tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "Not a user id", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::UserNotFound,
        responses::TooManyRequests,
    ))]
pub async fn sign_out(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::SignOutUser).await?;
    let directory = directory(ctx)?;
    let user = existing(directory, &id).await?;
    let (version, record) = read_standing(ctx, &user).await?;
    let revoked = record.revoked_at(time::OffsetDateTime::now_utc().unix_timestamp());
    let mut change = DirectoryChange::new(directory);
    change.step(directory.sign_out_everywhere(&id).await).await?;
    change.commit(ctx, vec![revoked.replace(id.as_str(), version).map_err(store_error)?], 204).await?;
    ctx.state.standing.forget(id.as_str());
    Ok(Reply::no_content())
}

/// A directory user's security record; one without (a half-finished deletion) is not a
/// user the API serves.
async fn read_standing(ctx: &Ctx<'_>, user: &User) -> Result<(u64, SecurityRecord), ApiError> {
    standing::read(ctx.state.store.as_ref(), user.id.as_str()).await.map_err(store_error)?.ok_or(ApiError::NotFound)
}
