//! The server-side hub registry: which connections exist, which user each belongs to, which
//! groups each joined, and who a message addressed to a [`Target`] reaches.
//!
//! Plain data structures, reused by the hub server and the gateway (service-protocol
//! `JoinGroup` / `LeaveGroup`, REST group routes). Every answer comes in a deterministic
//! order (sorted by id), so tests and fan-out are reproducible.
//!
//! What it does not do: it sends nothing (fan-out writes frames to the ids [`Registry::targets`]
//! returns), knows no hubs (one registry per hub) and has no user-level group membership
//! (the REST `groups/{g}/users/{u}` routes with a TTL); a group is a set of connections.

use std::collections::{BTreeMap, BTreeSet};

/// Who a message is addressed to. Unknown connections, users and groups simply reach no one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every connection but the excluded ones.
    All {
        /// Connection ids left out.
        excluded: Vec<String>,
    },
    /// One connection.
    Connection(String),
    /// Several connections.
    Connections(Vec<String>),
    /// Every connection of one user.
    User(String),
    /// Every connection of several users.
    Users(Vec<String>),
    /// Every member of one group but the excluded connections.
    Group {
        /// Group name.
        name: String,
        /// Connection ids left out.
        excluded: Vec<String>,
    },
    /// Every member of several groups.
    Groups(Vec<String>),
}

/// Limits of a [`Registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// Most groups one connection may be in (`None` = unlimited, the default).
    pub max_groups_per_connection: Option<usize>,
    /// Longest group name in bytes (our default: 1024).
    pub max_group_name_len: usize,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        RegistryLimits {
            max_groups_per_connection: None,
            max_group_name_len: 1024,
        }
    }
}

/// Why a registry operation was refused. [`http_status`](Self::http_status) gives the answer
/// for a REST request that caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Caller misuse: a connection with this id is already registered.
    #[error("connection '{0}' is already registered")]
    DuplicateConnection(String),
    /// The request names a connection that does not exist (404).
    #[error("connection '{0}' does not exist")]
    UnknownConnection(String),
    /// Policy: an empty group name (400).
    #[error("group name is empty")]
    EmptyGroupName,
    /// Policy: the group name is longer than the limit (400).
    #[error("group name of {len} bytes exceeds the limit of {max}")]
    GroupNameTooLong {
        /// Length of the name in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Policy: the connection is already in the maximum number of groups (400).
    #[error("connection '{connection}' is already in {max} groups")]
    TooManyGroups {
        /// The connection.
        connection: String,
        /// The limit.
        max: usize,
    },
}

impl RegistryError {
    /// HTTP status for a REST request that failed this way (409 for a duplicate, which only a
    /// bug on our side produces).
    pub fn http_status(&self) -> u16 {
        match self {
            RegistryError::DuplicateConnection(_) => 409,
            RegistryError::UnknownConnection(_) => 404,
            _ => 400,
        }
    }
}

/// What [`Registry::remove_connection`] cleaned up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedConnection {
    /// The connection's user.
    pub user: Option<String>,
    /// The groups it left, sorted.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    user: Option<String>,
    groups: BTreeSet<String>,
}

/// Connections, users and groups of one hub. Users and groups exist only while they have
/// connections: removing the last one drops them.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    limits: RegistryLimits,
    connections: BTreeMap<String, Entry>,
    users: BTreeMap<String, BTreeSet<String>>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

impl Registry {
    /// An empty registry with these limits.
    pub fn new(limits: RegistryLimits) -> Self {
        Registry {
            limits,
            ..Registry::default()
        }
    }

    /// Limits in force.
    pub fn limits(&self) -> &RegistryLimits {
        &self.limits
    }

