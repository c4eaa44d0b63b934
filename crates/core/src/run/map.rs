//! The rules of a mapped task (`map:`), pure: its list expanded into items when it becomes
//! ready, which items to start given `parallel` and the failures so far, when the task is
//! done and in which state, which items a recover runs again, and the outputs list its
//! downstream tasks see. The engine keeps each item as its own task instance and asks these
//! functions; it decides nothing about items itself.

use crate::spec::{MapFailure, MapSpec, Over};
use crate::state::TaskState;
use std::collections::BTreeMap;

/// Why a master refuses to run a mapped task as one plain task when it cannot run its items
/// (the attempt fails with this message, never silently runs once).
pub const NOT_RUN_BY_THIS_MASTER: &str =
    "this task has `map:` (one task per item), which this master does not run yet: the task fails instead of running once";

/// One item of a mapped task's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item as the list holds it.
    pub value: serde_json::Value,
    /// What `${as}` is inside the item's task: a string item itself, any other its JSON text.
    pub text: String,
}

/// A list a mapped task cannot go over; the message says which param and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The value is not JSON.
    #[error(
        "map.over: `${{{param}}}` is not a JSON list ({error}); its value starts with `{start}`"
    )]
    NotJson {
        /// The param `over` refers to.
        param: String,
        /// What the JSON reader said.
        error: String,
        /// The first characters of the value, for the reader of the message.
        start: String,
    },
    /// The value is JSON but not a list.
    #[error("map.over: `${{{param}}}` is {found}, not a JSON list")]
    NotAList {
        /// The param `over` refers to.
        param: String,
        /// What it is instead (`an object`, `a number`, …).
        found: &'static str,
    },
    /// The cross product of the lists has more combinations than `max_items` allows.
    #[error("map.over: the cross product of {lists} has {count} items, more than this task's limit of {limit} (map.max_items)")]
    ProductTooLarge {
        /// The lists, as `${a} × ${b}`.
        lists: String,
        /// How many combinations they make (saturating).
        count: u128,
        /// `max_items`.
        limit: u32,
    },
    /// The list has more items than `max_items` allows.
    #[error("map.over: `${{{param}}}` has {count} items, more than this task's limit of {limit} (map.max_items)")]
    TooLong {
        /// The param `over` refers to.
        param: String,
        /// How many items it has.
        count: usize,
        /// `max_items`.
        limit: u32,
    },
}

/// How many characters of a bad value a message shows.
const SHOWN: usize = 40;

/// The items of `list` (the resolved value of a one-list `over`, or the list a product
/// made, as the task's row keeps it), or why there are none to run.
pub fn expand(spec: &MapSpec, list: &str) -> Result<Vec<Item>, ExpandError> {
    let param = spec.over_param().to_string();
    let values = json_list(&param, list)?;
    if values.len() > spec.max_items as usize {
        return Err(ExpandError::TooLong {
            param,
            count: values.len(),
            limit: spec.max_items,
        });
    }
    Ok(values.into_iter().map(item).collect())
}

/// `list` read as a JSON list; the errors name `param`, the list's reference.
fn json_list(param: &str, list: &str) -> Result<Vec<serde_json::Value>, ExpandError> {
    let value: serde_json::Value =
        serde_json::from_str(list).map_err(|e| ExpandError::NotJson {
            param: param.to_string(),
            error: e.to_string(),
            start: list.chars().take(SHOWN).collect(),
        })?;
    match value {
        serde_json::Value::Array(values) => Ok(values),
        other => Err(ExpandError::NotAList {
            param: param.to_string(),
            found: json_kind(&other),
        }),
    }
}

