//! SMS segment accounting for rendered messages.
//!
//! Decides whether a text can go out in the GSM 03.38 default alphabet
//! (3GPP TS 23.038) or must fall back to UCS-2, and how many SMS parts it
//! will cost. A single stray character (a curly quote, an emoji) flips the
//! whole message to UCS-2 and cuts the per-part capacity from 160 to 70,
//! which is why templates are checked with this module.

/// Character set an SMS would be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet (plus its extension table).
    Gsm7,
    /// UCS-2 / UTF-16, used as soon as any char is outside GSM-7.
    Ucs2,
}

/// Size of a text once encoded for SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub encoding: Encoding,
    /// GSM-7: septets (extension characters count 2). UCS-2: UTF-16 code units (a non-BMP char such as an emoji counts 2).
    pub units: usize,
    /// number of SMS segments: 1 if units <= 160 (GSM-7) / 70 (UCS-2); otherwise ceil over 153 / 67 per part,
    /// and for GSM-7 an ESC pair (extension char) is never split across two parts.
    ///
    /// An empty text is reported as 1 segment: sending it still costs one SMS.
    pub segments: usize,
}

/// Septets in a single-part GSM-7 SMS.
pub const GSM7_SINGLE: usize = 160;
/// UTF-16 code units in a single-part UCS-2 SMS.
pub const UCS2_SINGLE: usize = 70;
/// Septets per part of a concatenated GSM-7 SMS (the UDH takes 7 septets).
const GSM7_MULTI: usize = 153;
/// Code units per part of a concatenated UCS-2 SMS (the UDH takes 3 units).
const UCS2_MULTI: usize = 67;

/// ESC (0x1B): occupies a slot of the basic table but is the escape prefix
/// of the extension table, never a character of its own.
const ESC: char = '\u{1B}';

/// GSM 03.38 basic table, indexed by septet value (0x00..=0x7F).
/// Kept as data so tests can check the `match` in [`gsm7_septets`] against it.
#[cfg_attr(not(test), allow(dead_code))]
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', // 0x00
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ESC, 'Æ', 'æ', 'ß', 'É', // 0x10
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', // 0x20
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', // 0x30
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', // 0x40
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', // 0x50
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', // 0x60
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', // 0x70
];

/// GSM 03.38 extension table: each is sent as ESC + char, i.e. 2 septets.
#[cfg_attr(not(test), allow(dead_code))]
const EXTENSION: [char; 10] = ['\u{000C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// GSM-7 septet cost of one char (1 basic, 2 extension), None if not GSM-7.
pub fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        // Printable ASCII that sits in the basic table. `$` is at 0x02 and
        // `@` at 0x00 rather than their ASCII slots, but both are basic.
        ' '..='?' | '@' | 'A'..='Z' | '_' | 'a'..='z' | '\n' | '\r' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' => {
            Some(1)
        }
        'Δ' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' => Some(1),
        'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' => Some(1),
        '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        '\u{000C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        // Everything else, including ESC itself, '`' and lowercase 'ç'.
        _ => None,
    }
}

/// Is every char representable in the GSM 03.38 basic table or its extension table?
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_septets(c).is_some())
}

/// Encoding, size and segment count of `text` as an SMS.
pub fn analyze(text: &str) -> SegmentInfo {
    match gsm7_costs(text) {
        Some(units) => SegmentInfo {
            encoding: Encoding::Gsm7,
            units,
            segments: gsm7_segments(text, units),
        },
        None => {
            let units = text.encode_utf16().count();
            SegmentInfo {
                encoding: Encoding::Ucs2,
                units,
                segments: if units <= UCS2_SINGLE {
                    1
                } else {
                    units.div_ceil(UCS2_MULTI)
                },
            }
        }
    }
}

/// Does `text` go out as a single SMS?
pub fn fits_one_segment(text: &str) -> bool {
    analyze(text).segments <= 1
}

/// Total septets, or None as soon as one char is not GSM-7.
fn gsm7_costs(text: &str) -> Option<usize> {
    text.chars().map(gsm7_septets).sum()
}

