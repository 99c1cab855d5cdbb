//! Users and their credentials: the password policy ([`password`]), password hashing
//! ([`hashing`]) and TOTP ([`totp`]) of the local identity provider, and the user
//! directory port ([`directory`]) that Cognito and the embedded store both implement.

pub mod hashing;
pub mod password;
pub mod totp;