/// The list of a cross product (`over: {name: ${list}, …}`): `resolved` holds each name
/// with its list's value, in the order of the names; the result is a JSON list of objects,
/// one per combination, the last name's list changing fastest. Refused, before any is
/// made, when there would be more than `max_items`.
pub fn product(spec: &MapSpec, resolved: &[(String, String)]) -> Result<String, ExpandError> {
    let references = spec.over.references();
    let mut lists = Vec::with_capacity(resolved.len());
    for (name, value) in resolved {
        let reference = references
            .iter()
            .find(|(n, _)| *n == Some(name.as_str()))
            .map_or(name.as_str(), |(_, r)| crate::spec::map_reference(r));
        lists.push((name.as_str(), json_list(reference, value)?));
    }
    let count = lists
        .iter()
        .fold(1u128, |n, (_, l)| n.saturating_mul(l.len() as u128));
    if count > u128::from(spec.max_items) {
        let lists = references
            .iter()
            .map(|(_, r)| r.trim())
            .collect::<Vec<_>>()
            .join(" × ");
        return Err(ExpandError::ProductTooLarge {
            lists,
            count,
            limit: spec.max_items,
        });
    }
    let mut combinations = vec![serde_json::Map::new()];
    for (name, list) in &lists {
        combinations = combinations
            .into_iter()
            .flat_map(|c| {
                list.iter().map(move |v| {
                    let mut next = c.clone();
                    next.insert(name.to_string(), v.clone());
                    next
                })
            })
            .collect();
    }
    let list: Vec<serde_json::Value> = combinations.into_iter().map(Into::into).collect();
    Ok(serde_json::Value::Array(list).to_string())
}

fn item(value: serde_json::Value) -> Item {
    let text = match &value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Item { value, text }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// What the rules of a mapped task's items need of its definition: how many may run at
/// once and what a failure does to the others. A `map:` gives both; a broadcast task has
/// its own ([`crate::run::broadcast::rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRules {
    /// At most this many items at once (none: as many as worker slots allow).
    pub parallel: Option<u32>,
    /// What a failed item does to the others.
    pub failure: MapFailure,
}

impl MapSpec {
    /// The rules its items run under.
    pub fn rules(&self) -> ItemRules {
        ItemRules {
            parallel: self.parallel,
            failure: self.failure,
        }
    }
}

/// The params an item's task sees for its item, bound above every other source of params,
/// so that no workflow or start-time param can hide them: `(as, text)` over one list; over
/// a product each name with its element (a string itself, any other its JSON text), and
/// `as` (if given) with the whole combination.
pub fn binding(spec: &MapSpec, item: &Item) -> Vec<(String, String)> {
    let whole = spec
        .item
        .iter()
        .map(|name| (name.clone(), item.text.clone()));
    let parts: Vec<(String, String)> = match (&spec.over, &item.value) {
        (Over::Product(_), serde_json::Value::Object(fields)) => fields
            .iter()
            .map(|(name, v)| (name.clone(), self::item(v.clone()).text))
            .collect(),
        _ => Vec::new(),
    };
    whole.chain(parts).collect()
}

/// Where one item stands, as the rules of a mapped task see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Not started yet (waiting for room under `parallel`).
    Waiting,
    /// Started and not ended: queued, running, waiting for a retry, held by a pause.
    Active,
    /// Ended well.
    Succeeded,
    /// Ended badly after its retries.
    Failed,
    /// Killed (a stop, the instance's failure strategy) or not run.
    Killed,
}

impl From<TaskState> for ItemState {
    /// An item's task instance state, once it has one.
    fn from(state: TaskState) -> Self {
        match state {
            TaskState::Submitted
            | TaskState::Dispatched
            | TaskState::Running
            | TaskState::RetryWait
            | TaskState::Paused
            | TaskState::NeedFailover => ItemState::Active,
            TaskState::Succeeded => ItemState::Succeeded,
            TaskState::Failed => ItemState::Failed,
            TaskState::Killed | TaskState::Skipped => ItemState::Killed,
        }
    }
}

fn count(items: &[ItemState], state: ItemState) -> usize {
    items.iter().filter(|s| **s == state).count()
}

/// The items to start now, in list order: waiting ones, as many as `parallel` leaves room
/// for beside the active ones; none after a failure under `failure: end`.
pub fn to_start(spec: &ItemRules, items: &[ItemState]) -> Vec<usize> {
    if spec.failure == MapFailure::End && count(items, ItemState::Failed) > 0 {
        return Vec::new();
    }
    let room = match spec.parallel {
        Some(parallel) => (parallel as usize).saturating_sub(count(items, ItemState::Active)),
        None => usize::MAX,
    };
    items
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == ItemState::Waiting)
        .map(|(i, _)| i)
        .take(room)
        .collect()
}

