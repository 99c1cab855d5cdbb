//! Authorization with Cedar: the one choke point every request passes (SR-13, SR-14).
//!
//! The policies are checked against the schema before they ship: [`compile`] validates
//! `policies/policies.cedar` strictly and writes Cedar's JSON form, `policies/compiled.json`,
//! and a test fails while the shipped file differs from what the sources compile to. So a
//! policy that names an unknown attribute or action never reaches a binary, and a cold
//! start only loads the JSON (no parser, schema or validator runs there).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet, Request, RestrictedExpression, Schema,
    ValidationMode, Validator,
};
use serde_json::Value;

use crate::auth::Principal;
use crate::domain::dataset::{DatasetRecord, ListedDataset};
use crate::domain::forecast::ForecastRecord;

/// The sources: what people edit and review. Only the tests read them ([`compile`]); the
/// binaries carry the compiled form alone.
#[cfg(test)]
const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
#[cfg(test)]
const POLICIES: &str = include_str!("../policies/policies.cedar");
/// What the functions load: [`compile`]d from the sources (see the module's comment).
const COMPILED: &str = include_str!("../policies/compiled.json");

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
    ListUsers,
    InviteUser,
    ReadUser,
    UpdateUser,
    DeleteUser,
    SignOutUser,
    SearchAudit,
    ExportAudit,
    VerifyAudit,
    ReadSettings,
    UpdateSettings,
    ListFindings,
    ListBlockedIps,
    BlockIp,
    UnblockIp,
    ExportUserData,
    EraseUser,
    ReviewAccess,
}

impl Action {
    pub const ALL: [Action; 30] = [
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
        Action::ListUsers,
        Action::InviteUser,
        Action::ReadUser,
        Action::UpdateUser,
        Action::DeleteUser,
        Action::SignOutUser,
        Action::SearchAudit,
        Action::ExportAudit,
        Action::VerifyAudit,
        Action::ReadSettings,
        Action::UpdateSettings,
        Action::ListFindings,
        Action::ListBlockedIps,
        Action::BlockIp,
        Action::UnblockIp,
        Action::ExportUserData,
        Action::EraseUser,
        Action::ReviewAccess,
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
            Action::ListUsers => "ListUsers",
            Action::InviteUser => "InviteUser",
            Action::ReadUser => "ReadUser",
            Action::UpdateUser => "UpdateUser",
            Action::DeleteUser => "DeleteUser",
            Action::SignOutUser => "SignOutUser",
            Action::SearchAudit => "SearchAudit",
            Action::ExportAudit => "ExportAudit",
            Action::VerifyAudit => "VerifyAudit",
            Action::ReadSettings => "ReadSettings",
            Action::UpdateSettings => "UpdateSettings",
            Action::ListFindings => "ListFindings",
            Action::ListBlockedIps => "ListBlockedIps",
            Action::BlockIp => "BlockIp",
            Action::UnblockIp => "UnblockIp",
            Action::ExportUserData => "ExportUserData",
            Action::EraseUser => "EraseUser",
            Action::ReviewAccess => "ReviewAccess",
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

impl<'a> Resource<'a> {
    /// A stored dataset as the policies see it.
    pub fn dataset(record: &'a DatasetRecord) -> Self {
        Resource::Dataset { id: &record.id, owner: &record.owner, readers: &record.readers }
    }

    /// A dataset read for a list, as the policies see it.
    pub fn listed_dataset(listed: &'a ListedDataset<'_>) -> Self {
        Resource::Dataset { id: &listed.id, owner: &listed.owner, readers: &listed.readers }
    }

    /// A stored forecast, given its dataset's current owner and readers (none once the
    /// dataset is deleted).
    pub fn forecast(record: &'a ForecastRecord, dataset_owner: Option<&'a str>, readers: &'a [String]) -> Self {
        Resource::Forecast { id: &record.id, owner: &record.owner, dataset_owner, readers }
    }
}

/// The actions a policy's scope (Cedar's JSON form) can apply to; `None` for all of them.
/// Without action groups (refused by [`compile`]), `action in [...]` is list membership.
fn scoped_actions(policy: &Value) -> Result<Option<Vec<&str>>, AuthzError> {
    fn id<'v>(entity: &'v Value, scope: &Value) -> Result<&'v str, AuthzError> {
        entity["id"].as_str().ok_or_else(|| AuthzError::Policies(format!("an action scope names no id: {scope}")))
    }
    let scope = &policy["action"];
    match scope["op"].as_str() {
        Some("All") => Ok(None),
        Some("==") => Ok(Some(vec![id(&scope["entity"], scope)?])),
        Some("in") => match (scope.get("entities").and_then(Value::as_array), scope.get("entity")) {
            (Some(list), _) => list.iter().map(|entity| id(entity, scope)).collect::<Result<_, _>>().map(Some),
            (None, Some(one)) => Ok(Some(vec![id(one, scope)?])),
            (None, None) => Err(AuthzError::Policies(format!("an action scope names no action: {scope}"))),
        },
        _ => Err(AuthzError::Policies(format!("unknown action scope: {scope}"))),
    }
}

