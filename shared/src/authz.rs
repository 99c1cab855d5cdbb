//! Authorization with Cedar: the one choke point every request passes (SR-13, SR-14).
//!
//! Policies and schema are embedded in the binary and validated together at cold start,
//! so a policy that names an unknown attribute or action never reaches a request.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression,
    Schema, ValidationMode, Validator,
};

use crate::auth::Principal;

const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
const POLICIES: &str = include_str!("../policies/policies.cedar");

/// What a caller wants to do. Each route maps to exactly one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadOwnProfile,
    ListDatasets,
    CreateDataset,
    ReadDataset,
    UpdateDataset,
    DeleteDataset,
    ShareDataset,
    CreateForecast,
    ListForecasts,
    ReadForecast,
    DeleteForecast,
    AnalyzeDataset,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::ReadOwnProfile,
        Action::ListDatasets,
        Action::CreateDataset,
        Action::ReadDataset,
        Action::UpdateDataset,
        Action::DeleteDataset,
        Action::ShareDataset,
        Action::CreateForecast,
        Action::ListForecasts,
        Action::ReadForecast,
        Action::DeleteForecast,
        Action::AnalyzeDataset,
    ];

    /// The action's id in the Cedar schema.
    pub fn cedar_id(self) -> &'static str {
        match self {
            Action::ReadOwnProfile => "ReadOwnProfile",
            Action::ListDatasets => "ListDatasets",
            Action::CreateDataset => "CreateDataset",
            Action::ReadDataset => "ReadDataset",
            Action::UpdateDataset => "UpdateDataset",
            Action::DeleteDataset => "DeleteDataset",
            Action::ShareDataset => "ShareDataset",
            Action::CreateForecast => "CreateForecast",
            Action::ListForecasts => "ListForecasts",
            Action::ReadForecast => "ReadForecast",
            Action::DeleteForecast => "DeleteForecast",
            Action::AnalyzeDataset => "AnalyzeDataset",
        }
    }
}

/// The object of an action, with the attributes the policies look at.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A user, by subject id.
    User(&'a str),
    /// A collection such as `datasets`.
    Collection(&'static str),
    Dataset {
        id: &'a str,
        owner: &'a str,
        readers: &'a [String],
    },
    /// A forecast; `dataset_owner` and `readers` are its dataset's owner and readers
    /// (none once the dataset is deleted).
    Forecast {
        id: &'a str,
        owner: &'a str,
        dataset_owner: Option<&'a str>,
        readers: &'a [String],
    },
}

/// Splits `policies` by the action each can apply to, so a decision evaluates only those
/// (Cedar's authorizer otherwise evaluates every policy's scope for every request). A
/// policy whose action constraint is open goes into every slice; without action groups
/// (refused at start), `action in [...]` is plain list membership.
fn slice_by_action(policies: &PolicySet, types: &EntityTypes) -> Result<HashMap<Action, PolicySet>, AuthzError> {
    let mut slices = HashMap::new();
    for action in Action::ALL {
        let uid = EntityUid::from_type_name_and_id(types.action.clone(), EntityId::new(action.cedar_id()));
        let mut slice = PolicySet::new();
        for policy in policies.policies() {
            let applies = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(only) => only == uid,
                ActionConstraint::In(list) => list.contains(&uid),
            };
            if applies {
                slice.add(policy.clone()).map_err(|e| AuthzError::Policies(e.to_string()))?;
            }
        }
        slices.insert(action, slice);
    }
    Ok(slices)
}

/// The outcome of a decision, with the policies that produced it (for the audit record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub policies: Vec<String>,
}

/// Cedar could not load or evaluate; always a server-side fault, never the caller's.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("schema: {0}")]
    Schema(String),
    #[error("policies: {0}")]
    Policies(String),
    #[error("policies fail validation: {0}")]
    Validation(String),
    #[error("request: {0}")]
    Request(String),
}