/// Parts needed for an all-GSM-7 `text` of `units` septets.
fn gsm7_segments(text: &str, units: usize) -> usize {
    if units <= GSM7_SINGLE {
        return 1;
    }
    // Pack greedily: an extension char that does not fit whole in the
    // current part moves to the next one, because handsets cannot rejoin an
    // ESC split from its char. So this can exceed ceil(units / 153).
    let mut parts = 1;
    let mut used = 0;
    for cost in text.chars().filter_map(gsm7_septets) {
        if used + cost > GSM7_MULTI {
            parts += 1;
            used = 0;
        }
        used += cost;
    }
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gsm_info(units: usize, segments: usize) -> SegmentInfo {
        SegmentInfo {
            encoding: Encoding::Gsm7,
            units,
            segments,
        }
    }

    fn ucs2_info(units: usize, segments: usize) -> SegmentInfo {
        SegmentInfo {
            encoding: Encoding::Ucs2,
            units,
            segments,
        }
    }

    #[test]
    fn otp_message() {
        let base = "Your code is 123456";
        assert_eq!(analyze(base), gsm_info(19, 1));
        assert_eq!(analyze(&format!("{base}€")), gsm_info(21, 1));
        let curly = format!("{base}\u{2019}");
        assert_eq!(analyze(&curly), ucs2_info(20, 1));
        assert!(!is_gsm7(&curly));
        assert!(fits_one_segment(base));
    }

    #[test]
    fn empty_is_one_gsm_segment() {
        assert_eq!(analyze(""), gsm_info(0, 1));
        assert!(is_gsm7(""));
        assert!(fits_one_segment(""));
    }

    #[test]
    fn table_costs() {
        for c in BASIC.iter().copied().filter(|&c| c != ESC) {
            assert_eq!(gsm7_septets(c), Some(1), "basic {c:?}");
        }
        for c in EXTENSION {
            assert_eq!(gsm7_septets(c), Some(2), "extension {c:?}");
        }
        assert_eq!(gsm7_septets(ESC), None);
    }

    #[test]
    fn match_agrees_with_tables_for_every_char() {
        // Catches a char accepted by the match but missing from the tables.
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let expected = if c == ESC {
                None
            } else if BASIC.contains(&c) {
                Some(1)
            } else if EXTENSION.contains(&c) {
                Some(2)
            } else {
                None
            };
            assert_eq!(gsm7_septets(c), expected, "{c:?}");
        }
    }

    #[test]
    fn cedilla_case() {
        assert!(is_gsm7("Ç"));
        assert!(!is_gsm7("ç"));
        assert_eq!(analyze("ç").encoding, Encoding::Ucs2);
        assert!(!is_gsm7("`"));
    }

    #[test]
    fn gsm7_single_boundary() {
        assert_eq!(analyze(&"a".repeat(160)), gsm_info(160, 1));
        assert_eq!(analyze(&"a".repeat(161)), gsm_info(161, 2));
        assert_eq!(analyze(&format!("{}€", "a".repeat(159))), gsm_info(161, 2));
        assert_eq!(analyze(&format!("{}€", "a".repeat(158))), gsm_info(160, 1));
        assert!(fits_one_segment(&"a".repeat(160)));
        assert!(!fits_one_segment(&"a".repeat(161)));
    }

    #[test]
    fn ucs2_single_boundary() {
        assert_eq!(analyze(&"ж".repeat(70)), ucs2_info(70, 1));
        assert_eq!(analyze(&"ж".repeat(71)), ucs2_info(71, 2));
        assert_eq!(analyze("😀"), ucs2_info(2, 1));
        assert_eq!(analyze(&format!("{}😀", "ж".repeat(69))), ucs2_info(71, 2));
    }

    #[test]
    fn multipart() {
        assert_eq!(analyze(&"a".repeat(306)), gsm_info(306, 2));
        assert_eq!(analyze(&"a".repeat(307)), gsm_info(307, 3));
        assert_eq!(analyze(&"ж".repeat(134)), ucs2_info(134, 2));
        assert_eq!(analyze(&"ж".repeat(135)), ucs2_info(135, 3));
    }

    #[test]
    fn esc_pair_not_split() {
        // 306 septets would fit 2 parts, but the € cannot straddle 153/154:
        // part 1 = 152, part 2 = € + 151 = 153, part 3 = the last 'a'.
        let straddle = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(analyze(&straddle), gsm_info(306, 3));
        // Same total with the € fully inside part 1 still needs only 2.
        let inside = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(analyze(&inside), gsm_info(306, 2));
    }

    fn gsm_char() -> impl Strategy<Value = char> {
        let all: Vec<char> = BASIC
            .iter()
            .copied()
            .filter(|&c| c != ESC)
            .chain(EXTENSION)
            .collect();
        proptest::sample::select(all)
    }

    proptest! {
        #[test]
        fn gsm_strings(chars in proptest::collection::vec(gsm_char(), 0..400)) {
            let text: String = chars.iter().collect();
            let info = analyze(&text);
            let sum: usize = chars.iter().map(|&c| gsm7_septets(c).unwrap()).sum();
            prop_assert_eq!(info.encoding, Encoding::Gsm7);
            prop_assert_eq!(info.units, sum);
            prop_assert!(is_gsm7(&text));
            // ESC packing can only add parts, and at most one per boundary.
            if sum > GSM7_SINGLE {
                prop_assert!(info.segments >= sum.div_ceil(GSM7_MULTI));
                prop_assert!(info.segments <= sum.div_ceil(GSM7_MULTI - 1));
            } else {
                prop_assert_eq!(info.segments, 1);
            }
        }

        #[test]
        fn non_gsm_strings(
            chars in proptest::collection::vec(gsm_char(), 0..200),
            extra in any::<char>().prop_filter("non-GSM", |c| gsm7_septets(*c).is_none()),
            at in any::<prop::sample::Index>(),
        ) {
            let mut chars = chars;
            chars.insert(at.index(chars.len() + 1), extra);
            let text: String = chars.iter().collect();
            let info = analyze(&text);
            let units = text.encode_utf16().count();
            prop_assert_eq!(info.encoding, Encoding::Ucs2);
            prop_assert_eq!(info.units, units);
            prop_assert!(!is_gsm7(&text));
            let expected = if units <= UCS2_SINGLE { 1 } else { units.div_ceil(UCS2_MULTI) };
            prop_assert_eq!(info.segments, expected);
        }
    }
}