/// One action's policies: those whose scope can apply to it, so a decision evaluates only
/// those (Cedar's authorizer otherwise evaluates every policy's scope for every request).
/// Kept in Cedar's JSON form and converted at the action's first decision: a function asks
/// about one or a few actions, and converting all of them was most of its cold start.
#[derive(Debug)]
struct Slice {
    /// `(policy id, policy)` in Cedar's JSON form (shared by the slices it is in).
    json: Vec<(String, std::sync::Arc<Value>)>,
    converted: std::sync::OnceLock<Result<PolicySet, String>>,
}

impl Slice {
    fn policies(&self) -> Result<&PolicySet, AuthzError> {
        let converted = self.converted.get_or_init(|| {
            let mut set = PolicySet::new();
            for (id, json) in &self.json {
                let policy =
                    cedar_policy::Policy::from_json(Some(PolicyId::new(id)), Value::clone(json)).map_err(|e| format!("{id}: {e}"))?;
                set.add(policy).map_err(|e| format!("{id}: {e}"))?;
            }
            Ok(set)
        });
        converted.as_ref().map_err(|e| AuthzError::Policies(e.clone()))
    }

    fn permits_something(&self) -> bool {
        self.json.iter().any(|(_, policy)| policy["effect"] == "permit")
    }
}

