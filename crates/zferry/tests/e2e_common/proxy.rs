//! A TCP proxy between two hosts' daemons, for injecting connection faults: every connection to
//! its port is forwarded to the target, and the test can cut all live connections at once, or
//! arm a cut just before the next `end` frame of a data stream (all data delivered).
//!
//! It knows the protocol only as far as the frames go (docs/protocol.md): after the 16-byte
//! greeting, a frame is a kind byte and a big-endian u32 length, then the payload; `end` is
//! kind `0x05`. Plain TCP only (a TLS connection is opaque to it); [`Proxy::start_opaque`]
//! forwards any bytes (tls, ssh) and can only cut all connections.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Greeting length on the wire.
const GREETING: usize = 16;
/// Frame kind of the end of a data stream.
const END_FRAME: u8 = 0x05;

#[derive(Default)]
struct Shared {
    /// Live connections (client side, server side), for cutting.
    live: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Cut the connection that next carries an `end` frame towards the target, instead of
    /// forwarding it.
    cut_next_end: AtomicBool,
    /// Connections cut before their `end` frame.
    cut_before_end: AtomicU64,
    stopping: AtomicBool,
    /// Forward bytes as they come, without reading frames (tls, ssh).
    opaque: bool,
}

/// A running proxy on 127.0.0.1; stops accepting when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:`target`.
    pub fn start(target: u16) -> Proxy {
        Proxy::listen(target, Shared::default())
    }

    /// The same for a connection whose bytes are not zferry frames (tls, ssh): forwarded as
    /// they come; only [`Proxy::cut_all`] applies.
    pub fn start_opaque(target: u16) -> Proxy {
        Proxy::listen(
            target,
            Shared {
                opaque: true,
                ..Shared::default()
            },
        )
    }

    fn listen(target: u16, shared: Shared) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(shared);
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                forward(client, server, &accepting);
            }
        });
        Proxy { port, shared }
    }

    /// The port clients dial.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts every live connection (both directions, at once); returns how many.
    pub fn cut_all(&self) -> usize {
        let live = std::mem::take(&mut *self.shared.live.lock().expect("live"));
        for (a, b) in &live {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        live.len()
    }

    /// Arms a cut of the next connection that is about to deliver an `end` frame to the target.
    pub fn cut_before_next_end(&self) {
        self.shared.cut_next_end.store(true, Ordering::SeqCst);
    }

    /// Disarms a cut armed by [`Proxy::cut_before_next_end`]; true when it was still waiting
    /// for its `end` frame.
    pub fn disarm_end_cut(&self) -> bool {
        self.shared.cut_next_end.swap(false, Ordering::SeqCst)
    }

    /// How many connections were cut just before their `end` frame.
    pub fn cuts_before_end(&self) -> u64 {
        self.shared.cut_before_end.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.cut_all();
    }
}

/// Pumps both directions of one connection on threads of their own.
fn forward(client: TcpStream, server: TcpStream, shared: &Arc<Shared>) {
    let pair = || {
        Some((
            client.try_clone().ok()?,
            server.try_clone().ok()?,
            server.try_clone().ok()?,
            client.try_clone().ok()?,
        ))
    };
    let Some((c_read, s_write, s_read, c_write)) = pair() else {
        return;
    };
    shared.live.lock().expect("live").push((client, server));
    let up = Arc::clone(shared);
    std::thread::spawn(move || {
        let _ = if up.opaque {
            pump_bytes(c_read, s_write)
        } else {
            pump_frames(c_read, s_write, &up)
        };
    });
    std::thread::spawn(move || {
        let _ = pump_bytes(s_read, c_write);
    });
}

/// Copies bytes until either side ends, then shuts both down.
fn pump_bytes(mut from: TcpStream, mut to: TcpStream) -> std::io::Result<()> {
    let result = std::io::copy(&mut from, &mut to).map(drop);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    result
}

/// Copies the client's greeting and then frame by frame, cutting before an `end` frame when a
/// cut is armed.
fn pump_frames(mut from: TcpStream, mut to: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let result = (|| {
        let mut greeting = [0u8; GREETING];
        from.read_exact(&mut greeting)?;
        to.write_all(&greeting)?;
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 5];
            from.read_exact(&mut header)?;
            if header[0] == END_FRAME && shared.cut_next_end.swap(false, Ordering::SeqCst) {
                shared.cut_before_end.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            payload.resize(len, 0);
            from.read_exact(&mut payload)?;
            to.write_all(&header)?;
            to.write_all(&payload)?;
        }
    })();
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    result
}
