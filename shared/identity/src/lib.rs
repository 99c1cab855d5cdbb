//! Users and their credentials: the password policy ([`password`]), password hashing
//! ([`hashing`]) and TOTP ([`totp`]) of the local identity provider, and the user
//! directory port ([`directory`]) that Cognito and the embedded store ([`embedded`]) both
//! implement.

pub mod directory;
pub mod embedded;
pub mod hashing;
pub mod password;
pub mod totp;
