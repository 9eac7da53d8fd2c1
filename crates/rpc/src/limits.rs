//! Connection limits of the passive side, so that a few clients cannot exhaust a server.
//!
//! Every connection the listener accepts is counted from that moment on, under its client's
//! address (for IPv6 its /64 network, what one host usually has) and, once the transport has
//! authenticated it, under its identity. The accept loop never waits for a free place: each
//! connection is decided on when it arrives, so a newcomer never queues in the listen backlog
//! behind a flood, and admitted connections are served side by side, each in its own task.
//!
//! - One address holds at most [`ConnectionLimits::per_address`] connections and one identity at
//!   most [`ConnectionLimits::per_identity`]: one host, or one credential, cannot take the places
//!   of the others. At its cap, an address (identity) can only replace one of its own connections
//!   that has been waiting for longer than [`ConnectionLimits::idle_at_limit`].
//! - At most [`ConnectionLimits::max_connections`] are open at once. When the server is full, a
//!   newcomer takes the place of a *waiting* connection (one that has not yet greeted or
//!   authenticated, or waits for its next request): preferably one that has waited for longer
//!   than `idle_at_limit`, from the address holding the most connections; otherwise one of an
//!   address holding at least two connections more than the newcomer's, which makes the shares
//!   more even. Failing both, the newcomer is refused and its client retries later, as after any
//!   temporary error.
//! - A connection that is serving a request (a stream included) is never closed for another.
//!
//! A connection that is chosen to make room is told through [`Ticket::evicted`]; the server
//! closes it. The state changes go through one lock, so a connection that is chosen while it
//! starts serving a request learns it from [`Ticket::serving`] and drops the request unanswered.

use crate::identity::ClientIdentity;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How many connections a server keeps open, and for whom.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once, unauthenticated ones included.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 client: its /64 network).
    pub per_address: usize,
    /// Authenticated connections open at once for one client identity.
    pub per_identity: usize,
    /// A connection waiting this long (for its greeting, its authentication or its next
    /// request) is closed when its place is needed.
    pub idle_at_limit: Duration,
}

impl Default for ConnectionLimits {
    /// Room for eight hosts at their cap; a push or pull job uses one connection per running
    /// step and a few for its requests, far below a cap of 16.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 128,
            per_address: 16,
            per_identity: 16,
            idle_at_limit: Duration::from_secs(2),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client address holds its share already.
    Address(IpAddr, usize),
    /// The client identity holds its share already.
    Identity(ClientIdentity, usize),
    /// The server is full of connections that are busy or are the only ones of their address.
    Full(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Address(addr, cap) => {
                write!(f, "client address {addr} already holds {cap} connections")
            }
            Refusal::Identity(identity, cap) => {
                write!(
                    f,
                    "client identity {identity} already holds {cap} connections"
                )
            }
            Refusal::Full(max) => write!(f, "the server holds {max} connections, all in use"),
        }
    }
}

/// The key connections are counted under: the address, an IPv6 one cut to its /64 network.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not serving a request (greeting, authentication, or between requests) since then.
    Waiting(Instant),
    /// Serving a request.
    Serving,
    /// Chosen to make room; closing.
    Evicted,
}

struct Entry {
    address: Option<IpAddr>,
    identity: Option<ClientIdentity>,
    state: State,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<u64, Entry>,
    next_id: u64,
}

impl Registry {
    /// Open connections matching `which`, those closing not counted.
    fn count(&self, which: impl Fn(&Entry) -> bool) -> usize {
        self.entries
            .values()
            .filter(|e| e.state != State::Evicted && which(e))
            .count()
    }

