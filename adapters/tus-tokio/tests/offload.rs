//! `TokioPool`: short calls run in place on a multi-thread runtime without holding up other tasks, and go to the
//! pool on a current-thread runtime.
#![allow(missing_docs)]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tus_tokio::tus_hyper::tus_storage::Offload;
use tus_tokio::TokioPool;

#[test]
fn a_short_call_runs_in_place_while_the_other_tasks_go_on() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (caller, ran_on, other_ran_on) = runtime.block_on(async {
        // On the one worker thread: if the short call held it (inline), the other task could not run until the
        // call ended, and the call waits for it; on the pool, it would run on another thread than its caller.
        tokio::spawn(async {
            let (answered, answer) = mpsc::channel();
            let other = tokio::spawn(async move { answered.send(thread::current().id()).unwrap() });
            let caller = thread::current().id();
            let (ran_on, other_ran_on) = TokioPool
                .offload_short(move || {
                    let other = answer.recv_timeout(Duration::from_secs(10)).expect("the other task ran meanwhile");
                    (thread::current().id(), other)
                })
                .await;
            other.await.unwrap();
            (caller, ran_on, other_ran_on)
        })
        .await
        .unwrap()
    });
    assert_eq!(ran_on, caller, "the short call ran on the calling thread");
    assert_ne!(other_ran_on, caller, "the other task ran on another thread meanwhile");
}

#[test]
fn on_a_current_thread_runtime_a_short_call_goes_to_the_pool() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (caller, ran_on) =
        runtime.block_on(async { (thread::current().id(), TokioPool.offload_short(|| thread::current().id()).await) });
    assert_ne!(ran_on, caller, "it ran on a pool thread, not in place (which would panic here)");
}

#[test]
fn a_panicking_short_call_panics_in_the_caller() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let outcome = runtime.block_on(async {
        tokio::spawn(async { TokioPool.offload_short(|| -> u8 { panic!("broken call") }).await }).await
    });
    let panic = outcome.expect_err("the panic reached the caller's task").into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"broken call"));
}
