//! Fuzzes the request decoder and the access checks that run on what it accepts: no input may
//! panic, and every accepted request must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zferry_rpc::{access, message};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = message::decode_request(data) {
        let _ = access::check_sink_request(&request);
        let _ = access::filesystems_of(&request);
        let again = serde_json::to_vec(&request).expect("an accepted request encodes");
        assert_eq!(message::decode_request(&again).ok(), Some(request));
    }
});