/// Groups the compiled policies by the actions they can apply to.
fn slice_by_action(by_id: serde_json::Map<String, Value>) -> Result<HashMap<Action, Slice>, AuthzError> {
    let mut slices: HashMap<Action, Slice> =
        Action::ALL.into_iter().map(|a| (a, Slice { json: Vec::new(), converted: std::sync::OnceLock::new() })).collect();
    for (id, policy) in by_id {
        let shared = std::sync::Arc::new(policy);
        let actions = scoped_actions(&shared)?;
        for (action, slice) in &mut slices {
            if actions.as_ref().is_none_or(|only| only.contains(&action.cedar_id())) {
                slice.json.push((id.clone(), std::sync::Arc::clone(&shared)));
            }
        }
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

/// Resource attributes the policies may compare with the caller, and still have a list's
/// decisions made once per relation (see [`DecisionMemo`]).
const RELATIONAL_ATTRIBUTES: [&str; 3] = ["owner", "readers", "dataset_owners"];

/// Whether `expr` (a policy condition in Cedar's JSON form) uses the resource only as
/// `resource.owner == principal` or `resource.readers.contains(principal)` (or
/// `dataset_owners`): then its value depends on the resource only through those relations.
fn resource_used_relationally(expr: &Value) -> bool {
    if is_relation(expr) {
        return true;
    }
    match expr {
        Value::Object(map) => map.get("Var").and_then(Value::as_str) != Some("resource") && map.values().all(resource_used_relationally),
        Value::Array(items) => items.iter().all(resource_used_relationally),
        _ => true,
    }
}

fn is_relation(expr: &Value) -> bool {
    let var = |e: &Value, name: &str| e.get("Var").and_then(Value::as_str) == Some(name);
    let resource_attr = |e: &Value| {
        e.get(".")
            .is_some_and(|dot| var(&dot["left"], "resource") && dot["attr"].as_str().is_some_and(|a| RELATIONAL_ATTRIBUTES.contains(&a)))
    };
    if let Some(eq) = expr.get("==") {
        let (left, right) = (&eq["left"], &eq["right"]);
        return (resource_attr(left) && var(right, "principal")) || (resource_attr(right) && var(left, "principal"));
    }
    expr.get("contains").is_some_and(|c| resource_attr(&c["left"]) && var(&c["right"], "principal"))
}

/// Actions whose every policy has an open resource scope and uses the resource only
/// relationally: their decisions depend on a resource only through its [`Relation`].
fn relational_actions(slices: &HashMap<Action, Slice>) -> HashSet<Action> {
    slices
        .iter()
        .filter(|(_, slice)| {
            slice.json.iter().all(|(_, policy)| policy["resource"]["op"] == "All" && resource_used_relationally(&policy["conditions"]))
        })
        .map(|(action, _)| *action)
        .collect()
}

/// Checks the policy sources against the schema and returns what the functions load: the
/// policies in Cedar's JSON form. Refused: a schema whose actions are not exactly
/// [`Action::ALL`], action groups, and any policy strict validation rejects.
pub fn compile(schema_src: &str, policies_src: &str) -> Result<String, AuthzError> {
    let (schema, _warnings) = Schema::from_cedarschema_str(schema_src).map_err(|e| AuthzError::Schema(e.to_string()))?;
    let policies = PolicySet::from_str(policies_src).map_err(|e| AuthzError::Policies(e.to_string()))?;
    // Every action the schema declares is one the code can ask about, and no other.
    let mut declared: Vec<String> = schema.actions().map(|uid| uid.id().unescaped().to_owned()).collect();
    declared.sort();
    let mut known: Vec<String> = Action::ALL.iter().map(|a| a.cedar_id().to_owned()).collect();
    known.sort();
    if declared != known {
        return Err(AuthzError::Schema(format!("the schema declares the actions {declared:?}, the code knows {known:?}")));
    }
    if schema.action_groups().next().is_some() {
        // Slicing by action compares action ids; a group would need its members resolved.
        return Err(AuthzError::Schema("action groups are not supported by the per-action policy slices".into()));
    }
    let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
    if !result.validation_passed() {
        let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
        return Err(AuthzError::Validation(errors.join("; ")));
    }
    let json = policies.to_json().map_err(|e| AuthzError::Policies(e.to_string()))?;
    serde_json::to_string_pretty(&json).map(|text| text + "\n").map_err(|e| AuthzError::Policies(e.to_string()))
}

/// How a resource relates to the caller: everything a relational policy can see of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Relation {
    forecast: bool,
    owner: bool,
    reader: bool,
    dataset_owner: bool,
}

/// One caller's decisions over many resources of a list. For actions whose policies see a
/// resource only through its [`Relation`] to the caller (checked when the policies are
/// loaded), Cedar decides once per relation, on a stand-in resource with exactly that
/// relation; other actions are decided item by item. Either way the answer is Cedar's.
#[derive(Debug)]
pub struct DecisionMemo<'a> {
    authorizer: &'a Authorizer,
    principal: &'a Principal,
    /// A user id that is never the caller's.
    someone_else: String,
    caller: [String; 1],
    /// Decisions so far; a handful per list, so a scan beats hashing.
    decided: Vec<(Action, Relation, bool)>,
}

