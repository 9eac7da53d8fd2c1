use std::io::Write;

use super::nvlist::Value;
use super::nvlist::tests::native_le;
use super::*;

/// A token made the way the kernel makes one, from `pairs`.
fn token_of(pairs: &[(&str, Value)]) -> String {
    let packed = native_le(pairs);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(&packed).unwrap();
    let compressed = z.finish().unwrap();
    format!(
        "1-{:x}-{:x}-{}",
        fletcher4_first_word(&compressed),
        packed.len(),
        compressed
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn incremental_pairs() -> Vec<(&'static str, Value)> {
    vec![
        ("fromguid", Value::U64(0x20d3_2173_9bd5_9063)),
        ("object", Value::U64(2)),
        ("offset", Value::U64(0)),
        ("bytes", Value::U64(0x590)),
        ("toguid", Value::U64(0xe499_ea09_4136_5eeb)),
        ("toname", Value::Str("p/a b@s3".into())),
        ("embedok", Value::Flag),
        ("compressok", Value::Flag),
    ]
}

#[test]
fn decodes_an_incremental_token() {
    let t = decode(&token_of(&incremental_pairs())).expect("decodes");
    assert_eq!(t.to_name, "p/a b@s3");
    assert_eq!(t.to_guid, 0xe499_ea09_4136_5eeb);
    assert_eq!(t.from_guid, Some(0x20d3_2173_9bd5_9063));
    assert_eq!((t.object, t.offset, t.bytes), (2, 0, 0x590));
    assert!(t.compressed && t.embedded && !t.raw && !t.large_blocks && !t.saved);
}

#[test]
fn a_full_stream_token_has_no_base() {
    let t = decode(&token_of(&[
        ("toguid", Value::U64(5)),
        ("toname", Value::Str("p/x@a".into())),
        ("rawok", Value::Flag),
        ("largeblockok", Value::Flag),
    ]))
    .expect("decodes");
    assert_eq!(t.from_guid, None);
    assert!(t.raw && t.large_blocks);
}

#[test]
fn fletcher4_first_word_sums_little_endian_words_and_ignores_a_partial_one() {
    assert_eq!(fletcher4_first_word(&[1, 0, 0, 0, 0, 1, 0, 0, 9]), 1 + 256);
    let wraps = [0xff; 4].repeat(3);
    assert_eq!(fletcher4_first_word(&wraps), 3 * 0xffff_ffff);
}

/// A token with one part replaced.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<String> = token.splitn(4, '-').map(str::to_owned).collect();
    parts[index] = part.to_owned();
    parts.join("-")
}

#[test]
fn corrupt_tokens_are_refused_with_the_reason() {
    let good = token_of(&incremental_pairs());
    let payload = good.rsplit('-').next().unwrap().to_owned();
    let flipped = {
        let mut b = payload.clone().into_bytes();
        b[10] = if b[10] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    let cases = [
        ("garbage".to_owned(), TokenError::Format),
        ("1-abc-10".to_owned(), TokenError::Format),
        (with_part(&good, 0, "2"), TokenError::Version(2)),
        (with_part(&good, 1, "zz"), TokenError::Format),
        (
            with_part(&good, 3, &format!("{payload}0")),
            TokenError::NotHex,
        ),
        (
            with_part(&good, 3, &format!("{payload}zz")),
            TokenError::NotHex,
        ),
        (with_part(&good, 3, &flipped), TokenError::Checksum),
        (
            with_part(&good, 2, "ffffffff"),
            TokenError::TooLarge(0xffff_ffff),
        ),
        (with_part(&good, 2, "10"), TokenError::Decompression),
        ("1".repeat(MAX_TOKEN_LEN + 1), TokenError::TooLong),
    ];
    for (token, expected) in cases {
        let got = decode(&token).expect_err(&token);
        assert_eq!(got, expected, "{token}");
        assert!(got.to_string().starts_with("resume token is corrupt ("));
    }
}

#[test]
fn a_token_without_toguid_is_refused() {
    let t = token_of(&[("toname", Value::Str("p/x@a".into()))]);
    assert_eq!(decode(&t), Err(TokenError::Missing("toguid")));
    let t = token_of(&[("toguid", Value::Str("not a number".into()))]);
    assert_eq!(decode(&t), Err(TokenError::Missing("toname")));
}

#[test]
fn a_payload_that_is_not_zlib_is_refused() {
    let junk = [7u8; 16];
    let token = format!("1-{:x}-10-{}", fletcher4_first_word(&junk), "07".repeat(16));
    assert_eq!(decode(&token), Err(TokenError::Decompression));
}

/// Tokens made by OpenZFS 2.3.2 (the VM), each with what `zfs send -nvt` printed for it on the
/// sending host: a full send of a 1M-recordsize dataset cut at 400,000 bytes, without and with
/// `-L`.
#[test]
fn decodes_tokens_made_by_openzfs_as_send_nvt_does() {
    let plain = "1-9189ec594-b8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a796806458e0f26c48f2499525a9c5407a052f1b56fd25f9e9a599290c0c47f896cdf13ef2345303499e132c9f97989b0aa4b30bf49332d31d1219100000f48815b3";
    let t = decode(plain).expect("decodes");
    assert_eq!(
        t,
        ResumeTokenContents {
            to_name: "tkp/big@a".into(),
            to_guid: 0x69e5_c44b_9ca6_0ec4,
            object: 2,
            offset: 0x40000,
            bytes: 0x60da8,
            ..ResumeTokenContents::default()
        }
    );
    let large = "1-df77a2a05-d8-789c636064000310a500c4ec50360710e72765a52697303030419460caa7a515a79630c001489e0d493ea9b224b518489fe0c0aebf243fbd34338581e108dfb239de479e666a20c97382e5f3127353817476817e5266ba4322923dbc0c0877e72416a5a726e5e42767e767c3dc020000161ae2";
    let t = decode(large).expect("decodes");
    assert_eq!(
        t,
        ResumeTokenContents {
            to_name: "tkp/big@a".into(),
            to_guid: 0x69e5_c44b_9ca6_0ec4,
            object: 2,
            offset: 0,
            bytes: 0x8c8,
            large_blocks: true,
            ..ResumeTokenContents::default()
        }
    );
}
