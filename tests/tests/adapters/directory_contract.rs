//! What every user directory must do: invitations found by id and by e-mail in any case,
//! one account per address, role and state changes, deletion, paging, and answers for users
//! that don't exist. Staged writes are committed the way the API commits them.

use shared::audit::AuditDraft;
use shared::auth::Role;
use shared::domain::ids::UserId;
use shared::domain::user::{AccountStatus, DisplayName, Email, Invitation, User};
use shared::http::RequestMeta;
use shared::identity::directory::{AccountChange, DirectoryError, Staged, UserDirectory};
use shared::store::ItemStore;

/// A directory and the store its staged writes go to.
pub struct Directory<'a> {
    pub directory: &'a dyn UserDirectory,
    pub store: &'a dyn ItemStore,
}

impl Directory<'_> {
    async fn apply<T>(&self, staged: Staged<T>) -> T {
        let record = AuditDraft::new("directory-contract", "user")
            .finish(&RequestMeta { request_id: uuid::Uuid::new_v4().to_string(), ..Default::default() }, 200);
        self.store.commit(staged.writes, &record).await.unwrap();
        for follow_up in &staged.then {
            self.directory.apply(follow_up).await.unwrap();
        }
        staged.value
    }

    /// What the API does when its commit fails: the writes are dropped, the remote side
    /// undone.
    async fn abandon<T>(&self, staged: Staged<T>) {
        for follow_up in &staged.undo {
            self.directory.apply(follow_up).await.unwrap();
        }
    }

    async fn invite(&self, email: &str, role: Role) -> User {
        let invitation = Invitation { email: Email::parse(email).unwrap(), name: Some(DisplayName::parse("Test User").unwrap()), role };
        self.apply(self.directory.invite(&invitation).await.unwrap()).await
    }
}

fn address(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub async fn invited_users_are_found_by_id_and_by_email_in_any_case(d: Directory<'_>) {
    let email = address("find");
    let user = d.invite(&email, Role::Analyst).await;
    assert_eq!((user.email.as_str(), user.role, user.enabled, user.status), (email.as_str(), Role::Analyst, true, AccountStatus::Invited));
    assert_eq!(user.name.as_ref().map(DisplayName::as_str), Some("Test User"));
    assert_eq!(d.directory.get(&user.id).await.unwrap().as_ref(), Some(&user));
    let shouted = Email::parse(&email.to_uppercase()).unwrap();
    assert_eq!(d.directory.find_by_email(&shouted).await.unwrap().map(|u| u.id), Some(user.id));
}

pub async fn a_second_invitation_for_an_address_is_refused(d: Directory<'_>) {
    let email = address("twice");
    d.invite(&email, Role::Viewer).await;
    let again = Invitation { email: Email::parse(&email).unwrap(), name: None, role: Role::Admin };
    assert_eq!(d.directory.invite(&again).await.err(), Some(DirectoryError::EmailTaken));
}

pub async fn role_and_enabled_changes_show(d: Directory<'_>) {
    let user = d.invite(&address("change"), Role::Viewer).await;
    d.apply(d.directory.set_role(&user.id, Role::Admin).await.unwrap()).await;
    d.apply(d.directory.set_enabled(&user.id, false).await.unwrap()).await;
    let changed = d.directory.get(&user.id).await.unwrap().unwrap();
    assert_eq!((changed.role, changed.enabled), (Role::Admin, false));
    d.apply(d.directory.set_enabled(&user.id, true).await.unwrap()).await;
    assert!(d.directory.get(&user.id).await.unwrap().unwrap().enabled);
    // A demotion takes the old role away, not only adds the new one.
    d.apply(d.directory.set_role(&user.id, Role::Analyst).await.unwrap()).await;
    assert_eq!(d.directory.get(&user.id).await.unwrap().unwrap().role, Role::Analyst);
    d.apply(d.directory.sign_out_everywhere(&user.id).await.unwrap()).await;
}

pub async fn a_change_whose_commit_fails_leaves_the_account_as_it_was(d: Directory<'_>) {
    let user = d.invite(&address("undo"), Role::Analyst).await;
    let change = AccountChange { role: Some(Role::Admin), enabled: Some(false), sign_out: true };
    d.abandon(d.directory.change(&user.id, &change).await.unwrap()).await;
    d.abandon(d.directory.delete(&user.id).await.unwrap()).await;
    let after = d.directory.get(&user.id).await.unwrap().unwrap();
    assert_eq!((after.role, after.enabled), (Role::Analyst, true));
}

pub async fn deleted_users_are_gone_and_their_address_is_free(d: Directory<'_>) {
    let email = address("gone");
    let user = d.invite(&email, Role::Analyst).await;
    d.apply(d.directory.delete(&user.id).await.unwrap()).await;
    assert_eq!(d.directory.get(&user.id).await.unwrap(), None);
    assert_eq!(d.directory.find_by_email(&Email::parse(&email).unwrap()).await.unwrap(), None);
    let again = d.invite(&email, Role::Viewer).await;
    assert_ne!(again.id, user.id, "a new account, not the old one back");
}

pub async fn unknown_users_are_not_found(d: Directory<'_>) {
    let nobody = UserId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    assert_eq!(d.directory.get(&nobody).await.unwrap(), None);
    assert_eq!(d.directory.find_by_email(&Email::parse(&address("nobody")).unwrap()).await.unwrap(), None);
    assert_eq!(d.directory.set_role(&nobody, Role::Admin).await.err(), Some(DirectoryError::NotFound));
    assert_eq!(d.directory.set_enabled(&nobody, false).await.err(), Some(DirectoryError::NotFound));
    assert_eq!(d.directory.delete(&nobody).await.err(), Some(DirectoryError::NotFound));
}

pub async fn lists_page_through_every_user(d: Directory<'_>) {
    let mut invited = Vec::new();
    for i in 0..5 {
        invited.push(d.invite(&address(&format!("list{i}")), Role::Viewer).await.id);
    }
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = d.directory.list(after.as_deref(), 2).await.unwrap();
        assert!(page.users.len() <= 2);
        seen.extend(page.users.into_iter().map(|u| u.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for id in &invited {
        assert_eq!(seen.iter().filter(|s| *s == id).count(), 1, "{id:?} listed once");
    }
}