impl DecisionMemo<'_> {
    /// Whether the caller may do `action` to `resource`; an evaluation error counts as no.
    pub fn can(&mut self, action: Action, resource: &Resource<'_>) -> bool {
        let me = self.principal.subject.as_str();
        let relation = match *resource {
            Resource::Dataset { owner, readers, .. } => {
                Relation { forecast: false, owner: owner == me, reader: readers.iter().any(|r| r == me), dataset_owner: false }
            }
            Resource::Forecast { owner, dataset_owner, readers, .. } => Relation {
                forecast: true,
                owner: owner == me,
                reader: readers.iter().any(|r| r == me),
                dataset_owner: dataset_owner == Some(me),
            },
            Resource::User(_) | Resource::Collection(_) => return self.decide(action, resource),
        };
        if !self.authorizer.relational.contains(&action) {
            return self.decide(action, resource);
        }
        if let Some(&(_, _, known)) = self.decided.iter().find(|(a, r, _)| *a == action && *r == relation) {
            return known;
        }
        let owner = if relation.owner { me } else { self.someone_else.as_str() };
        let readers: &[String] = if relation.reader { &self.caller } else { &[] };
        let stand_in = if relation.forecast {
            let dataset_owner = Some(if relation.dataset_owner { me } else { self.someone_else.as_str() });
            Resource::Forecast { id: "stand-in", owner, dataset_owner, readers }
        } else {
            Resource::Dataset { id: "stand-in", owner, readers }
        };
        let allowed = self.decide(action, &stand_in);
        self.decided.push((action, relation, allowed));
        allowed
    }

    fn decide(&self, action: Action, resource: &Resource<'_>) -> bool {
        self.authorizer.decide(self.principal, action, resource).is_ok_and(|v| v.allowed)
    }
}

/// The shipped policies, loaded once per cold start (each action's converted at its
/// first decision).
#[derive(Debug)]
pub struct Authorizer {
    /// Per action, the policies that can apply to it (see [`Slice`]).
    policies: HashMap<Action, Slice>,
    /// Actions a [`DecisionMemo`] may decide once per relation.
    relational: HashSet<Action>,
    /// Each policy's `@id` annotation, its name in audit records. Read once here: Cedar
    /// parses the annotation key on every lookup.
    names: HashMap<PolicyId, String>,
    /// Cedar's evaluator and the entity type names, built at the first decision: building
    /// the evaluator sets up Cedar's extension functions, most of a cold start otherwise,
    /// and a route such as `/health` never decides anything.
    engine: std::sync::OnceLock<Result<Engine, String>>,
}

#[derive(Debug)]
struct Engine {
    cedar: cedar_policy::Authorizer,
    types: EntityTypes,
}

impl Engine {
    fn new() -> Result<Self, String> {
        let type_name = |name: &str| EntityTypeName::from_str(name).map_err(|e| e.to_string());
        let types = EntityTypes {
            user: type_name("User")?,
            role: type_name("Role")?,
            collection: type_name("Collection")?,
            dataset: type_name("Dataset")?,
            forecast: type_name("Forecast")?,
            action: type_name("Action")?,
        };
        Ok(Self { cedar: cedar_policy::Authorizer::new(), types })
    }
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
    /// Loads the shipped policies ([`COMPILED`]): checked before they shipped, so this
    /// only reads them.
    pub fn new() -> Result<Self, AuthzError> {
        Self::load(COMPILED)
    }

    /// [`compile`]s the given sources and loads the result (tests use it for policies
    /// other than the shipped ones).
    pub fn from_sources(schema_src: &str, policies_src: &str) -> Result<Self, AuthzError> {
        Self::load(&compile(schema_src, policies_src)?)
    }