    /// Chooses the connection that gives up its place to a newcomer from `address`: by the
    /// rules of the module documentation, among those matching `which`.
    fn make_room(
        &mut self,
        which: impl Fn(&Entry) -> bool,
        newcomer: Option<IpAddr>,
        limits: &ConnectionLimits,
        fairer_share: bool,
    ) -> bool {
        let now = Instant::now();
        let newcomer_holds = self.count(|e| e.address == newcomer);
        let mut held: HashMap<Option<IpAddr>, usize> = HashMap::new();
        for e in self.entries.values().filter(|e| e.state != State::Evicted) {
            *held.entry(e.address).or_default() += 1;
        }
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| which(e))
            .filter_map(|(id, e)| match e.state {
                State::Waiting(since) => {
                    let stale = now.duration_since(since) >= limits.idle_at_limit;
                    let holds = held.get(&e.address).copied().unwrap_or(0);
                    let evens_out = fairer_share && holds >= newcomer_holds + 2;
                    (stale || evens_out).then_some(((stale, holds, now - since), *id))
                }
                _ => None,
            })
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, id)| id);
        match victim.and_then(|id| self.entries.get_mut(&id)) {
            Some(entry) => {
                entry.state = State::Evicted;
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The server's count of its connections.
pub(crate) struct Admission {
    limits: ConnectionLimits,
    registry: Mutex<Registry>,
}

impl Admission {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            registry: Mutex::default(),
        })
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection just accepted from `address` (`None`: the transport has no address,
    /// e.g. a unix socket), making room for it if the server is full.
    pub(crate) fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Ticket, Refusal> {
        let address = address.map(address_key);
        let limits = &self.limits;
        let mut registry = self.registry();
        if let Some(addr) = address {
            let same = |e: &Entry| e.address == Some(addr);
            if registry.count(same) >= limits.per_address
                && !registry.make_room(same, address, limits, false)
            {
                return Err(Refusal::Address(addr, limits.per_address));
            }
        }
        if registry.count(|_| true) >= limits.max_connections.max(1)
            && !registry.make_room(|_| true, address, limits, true)
        {
            return Err(Refusal::Full(limits.max_connections));
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let evict = Arc::new(Notify::new());
        registry.entries.insert(
            id,
            Entry {
                address,
                identity: None,
                state: State::Waiting(Instant::now()),
                evict: evict.clone(),
            },
        );
        Ok(Ticket {
            admission: self.clone(),
            id,
            evict,
        })
    }
}

/// One admitted connection's place; dropping it frees the place.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    evict: Arc<Notify>,
}

impl Ticket {
    /// Counts the connection under the identity the transport established, if the identity has
    /// room for it.
    pub(crate) fn authenticated(&self, identity: &ClientIdentity) -> Result<(), Refusal> {
        let limits = &self.admission.limits;
        let mut registry = self.admission.registry();
        let address = registry.entries.get(&self.id).and_then(|e| e.address);
        let same = |e: &Entry| e.identity.as_ref() == Some(identity);
        if registry.count(same) >= limits.per_identity
            && !registry.make_room(same, address, limits, false)
        {
            return Err(Refusal::Identity(identity.clone(), limits.per_identity));
        }
        if let Some(entry) = registry.entries.get_mut(&self.id) {
            entry.identity = Some(identity.clone());
        }
        Ok(())
    }

    /// The connection starts waiting for its next request.
    pub(crate) fn waiting(&self) {
        self.set_state(State::Waiting(Instant::now()));
    }

    /// The connection starts serving a request; `false` if it was chosen to make room (the
    /// request must then be dropped unanswered).
    pub(crate) fn serving(&self) -> bool {
        self.set_state(State::Serving)
    }

    /// Completes when the connection was chosen to make room for another.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await
    }

    /// Moves to `state` unless the connection is closing; `false` if it is.
    fn set_state(&self, state: State) -> bool {
        let mut registry = self.admission.registry();
        match registry.entries.get_mut(&self.id) {
            Some(entry) if entry.state != State::Evicted => {
                entry.state = state;
                true
            }
            _ => false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.registry().entries.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 6,
            per_address: 3,
            per_identity: 2,
            idle_at_limit: Duration::from_secs(2),
        }
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    /// Whether `ticket`'s connection was chosen to make room (without changing its state).
    fn closing(ticket: &Ticket) -> bool {
        let registry = ticket.admission.registry();
        registry.entries[&ticket.id].state == State::Evicted
    }

    fn id(name: &str) -> ClientIdentity {
        ClientIdentity::new(name).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_at_its_cap_is_refused_while_others_are_admitted() {
        let admission = Admission::new(limits());
        let _held: Vec<_> = (0..3).map(|_| admission.admit(ip(1)).unwrap()).collect();
        assert!(matches!(
            admission.admit(ip(1)),
            Err(Refusal::Address(_, 3))
        ));
        assert!(admission.admit(ip(2)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_at_its_cap_replaces_its_own_stale_connection() {
        let admission = Admission::new(limits());
        let held: Vec<_> = (0..3).map(|_| admission.admit(ip(1)).unwrap()).collect();
        held[1].serving();
        held[2].serving();
        tokio::time::advance(Duration::from_secs(3)).await;
        let _newcomer = admission.admit(ip(1)).expect("takes the stale place");
        tokio::time::timeout(Duration::from_millis(1), held[0].evicted())
            .await
            .expect("the waiting connection is told to close");
        assert!(!held[0].serving(), "a closing connection serves nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_server_closes_a_stale_connection_of_the_heaviest_address() {
        let admission = Admission::new(ConnectionLimits {
            per_address: 4,
            ..limits()
        });
        let light: Vec<_> = (0..2).map(|_| admission.admit(ip(2)).unwrap()).collect();
        tokio::time::advance(Duration::from_secs(1)).await;
        let heavy: Vec<_> = (0..4).map(|_| admission.admit(ip(1)).unwrap()).collect();
        tokio::time::advance(Duration::from_secs(3)).await;
        let _newcomer = admission.admit(ip(3)).expect("room is made");
        assert_eq!(heavy.iter().filter(|t| closing(t)).count(), 1);
        assert_eq!(light.iter().filter(|t| closing(t)).count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_connections_are_never_closed_for_a_newcomer() {
        let admission = Admission::new(limits());
        let busy: Vec<_> = [1, 1, 2, 2, 3, 3]
            .into_iter()
            .map(|last| admission.admit(ip(last)).unwrap())
            .collect();
        busy.iter().for_each(|t| assert!(t.serving()));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(admission.admit(ip(4)).err(), Some(Refusal::Full(6)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_server_evens_out_shares_before_waiting_connections_go_stale() {
        let admission = Admission::new(ConnectionLimits {
            per_address: 6,
            ..limits()
        });
        let flood: Vec<_> = (0..6).map(|_| admission.admit(ip(1)).unwrap()).collect();
        let _newcomer = admission
            .admit(ip(2))
            .expect("takes a place of the flooding address");
        assert_eq!(flood.iter().filter(|t| closing(t)).count(), 1);
        // Now 5 against 1: the newcomer's address is two below, the flood's keeps losing places.
        let _second = admission.admit(ip(2)).expect("still fairer");
        // 4 against 2 is the last move that evens out; 3 against 3 is even.
        let _third = admission.admit(ip(2)).expect("even");
        assert_eq!(flood.iter().filter(|t| closing(t)).count(), 3);
        assert_eq!(admission.admit(ip(2)).err(), Some(Refusal::Full(6)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_identity_at_its_cap_is_refused() {
        let admission = Admission::new(limits());
        let a = admission.admit(ip(1)).unwrap();
        let b = admission.admit(ip(2)).unwrap();
        let c = admission.admit(ip(3)).unwrap();
        a.authenticated(&id("mallory")).unwrap();
        b.authenticated(&id("mallory")).unwrap();
        assert!(a.serving() && b.serving());
        assert_eq!(
            c.authenticated(&id("mallory")),
            Err(Refusal::Identity(id("mallory"), 2))
        );
        assert!(c.authenticated(&id("laptop")).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_connection_frees_its_place() {
        let admission = Admission::new(limits());
        let held: Vec<_> = (0..3).map(|_| admission.admit(ip(1)).unwrap()).collect();
        drop(held);
        assert!(admission.admit(ip(1)).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), IpAddr::from([10, 0, 0, 1]));
    }
}