/// How a mapped task ended, with what its message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapOutcome {
    /// Every item succeeded (an empty list too).
    Succeeded {
        /// How many items there were.
        items: usize,
    },
    /// Some item failed.
    Failed {
        /// The failed items' indexes, in order.
        failed: Vec<usize>,
        /// How many items there were.
        items: usize,
        /// Items never started because of `failure: end`.
        not_started: usize,
    },
    /// No item failed, but some were killed (a stop).
    Killed {
        /// How many.
        killed: usize,
        /// How many items there were.
        items: usize,
    },
}

/// The most failed items a message names one by one.
const NAMED: usize = 10;

impl MapOutcome {
    /// The mapped task's state.
    pub fn state(&self) -> TaskState {
        match self {
            MapOutcome::Succeeded { .. } => TaskState::Succeeded,
            MapOutcome::Failed { .. } => TaskState::Failed,
            MapOutcome::Killed { .. } => TaskState::Killed,
        }
    }

    /// The mapped task's message, for people.
    pub fn message(&self) -> String {
        self.message_naming(|i| i.to_string())
    }

    /// The message, each failed item named by `name` (its index for a `map:`, its worker
    /// for a broadcast) inside brackets.
    pub fn message_naming(&self, name: impl Fn(usize) -> String) -> String {
        match self {
            MapOutcome::Succeeded { items: 0 } => "the list is empty: no items to run".into(),
            MapOutcome::Succeeded { items } => format!("all {items} items succeeded"),
            MapOutcome::Failed {
                failed,
                items,
                not_started,
            } => {
                let mut named: Vec<String> = failed
                    .iter()
                    .take(NAMED)
                    .map(|i| format!("[{}]", name(*i)))
                    .collect();
                if failed.len() > NAMED {
                    named.push(format!("and {} more", failed.len() - NAMED));
                }
                let mut text = format!(
                    "{} of {items} items failed: {}",
                    failed.len(),
                    named.join(", ")
                );
                if *not_started > 0 {
                    text.push_str(&format!(
                        "; {not_started} not started after the first failure (failure: end)"
                    ));
                }
                text
            }
            MapOutcome::Killed { killed, items } => format!("{killed} of {items} items killed"),
        }
    }
}

/// How the mapped task ended, once it has: no item active, and none left that may start.
pub fn outcome(spec: &ItemRules, items: &[ItemState]) -> Option<MapOutcome> {
    if count(items, ItemState::Active) > 0 {
        return None;
    }
    let failed: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == ItemState::Failed)
        .map(|(i, _)| i)
        .collect();
    let waiting = count(items, ItemState::Waiting);
    let stopped = spec.failure == MapFailure::End && !failed.is_empty();
    if waiting > 0 && !stopped {
        return None;
    }
    let total = items.len();
    if !failed.is_empty() {
        return Some(MapOutcome::Failed {
            failed,
            items: total,
            not_started: waiting,
        });
    }
    match count(items, ItemState::Killed) {
        0 => Some(MapOutcome::Succeeded { items: total }),
        killed => Some(MapOutcome::Killed {
            killed,
            items: total,
        }),
    }
}

/// The items a recover runs again: those that failed or were killed; the ones that
/// succeeded keep their outputs, the waiting ones start as room allows.
pub fn to_rerun(items: &[ItemState]) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, ItemState::Failed | ItemState::Killed))
        .map(|(i, _)| i)
        .collect()
}

/// The param downstream tasks read the items' outputs from: `${task.outputs}`.
pub fn outputs_param(task: &str) -> String {
    format!("{task}.outputs")
}

