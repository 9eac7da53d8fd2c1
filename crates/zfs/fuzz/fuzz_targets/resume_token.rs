//! Fuzzes the resume-token decoder, which reads tokens that cross the wire from a peer: no input
//! panics or allocates beyond the caps. The first byte picks how the rest is used, so that the
//! fuzzer also gets past the checksum and the decompression to the nvlist reader:
//! 0: the bytes as the token text; 1: the bytes as the compressed payload of a token whose
//! checksum is right; otherwise: the bytes as the packed nvlist of an otherwise valid token.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use zferry_zfs::resume_token::{self, MAX_PACKED_LEN, fletcher4_first_word};

fn token(compressed: &[u8], declared_len: usize) -> String {
    let hex: String = compressed.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "1-{:x}-{declared_len:x}-{hex}",
        fletcher4_first_word(compressed)
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let text = match mode {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => {
            let (len, payload) = rest.split_at(rest.len().min(2));
            let declared = len.iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
            token(payload, declared)
        }
        _ => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(rest).expect("compress into memory");
            token(&z.finish().expect("compress into memory"), rest.len())
        }
    };
    if let Ok(t) = resume_token::decode(&text) {
        assert!(text.len() <= resume_token::MAX_TOKEN_LEN);
        assert!(t.to_name.len() as u64 <= MAX_PACKED_LEN);
    }
    let _ = resume_token::nvlist::unpack(rest);
});
