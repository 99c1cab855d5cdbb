//! Who a caller is to the permission matrix.

use serde::{Deserialize, Serialize};

/// The three roles of the permission matrix, from the IdP's groups (SR-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The most privileged known group wins; no known group means viewer, the least
    /// privilege (new users default to viewer, SR-10).
    pub fn from_groups<S: AsRef<str>>(groups: &[S]) -> Self {
        groups.iter().filter_map(|g| Role::parse(g.as_ref())).max().unwrap_or(Role::Viewer)
    }
}