/// The value of [`outputs_param`]: a JSON list with one object per item, in list order, of
/// the output params the item set (an empty object for an item that set none).
pub fn outputs_list(items: &[BTreeMap<String, String>]) -> String {
    serde_json::Value::Array(
        items
            .iter()
            .map(|outputs| {
                serde_json::Value::Object(
                    outputs
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            })
            .collect(),
    )
    .to_string()
}

/// What the engine does next for a mapped task, after a change to its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapStep {
    /// Start these items (by index, in order).
    Start(Vec<usize>),
    /// The mapped task is done: set its state and message.
    Done(MapOutcome),
    /// Nothing now: items still run.
    Wait,
}

/// One mapped task of one instance: its items' states, held by the engine beside the
/// instance's [`crate::run::InstanceRun`] (where the mapped task is one active node), and
/// rebuilt from the item rows after a restart with [`MapRun::rebuild`]. It decides as
/// [`to_start`] and [`outcome`] say, from counts it keeps as items change, so that a step
/// after each item's end costs the same at 10 items and at 100,000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRun {
    spec: ItemRules,
    items: Vec<ItemState>,
    /// How many items are in each state (indexed by [`slot`]).
    tally: [usize; 5],
    /// No item before this one waits (items leave `Waiting` only, but for a recover).
    next_waiting: usize,
    /// A pause of the instance: no item starts until resumed (active ones are held by the
    /// attempt rules, as any task's).
    paused: bool,
}

/// Where an item state is counted in [`MapRun::tally`].
fn slot(state: ItemState) -> usize {
    match state {
        ItemState::Waiting => 0,
        ItemState::Active => 1,
        ItemState::Succeeded => 2,
        ItemState::Failed => 3,
        ItemState::Killed => 4,
    }
}

impl MapRun {
    /// A mapped task that just became ready, with its list expanded: every item waits.
    pub fn new(spec: ItemRules, items: usize) -> MapRun {
        MapRun::rebuild(spec, vec![ItemState::Waiting; items], false)
    }

    /// A mapped task's run from what the store holds: each item's state.
    pub fn rebuild(spec: ItemRules, items: Vec<ItemState>, paused: bool) -> MapRun {
        let mut tally = [0; 5];
        for item in &items {
            tally[slot(*item)] += 1;
        }
        MapRun {
            spec,
            items,
            tally,
            next_waiting: 0,
            paused,
        }
    }

    /// The instance paused: no item starts.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// The instance resumed: what to do now.
    pub fn resume(&mut self) -> MapStep {
        self.paused = false;
        self.step()
    }

    /// The items' states, in list order.
    pub fn items(&self) -> &[ItemState] {
        &self.items
    }

    fn count(&self, state: ItemState) -> usize {
        self.tally[slot(state)]
    }

    fn set(&mut self, index: usize, state: ItemState) {
        let Some(item) = self.items.get_mut(index) else {
            return;
        };
        self.tally[slot(*item)] -= 1;
        self.tally[slot(state)] += 1;
        *item = state;
        if state == ItemState::Waiting {
            self.next_waiting = self.next_waiting.min(index);
        }
    }

    /// What to do now: the items to start (recorded as active), or the task's end.
    pub fn step(&mut self) -> MapStep {
        if self.paused {
            return MapStep::Wait;
        }
        let start = self.take_startable();
        if !start.is_empty() {
            for i in &start {
                self.set(*i, ItemState::Active);
            }
            return MapStep::Start(start);
        }
        match self.outcome() {
            Some(done) => MapStep::Done(done),
            None => MapStep::Wait,
        }
    }

    /// As [`to_start`], from the counts: the waiting items from the first one on.
    fn take_startable(&mut self) -> Vec<usize> {
        let failed = self.count(ItemState::Failed) > 0;
        if self.spec.failure == MapFailure::End && failed {
            return Vec::new();
        }
        let room = match self.spec.parallel {
            Some(parallel) => (parallel as usize).saturating_sub(self.count(ItemState::Active)),
            None => usize::MAX,
        };
        let room = room.min(self.count(ItemState::Waiting));
        let mut start = Vec::with_capacity(room.min(1024));
        let mut i = self.next_waiting;
        while start.len() < room && i < self.items.len() {
            if self.items[i] == ItemState::Waiting {
                start.push(i);
            }
            i += 1;
        }
        self.next_waiting = i;
        start
    }

