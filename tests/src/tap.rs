//! A TCP tap: a proxy on a free port of 127.0.0.1 that forwards every
//! connection to a backend and counts the bytes the backend sends, so a test
//! can see whether a backend is still streaming (a gRPC server stream that
//! was cancelled sends nothing more). Dropping a tap cuts every connection
//! through it, and [`TcpTap::start_on`] can open a new one on the same
//! port: an outage of the backend, as its clients see it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A counting proxy in front of one backend; stopped (with every connection
/// through it) on drop.
#[derive(Debug)]
pub struct TcpTap {
    /// The address to connect to instead of the backend.
    pub addr: SocketAddr,
    from_backend: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl TcpTap {
    /// Starts forwarding 127.0.0.1:0 to `backend`, on the current runtime.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start(backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        Self::serve(listener, backend)
    }

    /// Starts forwarding 127.0.0.1:`port` to `backend`, on the current
    /// runtime; waits a little for the port while a tap dropped just before
    /// still holds it.
    ///
    /// # Panics
    ///
    /// When the port stays taken.
    pub async fn start_on(port: u16, backend: SocketAddr) -> Self {
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                return Self::serve(listener, backend);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("127.0.0.1:{port} stays taken; no tap can listen there");
    }

    fn serve(listener: TcpListener, backend: SocketAddr) -> Self {
        let addr = listener.local_addr().expect("a bound address");
        let from_backend = Arc::new(AtomicU64::new(0));
        let counter = from_backend.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(forward(client, backend, counter.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        Self {
            addr,
            from_backend,
            task,
        }
    }

    /// `http://<addr>`, to configure as the backend's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes the backend has sent through the tap so far.
    pub fn bytes_from_backend(&self) -> u64 {
        self.from_backend.load(Ordering::Relaxed)
    }
}

impl Drop for TcpTap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(client: TcpStream, backend: SocketAddr, counter: Arc<AtomicU64>) {
    let Ok(upstream) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::select! {
        () = pump(client_read, upstream_write, None) => {}
        () = pump(upstream_read, client_write, Some(&counter)) => {}
    }
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    counter: Option<&AtomicU64>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if let Some(counter) = counter {
            counter.fetch_add(read as u64, Ordering::Relaxed);
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
