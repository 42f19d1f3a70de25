//! A batch: the body bytes of one storage write, kept as the frames that carried them.
//!
//! Copying every frame into one buffer costs one more pass over each byte, a large share of the server's CPU in a
//! large upload; a batch keeps the frames as received and hands them to the store as the parts of one
//! vectored write. Small frames are still copied together, so a client that sends a few bytes at a time cannot
//! make a batch of countless parts, each pinning a receive buffer.

use bytes::{Bytes, BytesMut};

/// Frames at least this large are kept as received; smaller ones are copied together.
const KEEP_FROM: usize = 16 * 1024;

/// Body bytes gathered for one storage write, in order.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    parts: Vec<Bytes>,
    /// Small frames received since the last kept one, copied together.
    small: BytesMut,
    len: usize,
}

impl Batch {
    /// The bytes held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `data` after the bytes held.
    pub(crate) fn push(&mut self, data: Bytes) {
        self.len += data.len();
        if data.len() >= KEEP_FROM {
            self.close_small();
            self.parts.push(data);
        } else {
            self.small.extend_from_slice(&data);
        }
    }

    /// The parts in order (none empty), leaving the batch empty.
    pub(crate) fn take(&mut self) -> Vec<Bytes> {
        self.close_small();
        self.len = 0;
        std::mem::take(&mut self.parts)
    }

    fn close_small(&mut self) {
        if !self.small.is_empty() {
            self.parts.push(self.small.split().freeze());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, byte: u8) -> Bytes {
        Bytes::from(vec![byte; len])
    }

    #[test]
    fn large_frames_are_kept_and_small_ones_copied_together_in_order() {
        let (big, other_big) = (frame(KEEP_FROM, 1), frame(KEEP_FROM + 5, 4));
        let mut batch = Batch::default();
        batch.push(frame(10, 0));
        batch.push(big.clone());
        batch.push(frame(3, 2));
        batch.push(frame(KEEP_FROM - 1, 3));
        batch.push(other_big.clone());
        assert_eq!(batch.len(), 10 + KEEP_FROM + 3 + KEEP_FROM - 1 + KEEP_FROM + 5);
        let parts = batch.take();
        let lens: Vec<usize> = parts.iter().map(Bytes::len).collect();
        assert_eq!(lens, [10, KEEP_FROM, KEEP_FROM + 2, KEEP_FROM + 5]);
        assert_eq!(parts[1].as_ptr(), big.as_ptr(), "a large frame is not copied");
        assert_eq!(parts[3].as_ptr(), other_big.as_ptr());
        assert_eq!(parts[2][..3], [2, 2, 2], "small frames keep their order");
        assert_eq!(parts[2][3..], [3; KEEP_FROM - 1]);
        assert!(batch.is_empty() && batch.take().is_empty(), "taking empties the batch");
    }

    #[test]
    fn tiny_frames_make_one_part() {
        let mut batch = Batch::default();
        for i in 0..1000u16 {
            batch.push(Bytes::copy_from_slice(&i.to_be_bytes()));
        }
        let parts = batch.take();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].chunks(2).enumerate().all(|(i, pair)| pair == (i as u16).to_be_bytes()));
    }
}
