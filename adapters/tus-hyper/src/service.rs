//! The request handler as a hyper `Service` and a tower `Service`.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Body;
use http_body_util::Full;

use tus_store::{Store, SMALL_WRITE};

use crate::{driver, BoxFuture, Runtime, TusApp};

/// The peer address of a request, for routers that do not hand it to the service directly: insert it into the
/// request's extensions (for example from axum's `ConnectInfo`) and the service uses it for trusted proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Serves a [`TusApp`]. A request without a body or with a small one runs in the service's own future, one with a
/// larger body in a task of its own; either way a client that disconnects mid-request does not cancel it, so what
/// arrived of a body is still committed.
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
        if self.app.health_path.as_deref() == Some(request.uri().path())
            && matches!(*request.method(), http::Method::GET | http::Method::HEAD)
        {
            let app = self.app.clone();
            return Box::pin(async move { Ok(health(&app).await) });
        }
        let peer = self.peer.or_else(|| request.extensions().get::<PeerAddr>().map(|p| p.0.ip()));
        let small = request.body().size_hint().exact().is_some_and(|length| length <= SMALL_WRITE as u64);
        let (app, runtime) = (self.app.clone(), self.runtime.clone());
        let work: BoxFuture<_> = Box::pin(async move { driver::handle(&app, &runtime, request, peer).await });
        if small {
            return Box::pin(FinishOnDrop { work: Some(work), runtime: self.runtime.clone() });
        }
        // A large or streamed body: its own task stores it while the connection's task reads the socket, on
        // another thread. The task runs to its end whether or not the response is awaited.
        let (sender, receiver) = async_channel::bounded(1);
        self.runtime.spawn(async move {
            let _ = sender.send(work.await).await;
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

/// The work of a request without a body or with a small one (read whole), run in the service's own future: no task
/// hop on the way. If hyper (or a layer around the service, such as a timeout) drops that future before the work is
/// done, the rest moves into a task of its own and runs to its end there: what arrived of the body is committed,
/// the events are delivered.
struct FinishOnDrop {
    work: Option<BoxFuture<http::Response<Full<Bytes>>>>,
    runtime: Runtime,
}

impl Future for FinishOnDrop {
    type Output = Result<http::Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else { return Poll::Pending };
        let response = std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        Poll::Ready(Ok(response))
    }
}

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            // The client is gone: nobody reads the response, but the storage work must still end properly.
            self.runtime.spawn(async move {
                let _ = work.await;
            });
        }
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

/// The answer of the health endpoint: 200 when the store is ready, else 503 (the cause goes to the log).
async fn health<S: Store>(app: &TusApp<S>) -> http::Response<Full<Bytes>> {
    let (status, text) = match app.store.ready().await {
        Ok(()) => (http::StatusCode::OK, "ok\n"),
        Err(failure) => {
            tracing::error!(cause = %failure, "health check: the store is not ready");
            (http::StatusCode::SERVICE_UNAVAILABLE, "storage not ready\n")
        }
    };
    let mut response = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}
