//! A TCP proxy in front of the test PostgreSQL server that a test can cut and restore: a database
//! outage without touching the server other tests share.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulso::store::{PgStore, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A TCP proxy on 127.0.0.1 that can be stopped (dropping every connection) and started again on
/// the same port.
pub struct Proxy {
    pub port: u16,
    target: String,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            target,
            accept: None,
            conns: Arc::default(),
        };
        proxy.run(listener);
        proxy
    }

    fn run(&mut self, listener: TcpListener) {
        let (target, conns) = (self.target.clone(), self.conns.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().unwrap().push(conn);
            }
        }));
    }

    pub async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let conns: Vec<_> = self.conns.lock().unwrap().drain(..).collect();
        for c in conns {
            c.abort();
            let _ = c.await;
        }
    }

    pub async fn restart(&mut self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)).await {
                self.run(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not bind the proxy port again");
    }
}

/// A fresh, migrated PostgreSQL database reached through a [`Proxy`] the test can stop.
pub async fn proxied_pg_store() -> Option<(Proxy, PgStore)> {
    let url = super::fresh_pg_database().await?;
    let mut direct = url::Url::parse(&url).unwrap();
    let target = format!("{}:{}", direct.host_str().unwrap(), direct.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    direct.set_port(Some(proxy.port)).unwrap();
    let store = PgStore::connect(direct.as_str(), 3).await.unwrap();
    store.migrate().await.unwrap();
    Some((proxy, store))
}