/// Validated policies and the schema, built once per cold start.
#[derive(Debug)]
pub struct Authorizer {
    /// Per action, the policies that can apply to it (see [`slice_by_action`]).
    policies: HashMap<Action, PolicySet>,
    cedar: cedar_policy::Authorizer,
    types: EntityTypes,
}

#[derive(Debug)]
struct EntityTypes {
    user: EntityTypeName,
    role: EntityTypeName,
    collection: EntityTypeName,
    dataset: EntityTypeName,
    forecast: EntityTypeName,
    action: EntityTypeName,
}

impl Authorizer {
    /// Parses the embedded schema and policies and validates them strictly.
    pub fn new() -> Result<Self, AuthzError> {
        Self::from_sources(SCHEMA, POLICIES)
    }

    /// Same, from given sources (tests use it to prove that bad policies fail at start).
    pub fn from_sources(schema_src: &str, policies_src: &str) -> Result<Self, AuthzError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema_src).map_err(|e| AuthzError::Schema(e.to_string()))?;
        let policies = PolicySet::from_str(policies_src).map_err(|e| AuthzError::Policies(e.to_string()))?;
        if schema.action_groups().next().is_some() {
            // Slicing by action compares action ids; a group would need its members resolved.
            return Err(AuthzError::Schema("action groups are not supported by the per-action policy slices".into()));
        }
        let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
            return Err(AuthzError::Validation(errors.join("; ")));
        }
        let type_name = |name: &str| EntityTypeName::from_str(name).map_err(|e| AuthzError::Schema(e.to_string()));
        let types = EntityTypes {
            user: type_name("User")?,
            role: type_name("Role")?,
            collection: type_name("Collection")?,
            dataset: type_name("Dataset")?,
            forecast: type_name("Forecast")?,
            action: type_name("Action")?,
        };
        let policies = slice_by_action(&policies, &types)?;
        Ok(Self { policies, cedar: cedar_policy::Authorizer::new(), types })
    }

    /// Decides whether `principal` may do `action` to `resource`.
    pub fn decide(&self, principal: &Principal, action: Action, resource: &Resource<'_>) -> Result<Verdict, AuthzError> {
        let request_error = |e: &dyn std::fmt::Display| AuthzError::Request(e.to_string());
        let user_uid = self.uid(&self.types.user, &principal.subject);
        let role_uid = self.uid(&self.types.role, principal.role.as_str());
        let principal_entity = Entity::new_no_attrs(user_uid.clone(), HashSet::from([role_uid]));

        let (resource_uid, resource_entity) = match *resource {
            Resource::User(id) => (self.uid(&self.types.user, id), None),
            Resource::Collection(name) => (self.uid(&self.types.collection, name), None),
            Resource::Dataset { id, owner, readers } => self.owned(&self.types.dataset, id, owner, readers, None)?,
            Resource::Forecast { id, owner, dataset_owner, readers } => {
                // A deleted dataset has no owner to grant anything: an empty set says so.
                self.owned(&self.types.forecast, id, owner, readers, Some(dataset_owner))?
            }
        };

        // The principal's own entity is the resource of ReadOwnProfile; don't add it twice.
        let mut entities = vec![principal_entity];
        entities.extend(resource_entity);
        // No per-request schema check: the policies were validated against the schema at
        // start, and requests and entities are built here from fixed types (a mismatch is
        // a bug the matrix tests catch), so re-validating each one would only cost time.
        let entities = Entities::from_entities(entities, None).map_err(|e| request_error(&e))?;

        let action_uid = self.uid(&self.types.action, action.cedar_id());
        let request = Request::new(user_uid, action_uid, resource_uid, Context::empty(), None).map_err(|e| request_error(&e))?;
        let policies = self.policies.get(&action).ok_or_else(|| AuthzError::Request(format!("no policy slice for {action:?}")))?;
        let response = self.cedar.is_authorized(&request, policies, &entities);
        let errors: Vec<String> = response.diagnostics().errors().map(ToString::to_string).collect();
        if !errors.is_empty() {
            // A policy that errors is skipped by Cedar, which could silently turn a forbid
            // into an allow in a later policy set; treat it as a fault instead.
            return Err(AuthzError::Request(errors.join("; ")));
        }
        Ok(Verdict {
            allowed: response.decision() == Decision::Allow,
            // Policies are named by their `@id` annotation; Cedar's own ids are positional.
            policies: response
                .diagnostics()
                .reason()
                .map(|id| policies.policy(id).and_then(|p| p.annotation("id")).map_or_else(|| id.to_string(), str::to_owned))
                .collect(),
        })
    }

    /// An owned, shareable resource entity (datasets, forecasts) and its uid. Forecasts
    /// also carry `dataset_owners`: their dataset's owner, or nobody.
    fn owned(
        &self,
        type_name: &EntityTypeName,
        id: &str,
        owner: &str,
        readers: &[String],
        dataset_owner: Option<Option<&str>>,
    ) -> Result<(EntityUid, Option<Entity>), AuthzError> {
        let uid = self.uid(type_name, id);
        let user = |id: &str| RestrictedExpression::new_entity_uid(self.uid(&self.types.user, id));
        let mut attrs = HashMap::from([
            ("owner".to_owned(), user(owner)),
            ("readers".to_owned(), RestrictedExpression::new_set(readers.iter().map(|r| user(r)))),
        ]);
        if let Some(dataset_owner) = dataset_owner {
            attrs.insert("dataset_owners".to_owned(), RestrictedExpression::new_set(dataset_owner.map(user)));
        }
        let entity = Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| AuthzError::Request(e.to_string()))?;
        Ok((uid, Some(entity)))
    }

    fn uid(&self, type_name: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn principal(subject: &str, role: Role) -> Principal {
        Principal {
            subject: subject.into(),
            username: subject.into(),
            role,
            groups: vec![role.as_str().into()],
            client_id: "c".into(),
            issued_at: None,
        }
    }

    #[test]
    fn embedded_policies_validate_against_the_schema() {
        Authorizer::new().unwrap();
    }

    #[test]
    fn a_policy_naming_an_unknown_attribute_fails_at_start() {
        let bad = r#"permit(principal, action == Action::"ReadDataset", resource) when { resource.public == true };"#;
        assert!(matches!(Authorizer::from_sources(SCHEMA, bad), Err(AuthzError::Validation(_))));
    }

    #[test]
    fn ownership_and_sharing_decide_dataset_access() {
        let authz = Authorizer::new().unwrap();
        let readers = vec!["viewer-1".to_owned()];
        let dataset = Resource::Dataset { id: "d1", owner: "analyst-1", readers: &readers };
        let can = |p: &Principal, a: Action| authz.decide(p, a, &dataset).unwrap().allowed;

        assert!(can(&principal("analyst-1", Role::Analyst), Action::UpdateDataset));
        assert!(!can(&principal("analyst-2", Role::Analyst), Action::ReadDataset));
        assert!(can(&principal("viewer-1", Role::Viewer), Action::ReadDataset));
        assert!(!can(&principal("viewer-1", Role::Viewer), Action::UpdateDataset));
        assert!(!can(&principal("viewer-2", Role::Viewer), Action::ReadDataset));
        assert!(can(&principal("admin-1", Role::Admin), Action::DeleteDataset));
        // A former analyst demoted to viewer keeps no write access to what they own.
        assert!(!can(&principal("analyst-1", Role::Viewer), Action::UpdateDataset));
    }

    #[test]
    fn viewers_cannot_create_and_nobody_reads_another_profile() {
        let authz = Authorizer::new().unwrap();
        let viewer = principal("v", Role::Viewer);
        assert!(!authz.decide(&viewer, Action::CreateDataset, &Resource::Collection("datasets")).unwrap().allowed);
        assert!(authz.decide(&viewer, Action::ListDatasets, &Resource::Collection("datasets")).unwrap().allowed);
        assert!(authz.decide(&viewer, Action::ReadOwnProfile, &Resource::User("v")).unwrap().allowed);
        let admin = principal("a", Role::Admin);
        assert!(!authz.decide(&admin, Action::ReadOwnProfile, &Resource::User("v")).unwrap().allowed);
    }

    #[test]
    fn forecasts_are_read_by_admins_their_owner_and_their_dataset_readers() {
        let authz = Authorizer::new().unwrap();
        let readers = vec!["viewer-1".to_owned()];
        let forecast = Resource::Forecast { id: "f1", owner: "analyst-1", dataset_owner: Some("analyst-3"), readers: &readers };
        let can = |p: &Principal| authz.decide(p, Action::ReadForecast, &forecast).unwrap().allowed;
        assert!(can(&principal("analyst-1", Role::Analyst)));
        assert!(can(&principal("viewer-1", Role::Viewer)));
        assert!(can(&principal("admin-9", Role::Admin)));
        assert!(!can(&principal("analyst-2", Role::Analyst)));
        assert!(!can(&principal("viewer-2", Role::Viewer)));
        // The dataset's owner reads forecasts others ran on it, while an analyst, and may
        // not delete them; once the dataset is gone, its former owner has no claim.
        assert!(can(&principal("analyst-3", Role::Analyst)));
        assert!(!can(&principal("analyst-3", Role::Viewer)));
        assert!(!authz.decide(&principal("analyst-3", Role::Analyst), Action::DeleteForecast, &forecast).unwrap().allowed);
        let orphan = Resource::Forecast { id: "f1", owner: "analyst-1", dataset_owner: None, readers: &[] };
        assert!(!authz.decide(&principal("analyst-3", Role::Analyst), Action::ReadForecast, &orphan).unwrap().allowed);
        let delete = |p: &Principal| authz.decide(p, Action::DeleteForecast, &forecast).unwrap().allowed;
        assert!(delete(&principal("analyst-1", Role::Analyst)) && delete(&principal("admin-9", Role::Admin)));
        assert!(!delete(&principal("viewer-1", Role::Viewer)) && !delete(&principal("analyst-1", Role::Viewer)));
        let collection = Resource::Collection("forecasts");
        assert!(!authz.decide(&principal("viewer-1", Role::Viewer), Action::CreateForecast, &collection).unwrap().allowed);
        assert!(authz.decide(&principal("analyst-1", Role::Analyst), Action::CreateForecast, &collection).unwrap().allowed);
    }

    #[test]
    fn each_action_evaluates_only_the_policies_that_name_it() {
        let authz = Authorizer::new().unwrap();
        let ids = |action: Action| {
            let mut ids: Vec<String> = authz.policies[&action].policies().filter_map(|p| p.annotation("id").map(str::to_owned)).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(Action::ReadDataset), ["admin-datasets", "analyst-own-datasets", "shared-read"]);
        assert_eq!(
            ids(Action::ReadForecast),
            ["admin-forecasts", "analyst-own-forecasts", "dataset-owner-forecast-read", "shared-forecast-read"]
        );
        assert_eq!(ids(Action::ReadOwnProfile), ["self-profile"]);
        // Every policy serves some action: none is silently dropped by the slicing.
        let total: std::collections::HashSet<String> = Action::ALL.iter().flat_map(|a| ids(*a)).collect();
        assert_eq!(total.len(), PolicySet::from_str(POLICIES).unwrap().policies().count());
    }

    #[test]
    fn allow_decisions_name_their_policy() {
        let authz = Authorizer::new().unwrap();
        let verdict = authz.decide(&principal("a", Role::Admin), Action::ListDatasets, &Resource::Collection("datasets")).unwrap();
        assert_eq!(verdict.policies, ["admin-datasets"]);
    }
}
