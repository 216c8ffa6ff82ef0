//! The connection cap. Open connections are kept in accept order; at the cap a new connection
//! evicts the oldest one with no request in flight (idle, or still sending its first head), so
//! a flood of idle or slow sockets cannot lock real clients out. Only when every connection is
//! busy is the new one refused. The accept path takes the lock once per connection, never per
//! request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::activity::Activity;

pub struct Registry {
    max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Open connections not yet asked to close, oldest first.
    open: BTreeMap<u64, Arc<Activity>>,
}

/// What admitting a connection did.
#[derive(Debug, PartialEq, Eq)]
pub enum Admitted {
    /// There was room.
    Free,
    /// The oldest connection with nothing in flight was asked to close to make room.
    Evicted,
}

/// The cap is reached and every connection has a request in flight.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A connection's place under the cap, given up when dropped (the connection closed).
pub struct Registration {
    id: u64,
    registry: Arc<Registry>,
}

impl Registry {
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The map stays consistent whatever panicked while holding the lock: each step is one
        // insert or remove.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for a new connection, evicting the oldest idle one at the cap.
    pub fn admit(self: &Arc<Self>, activity: &Arc<Activity>) -> Result<(Registration, Admitted), Full> {
        let mut state = self.lock();
        let mut admitted = Admitted::Free;
        if state.open.len() >= self.max {
            let victim = state.open.iter().find(|(_, open)| open.in_flight() == 0).map(|(id, _)| *id).ok_or(Full)?;
            // Removed now, so the registry counts it gone: it closes within its grace period.
            if let Some(evicted) = state.open.remove(&victim) {
                evicted.evict();
            }
            admitted = Admitted::Evicted;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.open.insert(id, Arc::clone(activity));
        Ok((Registration { id, registry: Arc::clone(self) }, admitted))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().open.len()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_is_evicted() {
        let registry = Arc::new(Registry::new(3));
        let connections: Vec<Arc<Activity>> = (0..3).map(|_| Arc::new(Activity::new())).collect();
        let mut registrations = Vec::new();
        for connection in &connections {
            let (registration, admitted) = registry.admit(connection).unwrap();
            assert_eq!(admitted, Admitted::Free);
            registrations.push(registration);
        }
        // The oldest is busy: the next oldest goes.
        let busy = connections[0].begin();
        let (_fourth, admitted) = registry.admit(&Arc::new(Activity::new())).unwrap();
        assert_eq!(admitted, Admitted::Evicted);
        assert_eq!(registry.len(), 3);
        tokio::time::timeout(std::time::Duration::from_secs(1), connections[1].evicted()).await.expect("the oldest idle connection was asked to close");
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), connections[0].evicted()).await.is_err(), "the busy one stays");
        drop(busy);
    }

    #[test]
    fn when_every_connection_is_busy_the_new_one_is_refused() {
        let registry = Arc::new(Registry::new(2));
        let a = Arc::new(Activity::new());
        let b = Arc::new(Activity::new());
        let _ra = registry.admit(&a).unwrap();
        let rb = registry.admit(&b).unwrap();
        let _busy_a = a.begin();
        let _busy_b = b.begin();
        assert_eq!(registry.admit(&Arc::new(Activity::new())).err(), Some(Full));
        // A connection that closes makes room.
        drop(rb);
        assert_eq!(registry.admit(&Arc::new(Activity::new())).unwrap().1, Admitted::Free);
    }
}
