//! The request handler as a hyper `Service` and a tower `Service`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Body;
use http_body_util::Full;

use crate::{driver, BoxFuture, Runtime, Store, TusApp};

/// The peer address of a request, for routers that do not hand it to the service directly: insert it into the
/// request's extensions (for example from axum's `ConnectInfo`) and the service uses it for trusted proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Serves a [`TusApp`]. Each request with a body runs in its own task, so a client that disconnects mid-body does
/// not cancel the commit of what was stored; requests without one are answered in the service's own future.
pub struct TusService<S> {
    app: Arc<TusApp<S>>,
    runtime: Runtime,
    peer: Option<IpAddr>,
}

impl<S> Clone for TusService<S> {
    fn clone(&self) -> Self {
        TusService { app: self.app.clone(), runtime: self.runtime.clone(), peer: self.peer }
    }
}

impl<S> std::fmt::Debug for TusService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusService").field("app", &self.app).field("peer", &self.peer).finish()
    }
}

impl<S: Store> TusService<S> {
    /// A service for `app`, running request tasks on `runtime`.
    pub fn new(app: Arc<TusApp<S>>, runtime: Runtime) -> Self {
        TusService { app, runtime, peer: None }
    }

    /// The same service for one connection whose peer is `peer`.
    pub fn for_peer(&self, peer: IpAddr) -> Self {
        TusService { peer: Some(peer), ..self.clone() }
    }

    /// The app.
    pub fn app(&self) -> &Arc<TusApp<S>> {
        &self.app
    }

    fn respond<B>(&self, request: Request<B>) -> BoxFuture<Result<http::Response<Full<Bytes>>, Infallible>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: std::fmt::Display,
    {
        let peer = self.peer.or_else(|| request.extensions().get::<PeerAddr>().map(|p| p.0.ip()));
        let (app, runtime) = (self.app.clone(), self.runtime.clone());
        if request.body().is_end_stream() {
            // No body to lose: answer right here, without a task hop (HEAD, OPTIONS, POST).
            return Box::pin(async move { Ok(driver::handle(&app, &runtime, request, peer).await) });
        }
        let (sender, receiver) = async_channel::bounded(1);
        self.runtime.spawn(async move {
            let response = driver::handle(&app, &runtime, request, peer).await;
            // The client may be gone: the work is done either way.
            let _ = sender.send(response).await;
        });
        Box::pin(async move {
            Ok(receiver.recv().await.unwrap_or_else(|_| {
                let mut response = http::Response::new(Full::new(Bytes::from_static(b"request task failed")));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }))
        })
    }
}

impl<S, B> hyper::service::Service<Request<B>> for TusService<S>
where
    S: Store,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        self.respond(request)
    }
}

impl<S, B> tower_service::Service<Request<B>> for TusService<S>
where
    S: Store,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.respond(request)
    }
}
