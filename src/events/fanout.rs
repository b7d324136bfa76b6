//! One resolution per audit fan-out: live subscriptions that would receive the same bytes share a
//! group. The group holds the environment's one broadcast receiver, renders each entry once and
//! hands the same payload (`Arc<str>`) to every member; each member's socket frames it with its
//! own subscription id.
//!
//! Exactly once, in order, per member: every member knows the newest sequence it has (`last`).
//! The group skips entries at or below it and delivers the rest without waiting (`try_send`), the
//! entries that arrived together as one delivery (a [`Batch`]): under a burst, a member costs one
//! queue push per batch rather than one per entry. A
//! member whose socket falls behind its buffer, or that starts from a cursor (`after`), is served
//! alone from the table (`solo`) until it has read everything committed, then asks to join again
//! with its `last`: the group admits it when nothing lies between (it hands over the recent
//! entries it still holds), or sends it back to the table for the rest.
//!
//! Groups run on the subscription runtime (`subscription_runtime.rs`), beside their members'
//! socket writers, so offering an entry to 10,000 members wakes 10,000 writers there and takes
//! nothing from request handling. What touches the database or the schema (starting, catching
//! up, rendering, serving a member alone) runs on the hub's home runtime (`AuditHub::at_home`).
//!
//! What a group renders and who may join it is decided outside `events/`: the key names the
//! environment and the subscription's shape, and whoever builds a [`Membership`] has checked the
//! viewer may see that environment's entries.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::hub::{AuditHub, READ_BATCH};
use crate::db::repo;
use crate::domain::model::AuditEntry;
use crate::domain::DomainError;

/// Recent payloads a group keeps, so a member that has just caught up from the table joins
/// without a second read.
const RECENT: usize = 256;
/// Entries one delivery carries at most: a socket writes one batch's frames in one go.
pub const BATCH_ENTRIES: usize = 16;
/// Wait before retrying after a failed read.
const RETRY: Duration = Duration::from_secs(1);

/// The payload members receive when an entry could not be rendered.
pub const RENDER_FAILED: &str = r#"{"data":null,"errors":[{"message":"internal error"}]}"#;

/// Renders one entry for one subscription shape: the serialized payload of its `next` message.
pub trait Render: Send + Sync + 'static {
    fn render(&self, entry: Arc<AuditEntry>) -> BoxFuture<'static, Arc<str>>;
}

/// What subscriptions of one group have in common: they receive the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub environment_id: String,
    /// The subscription's document, operation name and variables, canonically serialized.
    pub shape: String,
}

/// Consecutive entries rendered for a group, oldest first: one allocation shared by every member
/// that receives them.
pub struct Batch {
    entries: Vec<(i64, Arc<str>)>,
}

impl Batch {
    /// The batch of `entries` (consecutive, oldest first, at most [`BATCH_ENTRIES`]).
    fn new(entries: Vec<(i64, Arc<str>)>) -> Arc<Self> {
        debug_assert!(entries.len() <= BATCH_ENTRIES);
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Arc::new(Batch { entries })
    }

    /// `entries` (consecutive, oldest first) as batches of at most [`BATCH_ENTRIES`].
    fn all_of(
        entries: impl IntoIterator<Item = (i64, Arc<str>)>,
    ) -> impl Iterator<Item = Arc<Self>> {
        let mut entries = entries.into_iter().peekable();
        std::iter::from_fn(move || {
            entries.peek()?;
            Some(Batch::new(entries.by_ref().take(BATCH_ENTRIES).collect()))
        })
    }

    /// Where the entries after `sequence` start.
    fn after(&self, sequence: i64) -> usize {
        self.entries.partition_point(|(s, _)| *s <= sequence)
    }
}

/// Entries for one member, as its socket's writer receives them.
pub struct Delivery {
    /// The member (a subscription id can be reused after `complete`; this cannot). The socket
    /// knows its members' subscription ids: a delivery stays small (three words), and every
    /// socket holds a queue of them.
    pub member: u64,
    batch: Arc<Batch>,
    /// The first entry of `batch` this member does not have yet.
    from: u32,
}

impl Delivery {
    /// The payloads this member receives, oldest first (at least one).
    pub fn payloads(&self) -> impl Iterator<Item = &str> {
        self.batch.entries[self.from as usize..]
            .iter()
            .map(|(_, payload)| &**payload)
    }

    /// How many entries it carries.
    pub fn entry_count(&self) -> usize {
        self.batch.entries.len() - self.from as usize
    }
}

