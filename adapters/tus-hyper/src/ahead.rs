//! Reading a body ahead while a batch is written: the socket is drained on the request's thread while the storage
//! writes the previous batch on its own, so receiving and writing overlap instead of taking turns.
//!
//! Frames read ahead are kept as received (no copy) and not yet accepted by the protocol core; the driver takes
//! them before reading the body again. Their memory comes from the shared batch budget, and only from what is free
//! in it: under load (many uploads sharing the budget) nothing is read ahead.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;

use bytes::{Buf as _, Bytes};
use futures_lite::future;
use http_body::Body;
use http_body_util::BodyExt as _;
use tus_proto::Interruption;

use crate::budget::Reservation;

/// Body frames read ahead, and how the body ended if it did meanwhile.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    frames: VecDeque<Bytes>,
    len: usize,
    /// `Some(None)`: the body ended normally; `Some(Some(why))`: it broke off.
    end: Option<Option<Interruption>>,
    /// The budget for `frames`, given back once they are all taken.
    reservation: Option<Reservation>,
}

/// The next piece of body from a [`ReadAhead`].
pub(crate) enum Ahead {
    /// Data read ahead, to accept now.
    Data(Bytes),
    /// The body ended while reading ahead (`None`: normally).
    End(Option<Interruption>),
    /// Nothing read ahead: read the body.
    Empty,
}

impl ReadAhead {
    /// Takes the oldest frame read ahead, then the body's end once every frame was taken.
    pub(crate) fn take(&mut self) -> Ahead {
        let next = self.frames.pop_front();
        if self.frames.is_empty() {
            self.reservation = None;
        }
        if let Some(data) = next {
            self.len -= data.len();
            return Ahead::Data(data);
        }
        match self.end.take() {
            Some(end) => Ahead::End(end),
            None => Ahead::Empty,
        }
    }

    /// Runs `write` to its end while reading `body` ahead, up to the bytes `reserve` grants (it is asked only when
    /// nothing is held yet; `None` reads nothing ahead).
    pub(crate) async fn while_writing<T, B>(
        &mut self,
        write: impl Future<Output = T>,
        body: &mut B,
        reserve: impl FnOnce() -> Option<Reservation>,
    ) -> T
    where
        B: Body + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut write = pin!(write);
        if self.reservation.is_none() {
            self.reservation = reserve();
        }
        let room = self.reservation.as_ref().map_or(0, Reservation::size);
        let written = loop {
            if self.len >= room || self.end.is_some() {
                break write.await;
            }
            // The write goes first: when it is done, the pending frame read is dropped, which loses nothing (a
            // frame is taken from the body only when its read completes).
            let next = future::or(async { Ok(write.as_mut().await) }, async { Err(body.frame().await) }).await;
            match next {
                Ok(written) => break written,
                Err(None) => self.end = Some(None),
                Err(Some(Err(error))) => {
                    tracing::debug!(%error, "request body broke off");
                    self.end = Some(Some(Interruption::ClientGone));
                }
                Err(Some(Ok(frame))) => {
                    // Trailers carry nothing yet (checksum-trailer will read them).
                    if let Ok(mut data) = frame.into_data() {
                        let data = data.copy_to_bytes(data.remaining());
                        self.len += data.len();
                        self.frames.push_back(data);
                    }
                }
            }
        };
        if self.frames.is_empty() {
            self.reservation = None;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_lite::future::{block_on, yield_now};
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    use super::*;
    use crate::budget::BatchBudget;

    type Pieces = Vec<Result<Frame<Bytes>, std::io::Error>>;

    fn body(pieces: Pieces) -> impl Body<Data = Bytes, Error = std::io::Error> + Unpin {
        StreamBody::new(futures_lite::stream::iter(pieces))
    }

    fn data(n: usize) -> Pieces {
        (0..n).map(|i| Ok(Frame::data(Bytes::from(vec![i as u8; 100])))).collect()
    }

    /// A write that is pending `polls` times before it is done.
    async fn slow_write(polls: usize) -> &'static str {
        for _ in 0..polls {
            yield_now().await;
        }
        "written"
    }

    /// The first byte of each frame taken, and what came after the frames.
    fn taken(ahead: &mut ReadAhead) -> (Vec<u8>, Ahead) {
        let mut firsts = Vec::new();
        loop {
            match ahead.take() {
                Ahead::Data(data) => firsts.push(data[0]),
                after => return (firsts, after),
            }
        }
    }

    #[test]
    fn reads_ahead_up_to_the_grant_in_order_and_gives_the_budget_back() {
        let budget = BatchBudget::new(1000);
        let mut body = body(data(10));
        let mut ahead = ReadAhead::default();
        let reserve = || budget.try_reserve(250);
        assert_eq!(block_on(ahead.while_writing(slow_write(100), &mut body, reserve)), "written");
        assert_eq!(budget.try_reserve(1000).map(|r| r.size()), Some(750), "the frames held hold the grant");
        let (firsts, after) = taken(&mut ahead);
        assert_eq!(firsts, [0, 1, 2], "whole frames, until the grant is covered");
        assert!(matches!(after, Ahead::Empty), "the body did not end");
        assert_eq!(budget.try_reserve(1000).map(|r| r.size()), Some(1000), "grant given back once all is taken");
        let next = block_on(body.frame()).expect("frame").expect("ok").into_data().expect("data");
        assert_eq!(next[0], 3, "the body goes on after the last frame read ahead");
    }

    #[test]
    fn nothing_is_read_ahead_without_a_grant_or_when_the_write_is_ready() {
        let budget = BatchBudget::new(1000);
        let _all = budget.try_reserve(1000);
        let mut body = body(data(3));
        let mut ahead = ReadAhead::default();
        block_on(ahead.while_writing(slow_write(100), &mut body, || budget.try_reserve(500)));
        assert!(matches!(ahead.take(), Ahead::Empty), "a spent budget grants nothing");
        let other = BatchBudget::new(500);
        block_on(ahead.while_writing(slow_write(0), &mut body, || other.try_reserve(500)));
        assert_eq!(other.try_reserve(500).map(|r| r.size()), Some(500), "the unused grant is back at once");
        assert!(matches!(ahead.take(), Ahead::Empty), "a write done at once leaves the body alone");
        assert_eq!(block_on(body.frame()).expect("frame").expect("ok").into_data().expect("data")[0], 0);
    }

    #[test]
    fn the_end_of_the_body_comes_after_its_frames() {
        let budget = BatchBudget::new(10_000);
        for (tail, expected) in [(None, None), (Some(()), Some(Interruption::ClientGone))] {
            let mut pieces = data(2);
            if tail.is_some() {
                pieces.push(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "gone")));
            }
            let mut body = body(pieces);
            let mut ahead = ReadAhead::default();
            block_on(ahead.while_writing(slow_write(100), &mut body, || budget.try_reserve(5000)));
            let (firsts, after) = taken(&mut ahead);
            assert_eq!(firsts, [0, 1]);
            assert!(matches!(after, Ahead::End(end) if end == expected), "ending {expected:?}");
            assert!(matches!(ahead.take(), Ahead::Empty), "the end is told once");
        }
        assert_eq!(Arc::strong_count(&budget), 1, "no reservation left");
    }
}