    /// As [`outcome`], from the counts (the failed items are looked for only at the end).
    fn outcome(&self) -> Option<MapOutcome> {
        if self.count(ItemState::Active) > 0 {
            return None;
        }
        let waiting = self.count(ItemState::Waiting);
        let failed = self.count(ItemState::Failed);
        let stopped = self.spec.failure == MapFailure::End && failed > 0;
        if waiting > 0 && !stopped {
            return None;
        }
        outcome(&self.spec, &self.items)
    }

    /// An item's task instance changed state (an end, a retry, a kill); then what to do.
    pub fn item_changed(&mut self, index: usize, state: TaskState) -> MapStep {
        self.record(index, state);
        self.step()
    }

    /// An item's task instance changed state, recorded without deciding yet: the engine
    /// learns of ends where it cannot act, and asks [`MapRun::step`] once it can.
    pub fn record(&mut self, index: usize, state: TaskState) {
        self.set(index, ItemState::from(state));
    }

    /// True while the instance's pause holds the items that have not started.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// How many items are active (started and not ended).
    pub fn active(&self) -> usize {
        self.count(ItemState::Active)
    }

    /// A stop: the items to kill (those active, which stay active until their kill is
    /// reported, so that the task ends only then); waiting ones will never start.
    pub fn stop(&mut self) -> Vec<usize> {
        for i in 0..self.items.len() {
            if self.items[i] == ItemState::Waiting {
                self.set(i, ItemState::Killed);
            }
        }
        self.indexes(ItemState::Active)
    }

    /// A recover of the ended mapped task: its failed and killed items wait again (the
    /// engine resets their rows), and the succeeded ones keep their outputs.
    pub fn recover(&mut self) -> Vec<usize> {
        let again = to_rerun(&self.items);
        for i in &again {
            self.set(*i, ItemState::Waiting);
        }
        again
    }

