//! Text for submit_sm: the GSM 03.38 default alphabet (data_coding 0, with the extension table,
//! unpacked or packed) when every character has a code, else UCS-2 (data_coding 8). And the
//! delivery receipt text (`id:... stat:DELIVRD ...`).

/// The GSM 03.38 default alphabet, by code.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table, reached by ESC (0x1B).
const EXTENSION: &[(char, u8)] = &[
    ('\u{c}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

pub const DATA_CODING_GSM7: u8 = 0;
pub const DATA_CODING_UCS2: u8 = 8;

/// GSM-7 septets (one per byte), or `None` when a character has no GSM-7 code.
pub fn gsm7_septets(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c != '\u{1b}'
            && let Some(i) = BASIC.chars().position(|b| b == c)
        {
            out.push(i as u8);
        } else if let Some((_, code)) = EXTENSION.iter().find(|(e, _)| *e == c) {
            out.push(0x1B);
            out.push(*code);
        } else {
            return None;
        }
    }
    Some(out)
}

/// Packs septets 8 to 7 octets, least significant bits first (GSM 03.38 §6.1.2.1.1).
pub fn pack(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(septets.len() * 7 / 8 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out
}

/// `(data_coding, short_message)` for `text`.
pub fn encode(text: &str, packed: bool) -> (u8, Vec<u8>) {
    match gsm7_septets(text) {
        Some(septets) if packed => (DATA_CODING_GSM7, pack(&septets)),
        Some(septets) => (DATA_CODING_GSM7, septets),
        None => (
            DATA_CODING_UCS2,
            text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        ),
    }
}

/// What a delivery receipt says: the message id and the final state, if it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub stat: String,
}

/// Reads `id:XXXX ... stat:DELIVRD ...` (SMPP 3.4 Appendix B's receipt text).
pub fn parse_receipt(text: &str) -> Option<Receipt> {
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(str::to_owned)
    };
    Some(Receipt {
        id: field("id:")?,
        stat: field("stat:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_basic_and_extension_and_ucs2_fallback() {
        assert_eq!(encode("A@1", false), (0, vec![0x41, 0x00, 0x31]));
        assert_eq!(encode("€[", false), (0, vec![0x1B, 0x65, 0x1B, 0x3C]));
        assert_eq!(encode("Ä", false), (0, vec![0x5B]));
        let (dc, bytes) = encode("Код 12", false);
        assert_eq!(dc, 8);
        assert_eq!(
            bytes,
            vec![
                0x04, 0x1A, 0x04, 0x3E, 0x04, 0x34, 0x00, 0x20, 0x00, 0x31, 0x00, 0x32
            ]
        );
    }

    #[test]
    fn packing_follows_the_spec_example() {
        // "hellohello" packs to E8329BFD4697D9EC37 (3GPP TS 23.038 example).
        assert_eq!(hex(&encode("hellohello", true).1), "e8329bfd4697d9ec37");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn receipts_parse() {
        let r = parse_receipt(
            "id:1A0001 sub:001 dlvrd:001 submit date:2611231200 done date:2611231200 stat:DELIVRD err:000 text:",
        )
        .unwrap();
        assert_eq!((r.id.as_str(), r.stat.as_str()), ("1A0001", "DELIVRD"));
        assert!(parse_receipt("hello").is_none());
    }
}