/// A subscription to be served by its group.
pub struct Membership {
    pub key: Arc<GroupKey>,
    /// The socket's queue of deliveries (bounded: a full queue sends the member to the table;
    /// a delivery holds up to [`BATCH_ENTRIES`] entries, whose payloads all members share).
    pub sink: mpsc::Sender<Delivery>,
    /// Cancelled when the client completes the subscription or the socket ends.
    pub cancel: CancellationToken,
    pub render: Arc<dyn Render>,
}

/// A member, wherever it is served (in its group or alone from the table).
struct Member {
    id: u64,
    sink: mpsc::Sender<Delivery>,
    cancel: CancellationToken,
    render: Arc<dyn Render>,
    key: Arc<GroupKey>,
    /// The newest sequence the member has: it never receives this one or an older one again.
    last: i64,
    _counted: Counted,
}

/// Counts live members for `/metrics` while it exists.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum Control {
    /// Admit the member; `from` is the newest sequence it has (`None`: it starts now).
    Join(Box<Member>, Option<i64>),
    Leave(u64),
}

/// The groups of one process.
#[derive(Default)]
pub(super) struct Groups {
    running: std::sync::Mutex<HashMap<Arc<GroupKey>, mpsc::UnboundedSender<Control>>>,
    members: Arc<AtomicUsize>,
    next_member: AtomicU64,
}

impl Groups {
    pub(super) fn count(&self) -> usize {
        self.running.lock().map(|g| g.len()).unwrap_or(0)
    }

    fn forget(&self, key: &GroupKey) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(key);
        }
    }

    pub(super) fn members(&self) -> usize {
        self.members.load(Ordering::Relaxed)
    }
}

impl AuditHub {
    /// Serves a subscription from its group: from now on, or after the sequence `after` (first
    /// alone from the table, then in the group). Returns the member's id, for [`Self::leave`].
    pub fn fan_out(&self, membership: Membership, after: Option<i64>) -> u64 {
        let groups = self.groups();
        groups.members.fetch_add(1, Ordering::Relaxed);
        let id = groups.next_member.fetch_add(1, Ordering::Relaxed);
        let member = Member {
            id,
            sink: membership.sink,
            cancel: membership.cancel,
            render: membership.render,
            key: membership.key,
            last: after.unwrap_or(i64::MIN),
            _counted: Counted(groups.members.clone()),
        };
        match after {
            Some(_) => self.serve_alone(member),
            None => self.join(member, None),
        }
        id
    }

    /// Removes a cancelled member from its group now rather than at the group's next entry.
    pub fn leave(&self, key: &GroupKey, member: u64) {
        if let Ok(running) = self.groups().running.lock() {
            if let Some(group) = running.get(key) {
                let _ = group.send(Control::Leave(member));
            }
        }
    }

    /// How many groups this process runs.
    pub fn fanout_groups(&self) -> usize {
        self.groups().count()
    }

    fn join(&self, member: Member, from: Option<i64>) {
        let Ok(mut running) = self.groups().running.lock() else {
            return;
        };
        let key = member.key.clone();
        let render = member.render.clone();
        let mut control = Control::Join(Box::new(member), from);
        if let Some(group) = running.get(&key) {
            // A group removes itself under this lock, so a send that succeeds is received.
            match group.send(control) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => control = back,
            }
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let _ = sender.send(control);
        running.insert(key.clone(), sender);
        self.tasks()
            .spawn_on(self.lane(), run_group(self.clone(), key, render, receiver));
    }

    fn serve_alone(&self, member: Member) {
        // At home, whoever asks (a group on the lane sends behind members here): reading and
        // rendering for one member is database and GraphQL work.
        self.tasks()
            .spawn_on(self.home(), solo(self.clone(), member));
    }
}

/// The state of one running group.
struct Group {
    hub: AuditHub,
    key: Arc<GroupKey>,
    render: Arc<dyn Render>,
    members: Vec<Member>,
    /// The newest sequence the group has delivered (or started after).
    last: i64,
    /// Payloads of the newest entries: together they are every entry in `(floor, last]`.
    recent: VecDeque<(i64, Arc<str>)>,
    floor: i64,
}