    fn indexes(&self, state: ItemState) -> Vec<usize> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == state)
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ItemState::{Active, Failed, Killed, Succeeded, Waiting};

    fn spec(parallel: Option<u32>, max_items: u32, failure: MapFailure) -> MapSpec {
        MapSpec {
            over: Over::List("${parts}".into()),
            item: Some("part".into()),
            parallel,
            max_items,
            failure,
        }
    }

    fn plain() -> MapSpec {
        spec(None, 10_000, MapFailure::End)
    }

    #[test]
    fn a_list_of_strings_and_values_expands_in_order() {
        let items = expand(&plain(), r#"["p1", 2, {"a": [1]}, null, "x y"]"#).unwrap();
        let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, vec!["p1", "2", r#"{"a":[1]}"#, "null", "x y"]);
        assert_eq!(items[1].value, serde_json::json!(2));
        assert_eq!(
            binding(&plain(), &items[0]),
            vec![("part".to_string(), "p1".to_string())]
        );
    }

    fn over_regions_and_days(max_items: u32, item: Option<&str>) -> MapSpec {
        let lists = [("region", "${regions}"), ("day", "${days}")];
        MapSpec {
            over: Over::Product(lists.map(|(n, r)| (n.into(), r.into())).into()),
            item: item.map(Into::into),
            ..spec(None, max_items, MapFailure::End)
        }
    }

    #[test]
    fn a_cross_product_has_one_item_per_combination_each_list_under_its_name() {
        let spec = over_regions_and_days(100, None);
        let resolved = [
            ("day".to_string(), r#"["mon", 2]"#.to_string()),
            ("region".to_string(), r#"["eu", "us", "ap"]"#.to_string()),
        ];
        let list = product(&spec, &resolved).unwrap();
        let items = expand(&spec, &list).unwrap();
        assert_eq!(items.len(), 6);
        assert_eq!(
            items[0].value,
            serde_json::json!({"day": "mon", "region": "eu"})
        );
        assert_eq!(
            items[1].value,
            serde_json::json!({"day": "mon", "region": "us"})
        );
        assert_eq!(
            items[3].value,
            serde_json::json!({"day": 2, "region": "eu"})
        );
        let mut bound = binding(&spec, &items[3]);
        bound.sort();
        assert_eq!(
            bound,
            vec![("day".into(), "2".into()), ("region".into(), "eu".into())]
        );
        let whole = binding(&over_regions_and_days(100, Some("combo")), &items[0]);
        assert_eq!(
            whole[0],
            ("combo".into(), r#"{"day":"mon","region":"eu"}"#.into())
        );
        assert_eq!(whole.len(), 3);
        let none = [("day".to_string(), "[]".to_string()), resolved[1].clone()];
        assert_eq!(
            product(&spec, &none).unwrap(),
            "[]",
            "an empty list: no combination"
        );
    }

    #[test]
    fn a_cross_product_too_large_or_of_a_non_list_is_refused_naming_it() {
        let resolved = [
            ("day".to_string(), "[1,2,3]".to_string()),
            ("region".to_string(), "[1,2]".to_string()),
        ];
        let e = product(&over_regions_and_days(5, None), &resolved)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "map.over: the cross product of ${days} × ${regions} has 6 items, more than this task's limit of 5 (map.max_items)"
        );
        let bad = [
            resolved[0].clone(),
            ("region".to_string(), r#"{"a":1}"#.to_string()),
        ];
        let e = product(&over_regions_and_days(50, None), &bad)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "map.over: `${regions}` is an object, not a JSON list");
    }

    #[test]
    fn an_empty_list_has_no_items_and_succeeds_at_once() {
        let items = expand(&plain(), " [] ").unwrap();
        assert!(items.is_empty());
        let done = outcome(&plain().rules(), &[]).unwrap();
        assert_eq!(done.state(), TaskState::Succeeded);
        assert_eq!(done.message(), "the list is empty: no items to run");
    }

    #[test]
    fn what_is_not_a_list_is_refused_saying_what_it_is() {
        let e = expand(&plain(), "p1,p2").unwrap_err().to_string();
        assert!(e.contains("`${parts}` is not a JSON list"), "{e}");
        assert!(e.contains("starts with `p1,p2`"), "{e}");
        let e = expand(&plain(), r#"{"a": 1}"#).unwrap_err().to_string();
        assert_eq!(e, "map.over: `${parts}` is an object, not a JSON list");
        let e = expand(&plain(), "7").unwrap_err().to_string();
        assert!(e.contains("is a number"), "{e}");
    }

    #[test]
    fn a_list_longer_than_max_items_is_refused_with_both_counts() {
        let e = expand(&spec(None, 3, MapFailure::End), "[1,2,3,4]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "map.over: `${parts}` has 4 items, more than this task's limit of 3 (map.max_items)"
        );
        assert_eq!(
            expand(&spec(None, 3, MapFailure::End), "[1,2,3]")
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn parallel_leaves_room_for_that_many_active_items() {
        let two = spec(Some(2), 100, MapFailure::End);
        assert_eq!(to_start(&two.rules(), &[Waiting; 5]), vec![0, 1]);
        assert_eq!(
            to_start(&two.rules(), &[Active, Succeeded, Waiting, Waiting]),
            vec![2]
        );
        assert!(to_start(&two.rules(), &[Active, Active, Waiting]).is_empty());
        assert_eq!(to_start(&plain().rules(), &[Waiting; 4]), vec![0, 1, 2, 3]);
    }

    #[test]
    fn end_starts_nothing_after_a_failure_and_fails_once_the_active_end() {
        let end = spec(Some(1), 100, MapFailure::End);
        let items = [Succeeded, Failed, Active, Waiting, Waiting];
        assert!(to_start(&end.rules(), &items).is_empty());
        assert_eq!(outcome(&end.rules(), &items), None, "an item still runs");
        let items = [Succeeded, Failed, Succeeded, Waiting, Waiting];
        let done = outcome(&end.rules(), &items).unwrap();
        assert_eq!(done.state(), TaskState::Failed);
        assert_eq!(
            done.message(),
            "1 of 5 items failed: [1]; 2 not started after the first failure (failure: end)"
        );
    }

    #[test]
    fn continue_runs_every_item_then_fails_if_any_failed() {
        let cont = spec(Some(1), 100, MapFailure::Continue);
        let items = [Failed, Waiting, Waiting];
        assert_eq!(to_start(&cont.rules(), &items), vec![1]);
        assert_eq!(outcome(&cont.rules(), &items), None);
        let done = outcome(&cont.rules(), &[Failed, Succeeded, Failed]).unwrap();
        assert_eq!(done.state(), TaskState::Failed);
        assert_eq!(done.message(), "2 of 3 items failed: [0], [2]");
    }

    #[test]
    fn many_failures_are_named_up_to_ten() {
        let items = vec![Failed; 12];
        let done = outcome(&plain().rules(), &items).unwrap();
        assert!(
            done.message().ends_with("[9], and 2 more"),
            "{}",
            done.message()
        );
    }

    #[test]
    fn all_succeeded_succeeds_and_a_stop_kills() {
        let done = outcome(&plain().rules(), &[Succeeded; 3]).unwrap();
        assert_eq!(
            (done.state(), done.message()),
            (TaskState::Succeeded, "all 3 items succeeded".to_string())
        );
        let done = outcome(&plain().rules(), &[Succeeded, Killed, Killed]).unwrap();
        assert_eq!(done.state(), TaskState::Killed);
        assert_eq!(done.message(), "2 of 3 items killed");
    }

    #[test]
    fn task_states_map_to_item_states() {
        assert_eq!(ItemState::from(TaskState::RetryWait), Active);
        assert_eq!(ItemState::from(TaskState::Paused), Active);
        assert_eq!(ItemState::from(TaskState::NeedFailover), Active);
        assert_eq!(ItemState::from(TaskState::Succeeded), Succeeded);
        assert_eq!(ItemState::from(TaskState::Failed), Failed);
        assert_eq!(ItemState::from(TaskState::Killed), Killed);
    }

    #[test]
    fn a_recover_reruns_only_failed_and_killed_items() {
        let items = [Succeeded, Failed, Killed, Succeeded, Waiting];
        assert_eq!(to_rerun(&items), vec![1, 2]);
        let mut after = items;
        for i in to_rerun(&items) {
            after[i] = Waiting;
        }
        assert_eq!(to_start(&plain().rules(), &after), vec![1, 2, 4]);
    }

    #[test]
    fn downstream_sees_the_outputs_as_a_json_list_in_item_order() {
        let a = BTreeMap::from([("rows".to_string(), "3".to_string())]);
        let list = outputs_list(&[a, BTreeMap::new()]);
        assert_eq!(list, r#"[{"rows":"3"},{}]"#);
        assert_eq!(outputs_param("load"), "load.outputs");
        let back: serde_json::Value = serde_json::from_str(&list).unwrap();
        assert_eq!(back[0]["rows"], "3");
    }

    #[test]
    fn a_map_run_keeps_parallel_items_going_until_all_end() {
        let mut run = MapRun::new(spec(Some(2), 100, MapFailure::End).rules(), 3);
        assert_eq!(run.step(), MapStep::Start(vec![0, 1]));
        assert_eq!(run.step(), MapStep::Wait, "started items are active");
        assert_eq!(
            run.item_changed(0, TaskState::RetryWait),
            MapStep::Wait,
            "a retry keeps its place"
        );
        assert_eq!(
            run.item_changed(1, TaskState::Succeeded),
            MapStep::Start(vec![2])
        );
        run.item_changed(0, TaskState::Succeeded);
        let done = run.item_changed(2, TaskState::Succeeded);
        assert_eq!(done, MapStep::Done(MapOutcome::Succeeded { items: 3 }));
    }

    #[test]
    fn an_empty_map_run_is_done_at_its_first_step() {
        let mut run = MapRun::new(plain().rules(), 0);
        assert_eq!(
            run.step(),
            MapStep::Done(MapOutcome::Succeeded { items: 0 })
        );
    }

    #[test]
    fn a_stop_kills_the_active_items_and_starts_no_other() {
        let mut run = MapRun::new(spec(Some(1), 100, MapFailure::Continue).rules(), 3);
        run.step();
        assert_eq!(run.stop(), vec![0]);
        assert_eq!(run.step(), MapStep::Wait, "until the kill is reported");
        assert_eq!(
            run.item_changed(0, TaskState::Killed),
            MapStep::Done(MapOutcome::Killed {
                killed: 3,
                items: 3
            })
        );
    }

    #[test]
    fn a_recover_of_a_failed_map_run_starts_only_the_failed_items() {
        let items = vec![Succeeded, Failed, Succeeded, Failed];
        let mut run = MapRun::rebuild(plain().rules(), items, false);
        assert!(matches!(
            run.step(),
            MapStep::Done(MapOutcome::Failed { .. })
        ));
        assert_eq!(run.recover(), vec![1, 3]);
        assert_eq!(run.step(), MapStep::Start(vec![1, 3]));
        run.item_changed(1, TaskState::Succeeded);
        let done = run.item_changed(3, TaskState::Succeeded);
        assert_eq!(done, MapStep::Done(MapOutcome::Succeeded { items: 4 }));
        assert_eq!(run.items(), &[Succeeded; 4]);
    }

    #[test]
    fn a_paused_map_run_starts_nothing_until_resumed() {
        let mut run = MapRun::new(spec(Some(1), 100, MapFailure::End).rules(), 2);
        assert_eq!(run.step(), MapStep::Start(vec![0]));
        run.pause();
        assert_eq!(run.item_changed(0, TaskState::Succeeded), MapStep::Wait);
        assert_eq!(run.resume(), MapStep::Start(vec![1]));
    }

    /// The reference the counted [`MapRun`] must agree with: the same decisions taken by
    /// [`to_start`] and [`outcome`] over the whole list each time.
    fn reference_step(spec: &MapSpec, items: &mut [ItemState]) -> MapStep {
        let start = to_start(&spec.rules(), items);
        if !start.is_empty() {
            for i in &start {
                items[*i] = ItemState::Active;
            }
            return MapStep::Start(start);
        }
        match outcome(&spec.rules(), items) {
            Some(done) => MapStep::Done(done),
            None => MapStep::Wait,
        }
    }

    proptest::proptest! {
        #[test]
        fn the_counted_run_decides_as_the_rules_over_the_whole_list(
            len in 0usize..40,
            parallel in proptest::option::of(1u32..6),
            cont in proptest::bool::ANY,
            events in proptest::collection::vec((0usize..40, 0u8..5), 0..120),
        ) {
            let failure = if cont { MapFailure::Continue } else { MapFailure::End };
            let spec = spec(parallel, 100, failure);
            let mut run = MapRun::new(spec.rules(), len);
            let mut items = vec![ItemState::Waiting; len];
            proptest::prop_assert_eq!(run.step(), reference_step(&spec, &mut items));
            for (index, what) in events {
                let state = match what {
                    0 => TaskState::Succeeded,
                    1 => TaskState::Failed,
                    2 => TaskState::Killed,
                    3 => TaskState::RetryWait,
                    _ => {
                        // A recover once the task is done.
                        if outcome(&spec.rules(), &items).is_some() {
                            let again = to_rerun(&items);
                            for i in &again {
                                items[*i] = ItemState::Waiting;
                            }
                            proptest::prop_assert_eq!(run.recover(), again);
                            proptest::prop_assert_eq!(run.step(), reference_step(&spec, &mut items));
                        }
                        continue;
                    }
                };
                // Only an active item's task instance changes state.
                if index >= len || items[index] != ItemState::Active {
                    continue;
                }
                items[index] = ItemState::from(state);
                proptest::prop_assert_eq!(
                    run.item_changed(index, state),
                    reference_step(&spec, &mut items)
                );
                proptest::prop_assert_eq!(run.items(), &items[..]);
            }
        }
    }
}