    /// Registers connection `id`, optionally belonging to `user`.
    pub fn add_connection(
        &mut self,
        id: impl Into<String>,
        user: Option<String>,
    ) -> Result<(), RegistryError> {
        let id = id.into();
        if self.connections.contains_key(&id) {
            return Err(RegistryError::DuplicateConnection(id));
        }
        if let Some(user) = &user {
            self.users
                .entry(user.clone())
                .or_default()
                .insert(id.clone());
        }
        self.connections.insert(
            id,
            Entry {
                user,
                groups: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// Removes connection `id` from the registry, its user and all its groups (dropping the
    /// ones left empty). `None` if it did not exist.
    pub fn remove_connection(&mut self, id: &str) -> Option<RemovedConnection> {
        let entry = self.connections.remove(id)?;
        if let Some(user) = &entry.user {
            remove_member(&mut self.users, user, id);
        }
        for group in &entry.groups {
            remove_member(&mut self.groups, group, id);
        }
        Some(RemovedConnection {
            user: entry.user,
            groups: entry.groups.into_iter().collect(),
        })
    }

    /// Adds connection `connection` to `group`. `Ok(false)` if it was already a member.
    pub fn join_group(&mut self, connection: &str, group: &str) -> Result<bool, RegistryError> {
        if group.is_empty() {
            return Err(RegistryError::EmptyGroupName);
        }
        if group.len() > self.limits.max_group_name_len {
            return Err(RegistryError::GroupNameTooLong {
                len: group.len(),
                max: self.limits.max_group_name_len,
            });
        }
        let entry = self
            .connections
            .get_mut(connection)
            .ok_or_else(|| RegistryError::UnknownConnection(connection.into()))?;
        if entry.groups.contains(group) {
            return Ok(false);
        }
        if let Some(max) = self.limits.max_groups_per_connection
            && entry.groups.len() >= max
        {
            return Err(RegistryError::TooManyGroups {
                connection: connection.into(),
                max,
            });
        }
        entry.groups.insert(group.into());
        self.groups
            .entry(group.into())
            .or_default()
            .insert(connection.into());
        Ok(true)
    }

    /// Removes connection `connection` from `group` (dropping the group if it is left empty).
    /// `Ok(false)` if it was not a member.
    pub fn leave_group(&mut self, connection: &str, group: &str) -> Result<bool, RegistryError> {
        let entry = self
            .connections
            .get_mut(connection)
            .ok_or_else(|| RegistryError::UnknownConnection(connection.into()))?;
        if !entry.groups.remove(group) {
            return Ok(false);
        }
        remove_member(&mut self.groups, group, connection);
        Ok(true)
    }

    /// Removes connection `connection` from every group; returns the groups it left, sorted.
    pub fn leave_all_groups(&mut self, connection: &str) -> Result<Vec<String>, RegistryError> {
        let entry = self
            .connections
            .get_mut(connection)
            .ok_or_else(|| RegistryError::UnknownConnection(connection.into()))?;
        let left = std::mem::take(&mut entry.groups);
        for group in &left {
            remove_member(&mut self.groups, group, connection);
        }
        Ok(left.into_iter().collect())
    }

    /// True if connection `id` is registered.
    pub fn contains_connection(&self, id: &str) -> bool {
        self.connections.contains_key(id)
    }

    /// The user of connection `id`, if it has one.
    pub fn user_of(&self, id: &str) -> Option<&str> {
        self.connections.get(id)?.user.as_deref()
    }

    /// The groups of connection `id`, sorted (empty for an unknown connection).
    pub fn groups_of(&self, id: &str) -> Vec<&str> {
        self.connections
            .get(id)
            .map(|e| e.groups.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The connections of `user`, sorted.
    pub fn connections_of_user(&self, user: &str) -> Vec<&str> {
        members(&self.users, user)
    }

    /// The connections in `group`, sorted.
    pub fn connections_in_group(&self, group: &str) -> Vec<&str> {
        members(&self.groups, group)
    }

    /// True if `user` has at least one connection.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// True if `group` has at least one connection.
    pub fn has_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// True if connection `connection` is in `group`.
    pub fn is_in_group(&self, connection: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|m| m.contains(connection))
    }

    /// Number of connections.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Number of users with at least one connection.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Number of non-empty groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The registered connections `target` reaches, deduplicated and sorted.
    pub fn targets(&self, target: &Target) -> Vec<String> {
        let mut out: BTreeSet<&str> = BTreeSet::new();
        match target {
            Target::All { excluded } => {
                out.extend(self.connections.keys().map(String::as_str));
                remove_all(&mut out, excluded);
            }
            Target::Connection(id) => out.extend(self.known(std::slice::from_ref(id))),
            Target::Connections(ids) => out.extend(self.known(ids)),
            Target::User(user) => out.extend(members(&self.users, user)),
            Target::Users(users) => {
                for user in users {
                    out.extend(members(&self.users, user));
                }
            }
            Target::Group { name, excluded } => {
                out.extend(members(&self.groups, name));
                remove_all(&mut out, excluded);
            }
            Target::Groups(names) => {
                for name in names {
                    out.extend(members(&self.groups, name));
                }
            }
        }
        out.into_iter().map(str::to_owned).collect()
    }

    fn known<'a>(&'a self, ids: &'a [String]) -> impl Iterator<Item = &'a str> {
        ids.iter()
            .map(String::as_str)
            .filter(|id| self.connections.contains_key(*id))
    }
}

fn members<'a>(map: &'a BTreeMap<String, BTreeSet<String>>, key: &str) -> Vec<&'a str> {
    map.get(key)
        .map(|m| m.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn remove_member(map: &mut BTreeMap<String, BTreeSet<String>>, key: &str, member: &str) {
    if let Some(set) = map.get_mut(key) {
        set.remove(member);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

fn remove_all(set: &mut BTreeSet<&str>, excluded: &[String]) {
    for id in excluded {
        set.remove(id.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// c1, c2 of alice; c3 of bob; c4 anonymous. Groups: g1 = {c1, c3}, g2 = {c2, c3, c4}.
    fn sample() -> Registry {
        let mut r = Registry::default();
        r.add_connection("c1", Some("alice".into())).unwrap();
        r.add_connection("c2", Some("alice".into())).unwrap();
        r.add_connection("c3", Some("bob".into())).unwrap();
        r.add_connection("c4", None).unwrap();
        for (c, g) in [
            ("c1", "g1"),
            ("c3", "g1"),
            ("c2", "g2"),
            ("c3", "g2"),
            ("c4", "g2"),
        ] {
            assert!(r.join_group(c, g).unwrap());
        }
        r
    }

    #[test]
    fn lookups() {
        let r = sample();
        assert_eq!(r.connections_of_user("alice"), vec!["c1", "c2"]);
        assert_eq!(r.groups_of("c3"), vec!["g1", "g2"]);
        assert_eq!(r.user_of("c3"), Some("bob"));
        assert_eq!(r.user_of("c4"), None);
        assert!(r.is_in_group("c4", "g2") && !r.is_in_group("c4", "g1"));
        assert!(r.groups_of("nope").is_empty());
        assert_eq!(
            (r.connection_count(), r.user_count(), r.group_count()),
            (4, 2, 2)
        );
    }

    #[test]
    fn targets_are_deduplicated_sorted_and_honour_exclusions() {
        let r = sample();
        let t = |target| r.targets(&target);
        assert_eq!(
            t(Target::All {
                excluded: strings(&["c2", "zz"])
            }),
            strings(&["c1", "c3", "c4"])
        );
        assert_eq!(t(Target::Connection("c4".into())), strings(&["c4"]));
        assert!(t(Target::Connection("zz".into())).is_empty());
        assert_eq!(
            t(Target::Connections(strings(&["c3", "zz", "c1", "c3"]))),
            strings(&["c1", "c3"])
        );
        assert_eq!(t(Target::User("alice".into())), strings(&["c1", "c2"]));
        assert_eq!(
            t(Target::Users(strings(&["bob", "alice", "bob", "nobody"]))),
            strings(&["c1", "c2", "c3"])
        );
        assert_eq!(
            t(Target::Group {
                name: "g2".into(),
                excluded: strings(&["c3"])
            }),
            strings(&["c2", "c4"])
        );
        assert_eq!(
            t(Target::Groups(strings(&["g2", "g1", "none"]))),
            strings(&["c1", "c2", "c3", "c4"])
        );
    }

    #[test]
    fn remove_connection_leaves_groups_and_drops_empty_users_and_groups() {
        let mut r = sample();
        assert_eq!(
            r.remove_connection("c3"),
            Some(RemovedConnection {
                user: Some("bob".into()),
                groups: strings(&["g1", "g2"])
            })
        );
        assert!(!r.has_user("bob"));
        assert_eq!(r.connections_in_group("g1"), vec!["c1"]);
        r.remove_connection("c1");
        assert!(!r.has_group("g1"), "empty group dropped");
        assert_eq!(r.connections_of_user("alice"), vec!["c2"]);
        assert_eq!(r.remove_connection("c1"), None);
        assert_eq!(
            r.targets(&Target::Group {
                name: "g1".into(),
                excluded: vec![]
            }),
            Vec::<String>::new()
        );
    }

    #[test]
    fn join_and_leave() {
        let mut r = sample();
        assert_eq!(r.join_group("c1", "g1"), Ok(false), "already a member");
        assert_eq!(r.leave_group("c1", "g1"), Ok(true));
        assert_eq!(r.leave_group("c1", "g1"), Ok(false));
        assert_eq!(r.leave_group("c1", "never"), Ok(false));
        assert_eq!(r.leave_all_groups("c3"), Ok(strings(&["g1", "g2"])));
        assert!(!r.has_group("g1"));
        assert_eq!(
            r.join_group("zz", "g1"),
            Err(RegistryError::UnknownConnection("zz".into()))
        );
        assert_eq!(r.leave_group("zz", "g1").unwrap_err().http_status(), 404);
    }

    #[test]
    fn duplicate_connection_is_refused() {
        let mut r = sample();
        let err = r.add_connection("c1", None).unwrap_err();
        assert_eq!(err, RegistryError::DuplicateConnection("c1".into()));
        assert_eq!(r.user_of("c1"), Some("alice"), "the original is untouched");
    }

    #[test]
    fn limits_are_enforced() {
        let mut r = Registry::new(RegistryLimits {
            max_groups_per_connection: Some(2),
            max_group_name_len: 4,
        });
        r.add_connection("c", None).unwrap();
        assert_eq!(r.join_group("c", ""), Err(RegistryError::EmptyGroupName));
        let long = r.join_group("c", "abcde").unwrap_err();
        assert_eq!(long, RegistryError::GroupNameTooLong { len: 5, max: 4 });
        assert_eq!(long.http_status(), 400);
        r.join_group("c", "a").unwrap();
        r.join_group("c", "b").unwrap();
        assert_eq!(
            r.join_group("c", "b"),
            Ok(false),
            "re-joining is not a new group"
        );
        assert_eq!(
            r.join_group("c", "d"),
            Err(RegistryError::TooManyGroups {
                connection: "c".into(),
                max: 2
            })
        );
        r.leave_group("c", "a").unwrap();
        assert_eq!(r.join_group("c", "d"), Ok(true));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, Option<u8>),
        Remove(u8),
        Join(u8, u8),
        Leave(u8, u8),
        LeaveAll(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, proptest::option::of(0u8..3)).prop_map(|(c, u)| Op::Add(c, u)),
            (0u8..6).prop_map(Op::Remove),
            (0u8..6, 0u8..4).prop_map(|(c, g)| Op::Join(c, g)),
            (0u8..6, 0u8..4).prop_map(|(c, g)| Op::Leave(c, g)),
            (0u8..6).prop_map(Op::LeaveAll),
        ]
    }

    proptest! {
        /// Random operations keep the user and group indexes equal to what the connections
        /// say, with no empty user or group left behind.
        #[test]
        fn indexes_stay_consistent(ops in proptest::collection::vec(op(), 0..80)) {
            let mut r = Registry::new(RegistryLimits {
                max_groups_per_connection: Some(3),
                ..RegistryLimits::default()
            });
            for op in ops {
                match op {
                    Op::Add(c, u) => {
                        let _ = r.add_connection(format!("c{c}"), u.map(|u| format!("u{u}")));
                    }
                    Op::Remove(c) => {
                        let _ = r.remove_connection(&format!("c{c}"));
                    }
                    Op::Join(c, g) => {
                        let _ = r.join_group(&format!("c{c}"), &format!("g{g}"));
                    }
                    Op::Leave(c, g) => {
                        let _ = r.leave_group(&format!("c{c}"), &format!("g{g}"));
                    }
                    Op::LeaveAll(c) => {
                        let _ = r.leave_all_groups(&format!("c{c}"));
                    }
                }
                let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for (id, e) in &r.connections {
                    prop_assert!(e.groups.len() <= 3);
                    if let Some(u) = &e.user {
                        users.entry(u.clone()).or_default().insert(id.clone());
                    }
                    for g in &e.groups {
                        groups.entry(g.clone()).or_default().insert(id.clone());
                    }
                }
                prop_assert_eq!(&r.users, &users);
                prop_assert_eq!(&r.groups, &groups);
                let all = r.targets(&Target::All { excluded: vec![] });
                prop_assert_eq!(all.len(), r.connection_count());
            }
        }
    }
}