async fn run_group(
    hub: AuditHub,
    key: Arc<GroupKey>,
    render: Arc<dyn Render>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let shutdown = hub.shutdown().clone();
    let Some((mut receiver, first)) = start(&hub, &key.environment_id, &shutdown).await else {
        hub.groups().forget(&key);
        return;
    };
    let mut group = Group {
        hub: hub.clone(),
        key,
        render,
        members: Vec::new(),
        last: first,
        recent: VecDeque::new(),
        floor: first,
    };
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            message = control.recv() => match message {
                Some(message) => group.control(message),
                None => break,
            },
            next = receiver.recv() => match next {
                Ok(entry) => {
                    // Whatever else is already broadcast goes with it: one trip home to render
                    // them all, however far the writers on this runtime are behind.
                    let mut entries = vec![entry];
                    let mut lagged = false;
                    loop {
                        match receiver.try_recv() {
                            Ok(entry) => entries.push(entry),
                            Err(TryRecvError::Lagged(_)) => {
                                lagged = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    group.deliver(entries).await;
                    if lagged {
                        hub.note_catch_up();
                        group.catch_up(&shutdown).await;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "audit group lagged; catching up from the table");
                    hub.note_catch_up();
                    group.catch_up(&shutdown).await;
                }
                Err(RecvError::Closed) => {
                    let Some((again, _)) = start(&hub, &group.key.environment_id, &shutdown).await else {
                        break;
                    };
                    receiver = again;
                    group.catch_up(&shutdown).await;
                }
            },
        }
        if group.members.is_empty() && group.retire(&mut control) {
            return;
        }
    }
    hub.groups().forget(&group.key);
}

/// Subscribes to the environment's broadcast, then reads where the table ends: entries after it
/// are broadcast to the receiver (retrying until the database answers or the server stops).
async fn start(
    hub: &AuditHub,
    environment_id: &str,
    shutdown: &CancellationToken,
) -> Option<(broadcast::Receiver<Arc<AuditEntry>>, i64)> {
    loop {
        let (home, environment) = (hub.clone(), environment_id.to_owned());
        let attempt = hub.at_home(async move {
            let receiver = home.subscribe(&environment).await?;
            let start = repo::audit::max_sequence(home.db(), &environment).await?;
            Ok::<_, DomainError>((receiver, start))
        });
        match attempt.await {
            Some(Ok(started)) => return Some(started),
            None => return None,
            Some(Err(err)) => {
                tracing::warn!(environment_id, error.cause_chain = ?err, "audit group could not start; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => {}
                    _ = shutdown.cancelled() => return None,
                }
            }
        }
    }
}

impl Group {
    fn control(&mut self, message: Control) {
        match message {
            Control::Join(member, from) => self.admit(*member, from),
            Control::Leave(id) => self.members.retain(|m| m.id != id),
        }
    }

    /// Admits a member that has every entry up to `from` (`None`: one that starts now).
    fn admit(&mut self, mut member: Member, from: Option<i64>) {
        if member.cancel.is_cancelled() {
            return;
        }
        // Members render alike: one renderer for all (the member's own is dropped).
        member.render = self.render.clone();
        let from = from.unwrap_or(self.last);
        if from < self.floor {
            // Entries between `from` and what the group still holds: read them from the table.
            self.hub.serve_alone(member);
            return;
        }
        member.last = from;
        let missed = self.recent.iter().filter(|(sequence, _)| *sequence > from);
        for batch in Batch::all_of(missed.cloned()) {
            match offer(&mut member, &batch) {
                Offer::Taken => {}
                Offer::Full => return self.hub.serve_alone(member),
                Offer::Gone => return,
            }
        }
        self.members.push(member);
    }

    /// Renders each new entry once (at home, all in one trip) and offers it to every member that
    /// does not have it yet, in order.
    async fn deliver(&mut self, entries: Vec<Arc<AuditEntry>>) {
        let entries: Vec<Arc<AuditEntry>> = entries
            .into_iter()
            .filter(|entry| entry.sequence > self.last)
            .collect();
        if entries.is_empty() {
            return;
        }
        let sequences: Vec<i64> = entries.iter().map(|entry| entry.sequence).collect();
        let render = self.render.clone();
        let rendered = self.hub.at_home(async move {
            let mut payloads = Vec::with_capacity(entries.len());
            for entry in entries {
                payloads.push(render.render(entry).await);
            }
            payloads
        });
        let payloads = match rendered.await {
            Some(payloads) => payloads,
            None => vec![Arc::from(RENDER_FAILED); sequences.len()],
        };
        for batch in Batch::all_of(sequences.into_iter().zip(payloads)) {
            self.offer_to_all(batch);
        }
    }

    fn offer_to_all(&mut self, batch: Arc<Batch>) {
        for (sequence, payload) in &batch.entries {
            self.last = *sequence;
            self.recent.push_back((*sequence, payload.clone()));
            if self.recent.len() > RECENT {
                if let Some((oldest, _)) = self.recent.pop_front() {
                    self.floor = oldest;
                }
            }
        }
        let mut index = 0;
        while index < self.members.len() {
            let member = &mut self.members[index];
            let outcome = if member.cancel.is_cancelled() {
                Offer::Gone
            } else {
                offer(member, &batch)
            };
            match outcome {
                Offer::Taken => index += 1,
                Offer::Gone => {
                    self.members.swap_remove(index);
                }
                Offer::Full => {
                    let member = self.members.swap_remove(index);
                    self.hub.note_catch_up();
                    self.hub.serve_alone(member);
                }
            }
        }
    }

    /// Reads what the broadcast skipped from the table, delivering it in order.
    async fn catch_up(&mut self, shutdown: &CancellationToken) {
        loop {
            let (db, environment, last) = (
                self.hub.db().clone(),
                self.key.environment_id.clone(),
                self.last,
            );
            let read = self.hub.at_home(async move {
                repo::audit::after(&db, &environment, last, READ_BATCH).await
            });
            let rows = tokio::select! {
                rows = read => match rows {
                    Some(rows) => rows,
                    None => return,
                },
                _ = shutdown.cancelled() => return,
            };
            match rows {
                Ok(rows) => {
                    let full = rows.len() as u64 == READ_BATCH;
                    self.deliver(rows.into_iter().map(Arc::new).collect()).await;
                    if !full {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, "audit group catch-up failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Ends the group when it has no members and no one is joining (decided under the lock that
    /// joiners take, so no join is lost); otherwise admits the joiners and keeps going.
    fn retire(&mut self, control: &mut mpsc::UnboundedReceiver<Control>) -> bool {
        let groups = self.hub.groups();
        let Ok(mut running) = groups.running.lock() else {
            return false;
        };
        let mut pending = Vec::new();
        while let Ok(message) = control.try_recv() {
            pending.push(message);
        }
        if pending.is_empty() {
            running.remove(&self.key);
            return true;
        }
        drop(running);
        for message in pending {
            self.control(message);
        }
        false
    }
}

enum Offer {
    Taken,
    /// The member's socket is behind: it continues from the table.
    Full,
    /// The socket is gone.
    Gone,
}

/// Offers the member the entries of `batch` it does not have yet, if any.
fn offer(member: &mut Member, batch: &Arc<Batch>) -> Offer {
    let from = batch.after(member.last);
    let Some(&(newest, _)) = batch.entries.last() else {
        return Offer::Taken;
    };
    if from == batch.entries.len() {
        return Offer::Taken;
    }
    let delivery = Delivery {
        member: member.id,
        batch: batch.clone(),
        // At most `BATCH_ENTRIES`.
        from: from as u32,
    };
    match member.sink.try_send(delivery) {
        Ok(()) => {
            member.last = newest;
            Offer::Taken
        }
        Err(mpsc::error::TrySendError::Full(_)) => Offer::Full,
        Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
    }
}

/// Serves one member from the table (rendering each entry for it alone, waiting for its socket),
/// until it has read everything committed; then it joins its group.
async fn solo(hub: AuditHub, mut member: Member) {
    let shutdown = hub.shutdown().clone();
    loop {
        let rows = tokio::select! {
            rows = repo::audit::after(hub.db(), &member.key.environment_id, member.last, READ_BATCH) => rows,
            _ = member.cancel.cancelled() => return,
            _ = shutdown.cancelled() => return,
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "audit catch-up read failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => continue,
                    _ = member.cancel.cancelled() => return,
                    _ = shutdown.cancelled() => return,
                }
            }
        };
        let full = rows.len() as u64 == READ_BATCH;
        for row in rows {
            let sequence = row.sequence;
            let payload = member.render.render(Arc::new(row)).await;
            let delivery = Delivery {
                member: member.id,
                batch: Batch::new(vec![(sequence, payload)]),
                from: 0,
            };
            let sent = tokio::select! {
                sent = member.sink.send(delivery) => sent.is_ok(),
                _ = member.cancel.cancelled() => false,
                _ = shutdown.cancelled() => false,
            };
            if !sent {
                return;
            }
            member.last = sequence;
        }
        if !full {
            let from = member.last;
            hub.join(member, Some(from));
            return;
        }
    }
}

#[cfg(test)]
#[path = "fanout_tests.rs"]
mod tests;
