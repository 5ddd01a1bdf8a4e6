//! How many connections may be open: in all, and from one client address.
//!
//! A [`ConnectionLimits`] hands out a [`Connection`] per accepted socket and
//! takes it back when the connection ends; past either limit the socket is
//! closed at once, before it costs a task or a buffer. Plain counting, no
//! I/O, so it is tested on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The counts, shared by the accept loop and every open connection.
#[derive(Debug)]
pub struct ConnectionLimits {
    max: usize,
    per_client: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `server.max_connections` are open.
    Total,
    /// `server.max_connections_per_client` are open from this address.
    Client,
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct Connection {
    limits: Arc<ConnectionLimits>,
    client: IpAddr,
}

impl ConnectionLimits {
    /// At most `max` connections, and `per_client` from one address.
    pub fn new(max: usize, per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            per_client,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a connection from `client`, or why there is none.
    ///
    /// # Errors
    ///
    /// [`Refused`] naming the limit that is reached.
    pub fn open(self: &Arc<Self>, client: IpAddr) -> Result<Connection, Refused> {
        let mut open = self.open.lock().map_err(|_| Refused::Total)?;
        let (total, clients) = &mut *open;
        if *total >= self.max {
            return Err(Refused::Total);
        }
        let from_client = clients.entry(client).or_insert(0);
        if *from_client >= self.per_client {
            return Err(Refused::Client);
        }
        *from_client += 1;
        *total += 1;
        Ok(Connection {
            limits: self.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open_now(&self) -> usize {
        self.open.lock().map_or(0, |open| open.0)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Ok(mut open) = self.limits.open.lock() else {
            return;
        };
        let (total, clients) = &mut *open;
        *total -= 1;
        if let Some(count) = clients.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                clients.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_is_held_to_its_share_and_places_come_back() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = limits.open(a).unwrap();
        let _second = limits.open(a).unwrap();
        assert_eq!(limits.open(a).unwrap_err(), Refused::Client);
        let _third = limits.open(b).unwrap();
        assert_eq!(limits.open(b).unwrap_err(), Refused::Total);
        drop(first);
        assert_eq!(limits.open_now(), 2);
        assert!(limits.open(a).is_ok());
    }
}
