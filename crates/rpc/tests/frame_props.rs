//! Property tests of the frame codec.

use proptest::prelude::*;
use zferry_rpc::frame::{self, FrameKind};

fn kind() -> impl Strategy<Value = FrameKind> {
    prop_oneof![
        Just(FrameKind::Control),
        Just(FrameKind::ControlPart),
        Just(FrameKind::Data),
        Just(FrameKind::DataZstd),
        Just(FrameKind::Error),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(kind in kind(), payload in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let bytes = frame::encode_frame(kind, &payload).unwrap();
        let got = frame::decode_frame(&bytes).unwrap().unwrap();
        prop_assert_eq!(got.kind, kind);
        prop_assert_eq!(got.payload, &payload[..]);
        prop_assert_eq!(got.consumed, bytes.len());
    }

    #[test]
    fn concatenated_frames_decode_in_sequence(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..512), 1..8)) {
        let mut wire = Vec::new();
        for p in &payloads {
            wire.extend(frame::encode_frame(FrameKind::Data, p).unwrap());
        }
        let mut at = 0;
        for p in &payloads {
            let got = frame::decode_frame(&wire[at..]).unwrap().unwrap();
            prop_assert_eq!(got.payload, &p[..]);
            at += got.consumed;
        }
        prop_assert_eq!(at, wire.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_respect_limits(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(Some(got)) = frame::decode_frame(&bytes) {
            prop_assert!(got.payload.len() <= got.kind.max_len());
            prop_assert!(got.consumed <= bytes.len());
        }
    }

    #[test]
    fn a_prefix_of_a_frame_is_never_a_frame(payload in proptest::collection::vec(any::<u8>(), 1..256), cut in 0usize..256) {
        let bytes = frame::encode_frame(FrameKind::Control, &payload).unwrap();
        let cut = cut % bytes.len();
        prop_assert_eq!(frame::decode_frame(&bytes[..cut]).unwrap(), None);
    }
}
