//! Percent-encoding by table lookup (RFC 6570 §3.2.1).

const UNRESERVED: u8 = 1;
const RESERVED: u8 = 2;

static CLASS: [u8; 256] = byte_classes();

const fn byte_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            UNRESERVED
        } else if matches!(
            b,
            b':' | b'/'
                | b'?'
                | b'#'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        ) {
            RESERVED
        } else {
            0
        };
        i += 1;
    }
    table
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` percent-encoded: only unreserved characters pass, or, with
/// `allow_reserved`, also reserved characters and existing `%XX` triplets (RFC 6570 §3.2.1).
pub(super) fn encode(out: &mut String, s: &str, allow_reserved: bool) {
    let bytes = s.as_bytes();
    let mask = if allow_reserved {
        UNRESERVED | RESERVED
    } else {
        UNRESERVED
    };
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if CLASS[usize::from(b)] & mask != 0 {
            i += 1;
            continue;
        }
        if allow_reserved && b == b'%' && is_triplet(bytes, i) {
            i += 3;
            continue;
        }
        // A non-empty run holds only ASCII bytes and ends before an ASCII byte or a
        // UTF-8 lead byte, so both ends are char boundaries.
        if run_start < i {
            out.push_str(&s[run_start..i]);
        }
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
        i += 1;
        run_start = i;
    }
    if run_start < bytes.len() {
        out.push_str(&s[run_start..]);
    }
}

/// Appends `s` with everything but unreserved characters percent-encoded, as query
/// names and values are.
pub(crate) fn encode_unreserved(out: &mut String, s: &str) {
    encode(out, s, false);
}

pub(super) fn is_triplet(bytes: &[u8], i: usize) -> bool {
    matches!(
        (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)),
        (Some(b'%'), Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit()
    )
}
