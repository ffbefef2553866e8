//! The server as a [`Transport`]: services in the same process call it
//! directly, and have its answers at once ([`Transport::create_now`]).

use futures_util::future::BoxFuture;

use super::Server;
use super::origin::Origin;
use filibuster_runtime::panic::HandlerPanic;
use filibuster_runtime::records::{CreateResponse, Invocation, Update};
use filibuster_runtime::transport::{Transport, TransportError};

impl Transport for Server {
    fn new_test_execution<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>> {
        let answer = self.lock().new_test_execution(service).map_err(TransportError::from);
        Box::pin(async move { answer })
    }

    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>> {
        let answer = self.answer_create(invocation);
        Box::pin(async move { answer })
    }

    fn update<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>> {
        let answer = self.answer_update(update);
        Box::pin(async move { answer })
    }

    fn create_now(&self, invocation: &Invocation) -> Option<Result<CreateResponse, TransportError>> {
        Some(self.answer_create(invocation))
    }

    fn update_now(&self, update: &Update) -> Option<Result<(), TransportError>> {
        Some(self.answer_update(update))
    }

    fn unmarked_request(&self, service: &str, route: &str) {
        self.lock().note_unmarked(service, route);
    }

    fn handler_panicked<'a>(&'a self, panic: &'a HandlerPanic) -> BoxFuture<'a, Result<(), TransportError>> {
        self.lock().note_panic(panic.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Server {
    fn answer_create(&self, invocation: &Invocation) -> Result<CreateResponse, TransportError> {
        self.lock().create_from(invocation.clone(), Origin::InProcess).map_err(TransportError::from)
    }

    fn answer_update(&self, update: &Update) -> Result<(), TransportError> {
        self.lock().update(update.clone()).map_err(TransportError::from)
    }
}
