//! Fuzzes the frame decoder: arbitrary bytes never panic, never yield a payload beyond its
//! kind's limit, and decoding always makes progress.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zferry_rpc::frame;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Ok(Some(decoded)) = frame::decode_frame(&data[at..]) {
        assert!(decoded.payload.len() <= decoded.kind.max_len());
        assert!(decoded.consumed >= frame::HEADER_LEN);
        at += decoded.consumed;
    }
});