    /// Loads policies in Cedar's JSON form, as [`compile`] writes them.
    fn load(compiled: &str) -> Result<Self, AuthzError> {
        let mut json: Value = serde_json::from_str(compiled).map_err(|e| AuthzError::Policies(e.to_string()))?;
        let Some(Value::Object(by_id)) = json.get_mut("staticPolicies").map(Value::take) else {
            return Err(AuthzError::Policies("not Cedar's JSON form of a policy set: no `staticPolicies`".into()));
        };
        // Each policy's `@id`, read from the JSON: Cedar's own lookup parses the key.
        let names =
            by_id.iter().filter_map(|(id, policy)| Some((PolicyId::new(id), policy["annotations"]["id"].as_str()?.to_owned()))).collect();
        let policies = slice_by_action(by_id)?;
        // An action no policy permits is a route nobody may use: a policy was forgotten.
        if let Some(unpermitted) = Action::ALL.into_iter().find(|a| !policies[a].permits_something()) {
            return Err(AuthzError::Policies(format!("no policy permits `{}`", unpermitted.cedar_id())));
        }
        let relational = relational_actions(&policies);
        Ok(Self { policies, relational, names, engine: std::sync::OnceLock::new() })
    }

    /// Decisions for `principal` over the items of a list (see [`DecisionMemo`]).
    pub fn memo<'a>(&'a self, principal: &'a Principal) -> DecisionMemo<'a> {
        DecisionMemo {
            authorizer: self,
            principal,
            someone_else: format!("{}~someone-else", principal.subject),
            caller: [principal.subject.clone()],
            decided: Vec::new(),
        }
    }

    /// Decides whether `principal` may do `action` to `resource`.
    pub fn decide(&self, principal: &Principal, action: Action, resource: &Resource<'_>) -> Result<Verdict, AuthzError> {
        let request_error = |e: &dyn std::fmt::Display| AuthzError::Request(e.to_string());
        let engine = self.engine.get_or_init(Engine::new).as_ref().map_err(|e| AuthzError::Schema(e.clone()))?;
        let types = &engine.types;
        let user_uid = uid(&types.user, &principal.subject);
        let role_uid = uid(&types.role, principal.role.as_str());
        let principal_entity = Entity::new_no_attrs(user_uid.clone(), HashSet::from([role_uid]));

        let (resource_uid, resource_entity) = match *resource {
            Resource::User(id) => (uid(&types.user, id), None),
            Resource::Collection(name) => (uid(&types.collection, name), None),
            Resource::Dataset { id, owner, readers } => owned(types, &types.dataset, id, owner, readers, None)?,
            Resource::Forecast { id, owner, dataset_owner, readers } => {
                // A deleted dataset has no owner to grant anything: an empty set says so.
                owned(types, &types.forecast, id, owner, readers, Some(dataset_owner))?
            }
        };

        // The principal's own entity is the resource of ReadOwnProfile; don't add it twice.
        let mut entities = vec![principal_entity];
        entities.extend(resource_entity);
        // No per-request schema check: the policies were validated against the schema at
        // start, and requests and entities are built here from fixed types (a mismatch is
        // a bug the matrix tests catch), so re-validating each one would only cost time.
        let entities = Entities::from_entities(entities, None).map_err(|e| request_error(&e))?;

        let action_uid = uid(&types.action, action.cedar_id());
        let request = Request::new(user_uid, action_uid, resource_uid, Context::empty(), None).map_err(|e| request_error(&e))?;
        let policies =
            self.policies.get(&action).ok_or_else(|| AuthzError::Request(format!("no policy slice for {action:?}")))?.policies()?;
        let response = engine.cedar.is_authorized(&request, policies, &entities);
        let errors: Vec<String> = response.diagnostics().errors().map(ToString::to_string).collect();
        if !errors.is_empty() {
            // A policy that errors is skipped by Cedar, which could silently turn a forbid
            // into an allow in a later policy set; treat it as a fault instead.
            return Err(AuthzError::Request(errors.join("; ")));
        }
        Ok(Verdict {
            allowed: response.decision() == Decision::Allow,
            // Policies are named by their `@id` annotation; Cedar's own ids are positional.
            policies: response.diagnostics().reason().map(|id| self.names.get(id).map_or_else(|| id.to_string(), Clone::clone)).collect(),
        })
    }
}

/// An owned, shareable resource entity (datasets, forecasts) and its uid. Forecasts also
/// carry `dataset_owners`: their dataset's owner, or nobody.
fn owned(
    types: &EntityTypes,
    type_name: &EntityTypeName,
    id: &str,
    owner: &str,
    readers: &[String],
    dataset_owner: Option<Option<&str>>,
) -> Result<(EntityUid, Option<Entity>), AuthzError> {
    let resource = uid(type_name, id);
    let user = |id: &str| RestrictedExpression::new_entity_uid(uid(&types.user, id));
    let mut attrs = HashMap::from([
        ("owner".to_owned(), user(owner)),
        ("readers".to_owned(), RestrictedExpression::new_set(readers.iter().map(|r| user(r)))),
    ]);
    if let Some(dataset_owner) = dataset_owner {
        attrs.insert("dataset_owners".to_owned(), RestrictedExpression::new_set(dataset_owner.map(user)));
    }
    let entity = Entity::new(resource.clone(), attrs, HashSet::new()).map_err(|e| AuthzError::Request(e.to_string()))?;
    Ok((resource, Some(entity)))
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
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

    /// The shipped JSON is what the sources compile to. After editing `policies.cedar`,
    /// `UPDATE_POLICIES=1 cargo test -p shared authz::` rewrites `compiled.json`.
    #[test]
    fn the_shipped_policies_are_the_checked_sources() {
        let compiled = compile(SCHEMA, POLICIES).unwrap();
        if std::env::var_os("UPDATE_POLICIES").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/compiled.json"), &compiled).unwrap();
        }
        assert!(compiled == COMPILED, "policies/compiled.json is stale: run `UPDATE_POLICIES=1 cargo test -p shared authz::`");
        let loaded = Authorizer::new().unwrap();
        assert_eq!(loaded.names.len(), PolicySet::from_str(POLICIES).unwrap().policies().count());
        // Each action's policies convert at its first decision; every one of them does.
        for action in Action::ALL {
            assert!(loaded.policies[&action].policies().unwrap().policies().count() > 0, "{action:?}");
        }
        assert_eq!(
            loaded.names.get(&PolicyId::new("policy0")).map(String::as_str),
            Some("self-profile"),
            "the first policy of the sources"
        );
    }

    #[test]
    fn a_policys_action_scope_names_the_actions_it_applies_to() {
        let scope = |action: Value| scoped_actions(&serde_json::json!({ "action": action })).map(|a| a.map(|ids| ids.join(",")));
        let entity = |id: &str| serde_json::json!({"type": "Action", "id": id});
        assert_eq!(scope(serde_json::json!({"op": "All"})).unwrap(), None);
        assert_eq!(scope(serde_json::json!({"op": "==", "entity": entity("ReadDataset")})).unwrap().as_deref(), Some("ReadDataset"));
        let list = serde_json::json!({"op": "in", "entities": [entity("ReadDataset"), entity("ListDatasets")]});
        assert_eq!(scope(list).unwrap().as_deref(), Some("ReadDataset,ListDatasets"));
        assert_eq!(scope(serde_json::json!({"op": "in", "entity": entity("ShareDataset")})).unwrap().as_deref(), Some("ShareDataset"));
        assert!(matches!(scope(serde_json::json!({"op": "like"})), Err(AuthzError::Policies(m)) if m.starts_with("unknown action scope")));
        assert!(matches!(scope(serde_json::json!({"op": "=="})), Err(AuthzError::Policies(m)) if m.contains("names no id")));
        assert!(matches!(scope(serde_json::json!({"op": "in"})), Err(AuthzError::Policies(m)) if m.contains("names no action")));
    }

    /// A list scope from the sources lands in each listed action's slice, and only there.
    #[test]
    fn a_policy_scoped_to_a_list_of_actions_serves_each_of_them() {
        let extra = r#"@id("extra") permit (principal, action in [Action::"ListUsers", Action::"ReadUser"], resource) when { principal in Role::"viewer" };"#;
        let authz = Authorizer::from_sources(SCHEMA, &format!("{POLICIES}\n{extra}")).unwrap();
        let has_extra = |action: Action| authz.policies[&action].json.iter().any(|(_, p)| p["annotations"]["id"] == "extra");
        assert!(has_extra(Action::ListUsers) && has_extra(Action::ReadUser));
        assert!(!has_extra(Action::UpdateUser) && !has_extra(Action::ReadDataset));
        assert!(authz.decide(&principal("viewer-1", Role::Viewer), Action::ListUsers, &Resource::Collection("users")).unwrap().allowed);
    }

    #[test]
    fn what_the_functions_load_is_refused_when_it_is_not_cedars_json() {
        assert!(matches!(Authorizer::load("permit(principal, action, resource);"), Err(AuthzError::Policies(_))));
        let unpermitted = Authorizer::load(r#"{"staticPolicies":{},"templates":{},"templateLinks":[]}"#).unwrap_err();
        assert_eq!(unpermitted.to_string(), "policies: no policy permits `ReadOwnProfile`");
    }

    #[test]
    fn an_action_no_policy_permits_is_refused() {
        // Everything but the policy for profiles: /v1/me would be refused to everyone.
        let profiles =
            "@id(\"self-profile\")\npermit (principal, action == Action::\"ReadOwnProfile\", resource)\nwhen { resource == principal };";
        assert!(POLICIES.contains(profiles));
        let without = POLICIES.replace(profiles, "");
        let error = Authorizer::from_sources(SCHEMA, &without).unwrap_err();
        assert_eq!(error.to_string(), "policies: no policy permits `ReadOwnProfile`");
        // A forbid is no permit.
        let forbid_only = r#"forbid (principal, action == Action::"ReadOwnProfile", resource);"#;
        let error = Authorizer::from_sources(SCHEMA, &format!("{without}\n{forbid_only}")).unwrap_err();
        assert_eq!(error.to_string(), "policies: no policy permits `ReadOwnProfile`");
    }

    #[test]
    fn a_schema_action_the_code_does_not_know_is_refused() {
        let schema = SCHEMA.replace("action ReadOwnProfile appliesTo", "action ReadOwnProfile, ExportEverything appliesTo");
        let error = Authorizer::from_sources(&schema, POLICIES).unwrap_err();
        assert!(error.to_string().starts_with(r#"schema: the schema declares the actions ["AnalyzeDataset", "BlockIp", "CreateDataset", "CreateForecast", "DeleteDataset", "DeleteForecast", "DeleteUser", "EraseUser", "ExportAudit", "ExportEverything","#), "{error}");
    }

    #[test]
    fn a_policy_naming_an_unknown_attribute_is_refused() {
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
            let mut ids: Vec<String> =
                authz.policies[&action].policies().unwrap().policies().filter_map(|p| p.annotation("id").map(str::to_owned)).collect();
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

    /// Every combination of caller, role and relation: the memo answers as Cedar does on
    /// the real resource, and decides each action once per relation.
    #[test]
    fn a_lists_memo_decides_exactly_as_cedar_does_on_each_item() {
        let authz = Authorizer::new().unwrap();
        let resource_actions = [
            Action::ReadDataset,
            Action::UpdateDataset,
            Action::DeleteDataset,
            Action::ShareDataset,
            Action::ReadForecast,
            Action::DeleteForecast,
        ];
        for action in resource_actions {
            assert!(authz.relational.contains(&action), "{action:?} should be relational with the shipped policies");
        }
        let people = ["p", "x", "y"];
        let reader_sets: Vec<Vec<String>> = vec![vec![], vec!["p".into()], vec!["x".into()], vec!["x".into(), "p".into(), "y".into()]];
        for role in [Role::Admin, Role::Analyst, Role::Viewer] {
            let caller = principal("p", role);
            let mut memo = authz.memo(&caller);
            let mut items = 0;
            for owner in people {
                for readers in &reader_sets {
                    for dataset_owner in [None, Some("p"), Some("x")] {
                        let dataset = Resource::Dataset { id: "d", owner, readers };
                        let forecast = Resource::Forecast { id: "f", owner, dataset_owner, readers };
                        for action in resource_actions {
                            let resource =
                                if matches!(action, Action::ReadForecast | Action::DeleteForecast) { &forecast } else { &dataset };
                            let real = authz.decide(&caller, action, resource).unwrap().allowed;
                            assert_eq!(
                                memo.can(action, resource),
                                real,
                                "{role:?} {action:?} owner {owner} readers {readers:?} {dataset_owner:?}"
                            );
                            items += 1;
                        }
                    }
                }
            }
            // 4 dataset actions × 4 relations (owner? reader?) + 2 forecast actions × 8.
            assert_eq!((memo.decided.len(), items), (32, 216));
        }
    }

    #[test]
    fn a_policy_that_looks_at_more_than_the_relation_is_decided_item_by_item() {
        let extra = r#"
            @id("named-dataset")
            permit (principal, action == Action::"ReadDataset", resource) when { resource == Dataset::"special" };
        "#;
        let authz = Authorizer::from_sources(SCHEMA, &format!("{POLICIES}\n{extra}")).unwrap();
        assert!(!authz.relational.contains(&Action::ReadDataset));
        assert!(authz.relational.contains(&Action::UpdateDataset));
        let caller = principal("p", Role::Viewer);
        let mut memo = authz.memo(&caller);
        let ordinary = Resource::Dataset { id: "ordinary", owner: "x", readers: &[] };
        let special = Resource::Dataset { id: "special", owner: "x", readers: &[] };
        assert!(!memo.can(Action::ReadDataset, &ordinary));
        assert!(memo.can(Action::ReadDataset, &special), "the same relation, another answer: no memo for this action");
        for (expr, relational) in [
            (
                serde_json::json!({"==": {"left": {".": {"left": {"Var": "resource"}, "attr": "owner"}}, "right": {"Var": "principal"}}}),
                true,
            ),
            (
                serde_json::json!({"contains": {"left": {".": {"left": {"Var": "resource"}, "attr": "readers"}}, "right": {"Var": "principal"}}}),
                true,
            ),
            (serde_json::json!({"==": {"left": {".": {"left": {"Var": "resource"}, "attr": "name"}}, "right": {"Value": "x"}}}), false),
            (serde_json::json!({"==": {"left": {".": {"left": {"Var": "resource"}, "attr": "owner"}}, "right": {"Value": "x"}}}), false),
            (serde_json::json!({"has": {"left": {"Var": "resource"}, "attr": "owner"}}), false),
            // An attribute that is no relation, even compared with the caller.
            (
                serde_json::json!({"==": {"left": {".": {"left": {"Var": "resource"}, "attr": "name"}}, "right": {"Var": "principal"}}}),
                false,
            ),
            // The resource itself, on either side, is no relation either.
            (serde_json::json!({"==": {"left": {"Var": "principal"}, "right": {"Var": "resource"}}}), false),
            (serde_json::json!({"==": {"left": {"Var": "resource"}, "right": {"Var": "principal"}}}), false),
            // A relation attribute asked about someone other than the caller.
            (
                serde_json::json!({"contains": {"left": {".": {"left": {"Var": "resource"}, "attr": "readers"}}, "right": {"Value": "x"}}}),
                false,
            ),
            (
                serde_json::json!({"==": {"left": {"Var": "principal"}, "right": {".": {"left": {"Var": "resource"}, "attr": "owner"}}}}),
                true,
            ),
        ] {
            assert_eq!(resource_used_relationally(&expr), relational, "{expr}");
        }
    }

    #[test]
    fn allow_decisions_name_their_policy() {
        let authz = Authorizer::new().unwrap();
        let verdict = authz.decide(&principal("a", Role::Admin), Action::ListDatasets, &Resource::Collection("datasets")).unwrap();
        assert_eq!(verdict.policies, ["admin-datasets"]);
    }
}
